"""Synthetic exports with known effects, for tests, power analysis and benchmarks.

The generative model (one row per main trial ``i`` of participant ``p`` on
stimulus ``s`` in condition ``c``)::

    forward:       P(answer == predicted) = logistic(intercept + effect[c]
                                                    + wrong_shift * (1 - model_correct[s])
                                                    + u[p] + v[s])
    verification:  P(answer "yes") = Phi(+-dprime[c] / 2 - criterion[c])   (+ if model right)
    log rt_ms     = log_rt_mean + log_rt_effect[c] + a[p] + b[s] + e
    u ~ N(0, sd_participant^2), v ~ N(0, sd_stimulus^2)

With ``faithfulness`` every main stimulus carries the bundle's faithfulness numbers
(deletion AOPC uniform on [0.05, 0.65], the decision kept on the audible heatmap
with probability 0.7, the rest derived from a heard probability), and the forward
log-odds gain ``aopc_effect * z[s] + kept_effect * decision_kept[s]``, ``z`` the
deletion AOPC standardised across the stimuli.

Condition is between participants (balanced, shuffled). Frames are written with
exactly the columns of ``contracts.export_format`` so a contract test that reads
them back is meaningful.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from analysis.io import write_export
from contracts import export_format as ef

_START = pd.Timestamp("2026-01-05T09:00:00Z")
_DIGITS = np.array([str(d) for d in range(10)])


@dataclass(frozen=True)
class SimulationSpec:
    """Parameters of a simulated study (log-odds and log-ms scales).

    ``effects``, ``dprime``, ``criterion`` and ``log_rt_effects`` have one entry per
    condition (the first condition is the reference). Rates are per participant.
    """

    n_participants: int = 40
    n_trials: int = 40
    n_stimuli: int = 80
    conditions: tuple[str, ...] = ("visual", "audible")
    intercept: float = 0.4
    effects: tuple[float, ...] = (0.0, 0.4)
    wrong_shift: float = 0.0
    sd_participant: float = 0.8
    sd_stimulus: float = 0.5
    verification_fraction: float = 0.0
    dprime: tuple[float, ...] = (1.0, 1.4)
    criterion: tuple[float, ...] = (0.0, 0.0)
    log_rt_mean: float = 7.8
    log_rt_effects: tuple[float, ...] = (0.0, 0.1)
    n_practice: int = 2
    n_catch: int = 2
    inattentive_rate: float = 0.0
    screen_fail_rate: float = 0.0
    incomplete_rate: float = 0.0
    fast_rate: float = 0.0
    pilot_fraction: float = 0.0
    declined_rate: float = 0.0
    with_events: bool = True
    faithfulness: bool = False
    aopc_effect: float = 0.0
    kept_effect: float = 0.0
    within: bool = False  # each main trial's condition drawn at random (within participants)
    method: str = "lrp-epsilon-plus-flat"
    study: str = "simulated"
    seed: int = 0

    def __post_init__(self) -> None:
        k = len(self.conditions)
        for name in ("effects", "dprime", "criterion", "log_rt_effects"):
            if len(getattr(self, name)) != k:
                raise ValueError(f"SimulationSpec.{name} needs one value per condition ({k})")
        if self.n_trials > self.n_stimuli:
            raise ValueError("SimulationSpec: n_trials cannot exceed n_stimuli (no repeats)")
        if self.n_participants < 1 or self.n_trials < 1:
            raise ValueError("SimulationSpec: n_participants and n_trials must be positive")

    def to_dict(self) -> dict[str, object]:
        """The spec as plain JSON-able values (recorded in outputs)."""
        return asdict(self)


@dataclass(frozen=True)
class SimulatedStudy:
    """The three export frames of a simulated study plus its random effects."""

    trials: pd.DataFrame
    participants: pd.DataFrame
    events: pd.DataFrame
    spec: SimulationSpec


def _modality(condition: str) -> str:
    return condition if condition in ef.MODALITIES else "visual"


def _stimuli(rng: np.random.Generator, spec: SimulationSpec) -> pd.DataFrame:
    n = spec.n_stimuli
    true = rng.integers(0, 10, n)
    right = np.arange(n) % 2 == 0  # balanced: half the model's decisions are right
    rng.shuffle(right)
    wrong = (true + rng.integers(1, 10, n)) % 10
    predicted = np.where(right, true, wrong)
    speakers = rng.integers(1, 61, n)
    ids = np.array([f"s{i:04d}" for i in range(n)])
    return pd.DataFrame(
        {
            **_faithfulness(rng, spec),
            "stimulus": ids,
            "source_recording": [
                f"{t}_{sp:02d}_{k}"
                for t, sp, k in zip(true, speakers, rng.integers(0, 50, n), strict=False)
            ],
            "speaker": [f"{sp:02d}" for sp in speakers],
            "true_label": _DIGITS[true],
            "predicted_label": _DIGITS[predicted],
            "model_correct": right,
            "v": rng.normal(0.0, spec.sd_stimulus, n),
            "b_rt": rng.normal(0.0, 0.15, n),
        }
    )


def _faithfulness(rng: np.random.Generator, spec: SimulationSpec) -> dict[str, np.ndarray]:
    """The stimuli's faith_* columns and their shift of the forward log-odds (``faith_logit``)."""
    n = spec.n_stimuli
    if not spec.faithfulness:
        empty = {
            f"{ef.FAITH_PREFIX}{key}": np.full(n, None) for key, _, _ in ef.FAITHFULNESS_FIELDS
        }
        return {**empty, "faith_logit": np.zeros(n)}
    aopc = rng.uniform(0.05, 0.65, n)
    kept = rng.random(n) < 0.7
    p = 0.82  # the explained class's probability on the clip
    heard = np.where(kept, rng.uniform(0.5, 0.95, n), rng.uniform(0.05, 0.5, n))
    z = (aopc - aopc.mean()) / aopc.std(ddof=1)
    record = {
        "deletion_aopc": aopc.round(3),
        "random_aopc": rng.uniform(0.0, 0.2, n).round(3),
        "decision_kept": kept,
        "avg_drop": (np.maximum(0.0, p - heard) / p).round(3),
        "avg_increase": (heard > p).astype(int),
        "avg_gain": (np.maximum(0.0, heard - p) / (1 - p)).round(3),
        "heard_probability": heard.round(3),
    }
    return {
        **{f"{ef.FAITH_PREFIX}{key}": value for key, value in record.items()},
        "faith_logit": spec.aopc_effect * z + spec.kept_effect * kept,
    }


def _participants(rng: np.random.Generator, spec: SimulationSpec) -> pd.DataFrame:
    n = spec.n_participants
    cond = np.resize(np.arange(len(spec.conditions)), n)
    rng.shuffle(cond)
    flags = {
        name: rng.random(n) < getattr(spec, f"{name}_rate")
        for name in ("inattentive", "screen_fail", "incomplete", "fast", "declined")
    }
    return pd.DataFrame(
        {
            "participant": [f"p{i:06d}" for i in range(n)],
            "cond_index": cond,
            "u": rng.normal(0.0, spec.sd_participant, n),
            "a_rt": rng.normal(0.0, 0.3, n),
            "is_pilot": np.arange(n) < round(spec.pilot_fraction * n),
            "seed": rng.integers(0, 2**31 - 1, n),
            **flags,
        }
    )


def _trial_layout(
    rng: np.random.Generator, spec: SimulationSpec, people: pd.DataFrame
) -> pd.DataFrame:
    """Which participant sees which stimulus, in which position and kind."""
    n_seq = spec.n_practice + spec.n_trials + spec.n_catch
    active = people.loc[~people["declined"]].reset_index(drop=True)
    pidx = np.repeat(active.index.to_numpy(), n_seq)
    kinds = np.array(["practice"] * spec.n_practice + ["main"] * spec.n_trials)
    order = np.empty((len(active), n_seq), dtype=object)
    main_stim = np.argsort(rng.random((len(active), spec.n_stimuli)), axis=1)[:, : spec.n_trials]
    position = np.tile(np.arange(1, n_seq + 1), len(active))
    kind_grid = np.tile(np.concatenate([kinds, ["catch"] * spec.n_catch]), (len(active), 1))
    # Catch trials are spread through the main block rather than all at the end:
    # an independent random permutation of that block for every participant.
    block = kind_grid[:, spec.n_practice :]
    perm = np.argsort(rng.random(block.shape), axis=1)
    kind_grid[:, spec.n_practice :] = np.take_along_axis(block, perm, axis=1)
    order[:] = kind_grid
    stim_index = np.full((len(active), n_seq), -1)
    stim_index[order == "main"] = main_stim.ravel()
    layout = pd.DataFrame(
        {
            "pidx": pidx,
            "trial_position": position,
            "trial_kind": order.ravel().astype(str),
            "sidx": stim_index.ravel(),
        }
    )
    # Incomplete sessions stop somewhere in the main block.
    stops = np.where(
        active["incomplete"], rng.integers(spec.n_practice + 1, n_seq, len(active)), n_seq
    )
    keep = layout["trial_position"].to_numpy() <= stops[layout["pidx"].to_numpy()]
    layout = layout.loc[keep].reset_index(drop=True)
    layout["pidx"] = active["participant"].to_numpy()[layout["pidx"]]
    return layout.rename(columns={"pidx": "participant"})


def _answers(rng: np.random.Generator, spec: SimulationSpec, trials: pd.DataFrame) -> pd.DataFrame:
    """Draw task, answer and correctness for every trial (vectorised)."""
    n = len(trials)
    cidx = trials["cond_index"].to_numpy()
    main = (trials["trial_kind"] == "main").to_numpy()
    verification = main & (rng.random(n) < spec.verification_fraction)
    logit = (
        spec.intercept
        + np.asarray(spec.effects)[cidx]
        + trials["u"].to_numpy()
        + trials["v"].to_numpy()
        + spec.wrong_shift * ~trials["model_correct"].to_numpy()
        + trials["faith_logit"].to_numpy()
    )
    forward_ok = rng.random(n) < expit(logit)
    right = trials["model_correct"].to_numpy()
    half_d = np.asarray(spec.dprime)[cidx] / 2.0
    p_yes = norm.cdf(np.where(right, half_d, -half_d) - np.asarray(spec.criterion)[cidx])
    says_yes = rng.random(n) < p_yes
    catch_ok = rng.random(n) < np.where(trials["inattentive"].to_numpy(), 0.3, 0.97)
    practice_ok = rng.random(n) < 0.7
    correct = np.select(
        [verification, main, trials["trial_kind"].eq("catch").to_numpy()],
        [says_yes == right, forward_ok, catch_ok],
        practice_ok,
    )
    predicted = trials["predicted_label"].to_numpy().astype(int)
    other = (predicted + rng.integers(1, 10, n)) % 10
    forward_answer = _DIGITS[np.where(correct, predicted, other)]
    answer = np.where(verification, np.where(says_yes, "yes", "no"), forward_answer)
    return trials.assign(
        task=np.where(verification, "verification", "forward"),
        answer=answer,
        answer_correct=correct.astype(bool),
        # A single-explanation design on the bundle's one model.
        design="single",
        explanation_only=False,
        model_id="",
        partner_stimulus=None,
        partner_method=None,
        partner_model_id=None,
        **{f"{ef.PARTNER_FAITH_PREFIX}{key}": None for key, _, _ in ef.FAITHFULNESS_FIELDS},
    )


def _timing(rng: np.random.Generator, spec: SimulationSpec, trials: pd.DataFrame) -> pd.DataFrame:
    n = len(trials)
    cidx = trials["cond_index"].to_numpy()
    log_rt = (
        spec.log_rt_mean
        + np.asarray(spec.log_rt_effects)[cidx]
        + trials["a_rt"].to_numpy()
        + trials["b_rt"].to_numpy()
        + rng.normal(0.0, 0.4, n)
    )
    rt = np.exp(log_rt)
    fast = trials["fast"].to_numpy()
    rt = np.where(fast, rng.uniform(120.0, 280.0, n), rt).round(1)
    server_rt = (rt + rng.uniform(40.0, 400.0, n)).round(1)
    modality = trials["modality"].to_numpy()
    plays_orig = 1 + rng.poisson(0.3, n)
    audible = np.isin(modality, ("audible", "both"))
    plays_expl = np.where(audible, 1 + rng.poisson(0.4, n), 0)
    # Confidence tracks accuracy, so calibration is informative but imperfect.
    conf = np.clip(rng.normal(55 + 20 * trials["answer_correct"].to_numpy(), 18, n), 0, 100).round()
    rating = np.clip(
        np.round(rng.normal(4 + 0.4 * cidx + 0.5 * trials["answer_correct"].to_numpy(), 1.3, n)),
        1,
        7,
    )
    rated = (trials["trial_kind"] == "main").to_numpy()
    return trials.assign(
        rt_ms=rt,
        server_rt_ms=server_rt,
        plays_original=plays_orig,
        plays_explanation=plays_expl,
        focus_losses=0,
        hidden_count=0,
        hidden_ms=0.0,
        log_span_ms=np.nan,  # (no event log is simulated with the trial rows)
        flag_fast=rt < 200.0,
        flag_log_implausible=False,
        confidence=np.where(rated, conf, np.nan),
        rating=np.where(rated, rating, np.nan),
        _cum_ms=server_rt + 1500.0,
    )


def simulate_study(spec: SimulationSpec) -> SimulatedStudy:
    """Simulate every frame of an export (columns exactly as the contract).

    Returns
    -------
    SimulatedStudy with ``trials`` (TRIAL_COLUMNS), ``participants``
    (PARTICIPANT_COLUMNS) and ``events`` (EVENT_COLUMNS).
    """
    rng = np.random.default_rng(spec.seed)
    stimuli = _stimuli(rng, spec)
    people = _participants(rng, spec)
    layout = _trial_layout(rng, spec, people)
    trials = layout.merge(people, on="participant", how="left")
    if spec.within:
        trials["cond_index"] = rng.integers(0, len(spec.conditions), len(trials))
    trials = _attach_stimuli(trials, stimuli, spec)
    trials = _timing(rng, spec, _answers(rng, spec, trials))
    trials = _stamp_times(trials, people)
    participant_frame = _participant_rows(rng, spec, people, trials)
    events = _events(trials, spec) if spec.with_events else _empty(ef.EVENT_COLUMNS)
    return SimulatedStudy(trials[ef.column_names(ef.TRIALS_FILE)], participant_frame, events, spec)


def _attach_stimuli(
    trials: pd.DataFrame, stimuli: pd.DataFrame, spec: SimulationSpec
) -> pd.DataFrame:
    sidx = trials["sidx"].to_numpy()
    is_main = sidx >= 0
    picked = stimuli.iloc[np.where(is_main, sidx, 0)].reset_index(drop=True)
    n = len(trials)
    kind = trials["trial_kind"].to_numpy().astype(str)
    label = _DIGITS[(trials["trial_position"].to_numpy() * 7) % 10]
    # Practice and catch trials use their own stimuli (not in the main pool).
    own_id = np.char.add(np.char.add(kind.astype(str), "-"), label.astype(str))
    fallback = {
        "stimulus": own_id,
        "source_recording": own_id,
        "speaker": np.full(n, ""),
        "true_label": label,
        "predicted_label": label,
    }
    for column, other in fallback.items():
        trials[column] = np.where(is_main, picked[column].to_numpy(), other)
    trials["model_correct"] = np.where(is_main, picked["model_correct"].to_numpy(), True)
    trials["v"] = np.where(is_main, picked["v"].to_numpy(), 0.0)
    trials["faith_logit"] = np.where(is_main, picked["faith_logit"].to_numpy(), 0.0)
    for key, _, _ in ef.FAITHFULNESS_FIELDS:  # practice and catch stimuli have none
        name = f"{ef.FAITH_PREFIX}{key}"
        trials[name] = pd.Series(picked[name].to_numpy(), dtype=object).where(is_main, None)
    trials["b_rt"] = np.where(is_main, picked["b_rt"].to_numpy(), 0.0)
    conditions = np.asarray(spec.conditions)
    trials["condition"] = conditions[trials["cond_index"].to_numpy()]
    trials["modality"] = [_modality(c) for c in trials["condition"]]
    trials["method"] = spec.method
    trials["study"] = spec.study
    return trials


def _stamp_times(trials: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    start = _START + pd.to_timedelta(np.arange(len(people)) * 37.0, unit="s")
    start_of = pd.Series(start, index=people["participant"])
    cum = trials.groupby("participant", sort=False)["_cum_ms"].cumsum().to_numpy()
    base = pd.DatetimeIndex(start_of.reindex(trials["participant"]))
    answered = base + pd.to_timedelta(60_000 + cum, unit="ms")
    presented = answered - pd.to_timedelta(trials["server_rt_ms"].to_numpy(), unit="ms")
    return trials.assign(answered_at=answered, presented_at=presented)


def _participant_rows(
    rng: np.random.Generator, spec: SimulationSpec, people: pd.DataFrame, trials: pd.DataFrame
) -> pd.DataFrame:
    n = len(people)
    answered = trials.loc[trials["trial_kind"] != "practice"]
    counts = answered.groupby("participant").size().reindex(people["participant"], fill_value=0)
    catch = answered.loc[answered["trial_kind"] == "catch"].groupby("participant")["answer_correct"]
    catch_total = catch.size().reindex(people["participant"], fill_value=0)
    catch_correct = catch.sum().reindex(people["participant"], fill_value=0)
    last = trials.groupby("participant")["answered_at"].max().reindex(people["participant"])
    started = _START + pd.to_timedelta(np.arange(n) * 37.0, unit="s")
    declined = people["declined"].to_numpy()
    incomplete = people["incomplete"].to_numpy()
    status = np.select([declined, incomplete], ["declined", "abandoned"], "completed")
    completed_at = pd.Series(last.to_numpy(), dtype="datetime64[ns, UTC]").where(
        status == "completed"
    )
    duration = (completed_at - pd.Series(started)).dt.total_seconds()
    screen_score = np.where(people["screen_fail"], rng.integers(0, 4, n), rng.integers(5, 7, n))
    return pd.DataFrame(
        {
            "study": spec.study,
            "participant": people["participant"],
            "is_pilot": people["is_pilot"],
            "condition": np.where(
                declined, None, np.asarray(spec.conditions)[people["cond_index"]]
            ),
            "status": status,
            "seed": people["seed"],
            "consent_version": np.where(declined, None, "1.0"),
            "started_at": started,
            "completed_at": completed_at,
            "duration_s": duration.round(1),
            "age_range": np.where(
                declined, None, rng.choice(["18-24", "25-34", "35-44", "45-64", "65+"], n)
            ),
            "hearing_problems": np.where(
                declined,
                None,
                rng.choice(["no", "yes", "prefer not to say"], n, p=[0.85, 0.1, 0.05]),
            ),
            "native_language": np.where(declined, None, rng.choice(["en", "de", "es", "fr"], n)),
            "audio_device": np.where(
                declined, None, rng.choice(["headphones", "speakers"], n, p=[0.8, 0.2])
            ),
            "screening_passed": pd.Series(
                np.where(declined, None, screen_score >= 4), dtype="boolean"
            ),
            "screening_score": pd.Series(np.where(declined, np.nan, screen_score)),
            "n_trials_answered": counts.to_numpy(),
            "catch_total": catch_total.to_numpy(),
            "catch_correct": catch_correct.to_numpy().astype(int),
        }
    )[ef.column_names(ef.PARTICIPANTS_FILE)]


def _events(trials: pd.DataFrame, spec: SimulationSpec) -> pd.DataFrame:
    """One play and one ended event per playback start, per player."""
    frames = []
    for media, column in (("original", "plays_original"), ("explanation", "plays_explanation")):
        reps = trials[column].to_numpy()
        picked = trials.loc[np.repeat(trials.index.to_numpy(), reps)]
        k = np.concatenate([np.arange(r) for r in reps]) if len(reps) else np.array([], int)
        base = 200.0 + 1500.0 * k
        for event, offset, media_time in (("play", 0.0, 0.0), ("ended", 900.0, 0.9)):
            frames.append(
                pd.DataFrame(
                    {
                        "study": spec.study,
                        "participant": picked["participant"].to_numpy(),
                        "trial_position": picked["trial_position"].to_numpy(),
                        "stimulus": picked["stimulus"].to_numpy(),
                        "media": media,
                        "event": np.where((k > 0) & (event == "play"), "replay", event),
                        "client_ms": base + offset,
                        "media_time_s": media_time,
                    }
                )
            )
    events = pd.concat(frames, ignore_index=True)
    return events.sort_values(
        ["participant", "trial_position", "client_ms"], kind="stable"
    ).reset_index(drop=True)


def _empty(columns: tuple[ef.Column, ...]) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=object) for c in columns})


def simulate_export(
    path: str | os.PathLike[str], spec: SimulationSpec, *, overwrite: bool = False
) -> Path:
    """Simulate a study and write it as an export v1 folder; returns the folder."""
    study = simulate_study(spec)
    return write_export(
        path,
        trials=study.trials,
        participants=study.participants,
        events=study.events,
        study=spec.study,
        title=f"Simulated study (seed {spec.seed})",
        overwrite=overwrite,
    )


def simulate_accuracy_trials(
    rng: np.random.Generator,
    *,
    n_participants: int,
    n_trials: int,
    n_stimuli: int,
    intercept: float,
    effect: float,
    sd_participant: float,
    sd_stimulus: float,
    conditions: tuple[str, str] = ("visual", "audible"),
    log_rt_effect: float = 0.0,
    within: bool = False,
) -> pd.DataFrame:
    """Minimal forward-simulation trials of a two-condition study.

    The same model as ``simulate_study`` without the rest of the export, fast
    enough for thousands of replications (power and coverage studies).
    Between participants (default), each participant is in one condition (balanced);
    ``within``, each participant's trials are split evenly between the two
    conditions in a random order.

    Returns
    -------
    DataFrame with ``participant`` (int), ``stimulus`` (int), ``condition`` (str),
    ``answer_correct`` (bool), ``rt_ms`` (log-normal, condition effect
    ``log_rt_effect`` on the log scale, participant SD 0.3, stimulus SD 0.15,
    residual SD 0.4); n_participants * n_trials rows.
    """
    if n_trials > n_stimuli:
        raise ValueError("n_trials cannot exceed n_stimuli (no repeats)")
    cond = np.resize(np.array([0, 1]), n_participants)
    rng.shuffle(cond)
    u = rng.normal(0.0, sd_participant, n_participants)
    v = rng.normal(0.0, sd_stimulus, n_stimuli)
    stim = np.argsort(rng.random((n_participants, n_stimuli)), axis=1)[:, :n_trials].ravel()
    person = np.repeat(np.arange(n_participants), n_trials)
    trial_cond = cond[person]
    if within:
        order = np.argsort(rng.random((n_participants, n_trials)), axis=1)
        trial_cond = np.resize(np.array([0, 1]), n_trials)[order].ravel()
    eta = intercept + effect * trial_cond + u[person] + v[stim]
    correct = rng.random(len(eta)) < expit(eta)
    log_rt = (
        7.8
        + log_rt_effect * trial_cond
        + rng.normal(0.0, 0.3, n_participants)[person]
        + rng.normal(0.0, 0.15, n_stimuli)[stim]
        + rng.normal(0.0, 0.4, len(eta))
    )
    return pd.DataFrame(
        {
            "participant": person,
            "stimulus": stim,
            "condition": np.asarray(conditions)[trial_cond],
            "answer_correct": correct,
            "rt_ms": np.exp(log_rt),
        }
    )


def marginal_accuracy(intercept: float, sd_total: float) -> float:
    """Population-average accuracy E[logistic(intercept + e)], e ~ N(0, sd_total^2),
    by 40-point Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    return float(np.sum(weights * expit(intercept + sd_total * nodes)) / np.sqrt(2 * np.pi))


def simulate_slope_trials(
    rng: np.random.Generator,
    *,
    n_participants: int,
    n_trials: int,
    n_stimuli: int,
    effects: Sequence[float],
    stimulus_factor: np.ndarray,
    sd_participant: float = 0.8,
    within: bool = False,
) -> pd.DataFrame:
    """Forward-simulation trials with random slopes of condition by stimulus.

    logit P(correct) = effects[c] + u_p + z_c' v_s with u_p ~ N(0, sd_participant^2)
    and v_s = L e_s, e_s ~ N(0, I), L = ``stimulus_factor`` (q, q lower triangular,
    q = len(effects)); z_c = (1, dummies of c) and effects[0] is the intercept, so
    the model is ``glmer(y ~ condition + (1 | participant) + (1 + condition | stimulus))``.
    ``within``: each trial's condition is drawn at random (within participants);
    otherwise participants are assigned to conditions in turn (between).

    Returns
    -------
    DataFrame with ``participant``, ``stimulus`` (int), ``condition`` (``c0``,
    ``c1``, ...), ``answer_correct`` (bool); n_participants * n_trials rows.
    """
    q = len(effects)
    person = np.repeat(np.arange(n_participants), n_trials)
    stim = rng.integers(0, n_stimuli, len(person))
    cond = rng.integers(0, q, len(person)) if within else (np.arange(n_participants) % q)[person]
    u = rng.normal(0.0, sd_participant, n_participants)
    v = rng.normal(size=(n_stimuli, q)) @ np.asarray(stimulus_factor).T
    beta = np.asarray(effects, float)
    eta = beta[0] + np.where(cond > 0, beta[cond], 0.0) + u[person] + v[stim, 0]
    eta += np.where(cond > 0, v[stim, cond], 0.0)
    return pd.DataFrame(
        {
            "participant": person,
            "stimulus": stim,
            "condition": np.char.add("c", cond.astype(str)),
            "answer_correct": rng.random(len(eta)) < expit(eta),
        }
    )


def simulate_verification_trials(
    rng: np.random.Generator,
    dprime: Sequence[float],
    criterion: Sequence[float],
    *,
    n_participants: int = 90,
    n_trials: int = 40,
    n_stimuli: int = 60,
    sd_participant: float = 0.4,
    sd_stimulus: float = 0.3,
) -> pd.DataFrame:
    """Yes/no verification answers from the hierarchical SDT model of ``analysis.sdt``.

    P("yes") = Phi(d'_c s - c_c + a_p + b_s), s = +1/2 on stimuli where the model
    is right (even stimulus numbers) and -1/2 elsewhere; a_p ~ N(0,
    sd_participant^2) and b_s ~ N(0, sd_stimulus^2) shift the criterion; each
    trial's condition is drawn at random (within participants).

    Returns
    -------
    DataFrame with ``participant``, ``stimulus`` (int), ``condition`` (``c0``, ...),
    ``model_correct`` (bool), ``answer`` ("yes"/"no").
    """
    person = np.repeat(np.arange(n_participants), n_trials)
    stim = rng.integers(0, n_stimuli, len(person))
    cond = rng.integers(0, len(dprime), len(person))
    right = stim % 2 == 0
    eta = (
        np.asarray(dprime)[cond] * np.where(right, 0.5, -0.5)
        - np.asarray(criterion)[cond]
        + rng.normal(0, sd_participant, n_participants)[person]
        + rng.normal(0, sd_stimulus, n_stimuli)[stim]
    )
    yes = rng.random(len(eta)) < norm.cdf(eta)
    return pd.DataFrame(
        {
            "participant": person,
            "stimulus": stim,
            "condition": np.char.add("c", cond.astype(str)),
            "model_correct": right,
            "answer": np.where(yes, "yes", "no"),
        }
    )


def simulate_rating_trials(
    rng: np.random.Generator,
    effects: Sequence[float],
    *,
    cuts: Sequence[float] = (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5),
    n_participants: int = 60,
    n_trials: int = 30,
    n_stimuli: int = 40,
    sd_participant: float = 0.8,
    sd_stimulus: float = 0.5,
) -> pd.DataFrame:
    """Likert ratings from the cumulative-logit mixed model of ``analysis.ordinal``.

    logit P(rating <= k) = cuts[k-1] - (effects[c] + u_p + v_s), u_p ~ N(0,
    sd_participant^2), v_s ~ N(0, sd_stimulus^2); ``effects[0]`` should be 0 (the
    reference condition), and ratings run from 1 to len(cuts) + 1. Each trial's
    condition is drawn at random (within participants).

    Returns
    -------
    DataFrame with ``participant``, ``stimulus`` (int), ``condition`` (``c0``, ...)
    and ``rating`` (float); n_participants * n_trials rows.
    """
    person = np.repeat(np.arange(n_participants), n_trials)
    stim = rng.integers(0, n_stimuli, len(person))
    cond = rng.integers(0, len(effects), len(person))
    eta = (
        np.asarray(effects, float)[cond]
        + rng.normal(0, sd_participant, n_participants)[person]
        + rng.normal(0, sd_stimulus, n_stimuli)[stim]
    )
    latent = eta + rng.logistic(size=len(eta))
    return pd.DataFrame(
        {
            "participant": person,
            "stimulus": stim,
            "condition": np.char.add("c", cond.astype(str)),
            "rating": 1.0 + np.searchsorted(np.asarray(cuts, float), latent),
        }
    )
