"""Exclusion rules declared in a small config file, applied in a fixed, reported order.

Example ``exclusions.toml`` (every key optional; the values shown are the defaults)::

    [exclusions]
    exclude_pilot = true            # drop data collected in pilot mode
    require_complete = true         # drop sessions whose status is not "completed"
    require_screening_pass = true   # drop participants who failed the headphone screen
    max_catch_fail_rate = 0.5       # drop participants failing more than this share of catch trials
    min_rt_ms = 250                 # trials answered faster than this are implausible
    max_fast_trial_rate = 0.25      # drop participants with more than this share of fast trials

A rule set to ``false`` (booleans) or omitted by writing ``-1`` (numbers) is off.
JSON files with the same keys (top level or under ``"exclusions"``) work too.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from analysis._checks import check_columns


@dataclass(frozen=True)
class ExclusionConfig:
    """Which exclusion rules apply (``None`` switches a numeric rule off)."""

    exclude_pilot: bool = True
    require_complete: bool = True
    require_screening_pass: bool = True
    max_catch_fail_rate: float | None = 0.5
    min_rt_ms: float | None = 250.0
    max_fast_trial_rate: float | None = 0.25

    def to_dict(self) -> dict[str, object]:
        """The config as recorded in a report."""
        return asdict(self)


def load_exclusion_config(path: str | os.PathLike[str]) -> ExclusionConfig:
    """Read an exclusions config (``.toml`` or ``.json``); unknown keys are an error."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{file}: exclusions config not found")
    try:
        raw = (
            json.loads(file.read_text())
            if file.suffix == ".json"
            else tomllib.loads(file.read_text())
        )
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{file}: cannot parse ({exc})") from exc
    table = raw.get("exclusions", raw)
    if not isinstance(table, dict):
        raise ValueError(f"{file}: 'exclusions' must be a table")
    known = {f.name: f for f in fields(ExclusionConfig)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(f"{file}: unknown exclusion keys {unknown}; known are {sorted(known)}")
    values: dict[str, object] = {}
    for key, value in table.items():
        if known[key].type == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{file}: {key} must be true or false")
            values[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{file}: {key} must be a number")
            values[key] = None if value < 0 else float(value)
    return ExclusionConfig(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ExclusionResult:
    """What survived the exclusions, and how many each rule removed.

    Attributes
    ----------
    trials : main trials of the kept participants, fast trials removed.
    participants : kept participants (rows of participants.csv).
    flow : one row per step: ``step``, ``rule``, ``participants_removed``,
        ``trials_removed``, ``participants_remaining``, ``trials_remaining``
        (trials = main trials).
    excluded : ``participant``, ``rule`` for every excluded participant (first rule that hit).
    config : the rules applied.
    """

    trials: pd.DataFrame
    participants: pd.DataFrame
    flow: pd.DataFrame
    excluded: pd.DataFrame
    config: ExclusionConfig


def _participant_rules(
    participants: pd.DataFrame, trials: pd.DataFrame, config: ExclusionConfig
) -> list[tuple[str, pd.Series]]:
    """(rule label, boolean Series over participants: True = excluded), in order."""
    rules: list[tuple[str, pd.Series]] = []
    has_main = participants["participant"].isin(trials["participant"])
    rules.append(("no main trials (declined or stopped before the first trial)", ~has_main))
    if config.exclude_pilot:
        rules.append(("pilot data", participants["is_pilot"].astype(bool)))
    if config.require_complete:
        rules.append(("incomplete session", participants["status"] != "completed"))
    if config.require_screening_pass:
        rules.append(
            (
                "failed headphone screen",
                participants["screening_passed"].eq(False).fillna(False).astype(bool),
            )
        )
    if config.max_catch_fail_rate is not None:
        total = participants["catch_total"].to_numpy(float)
        failed = total - participants["catch_correct"].to_numpy(float)
        rate = np.divide(failed, total, out=np.zeros_like(total), where=total > 0)
        rules.append(
            (
                f"failed catch trials > {config.max_catch_fail_rate:g}",
                pd.Series(rate > config.max_catch_fail_rate, index=participants.index),
            )
        )
    if config.min_rt_ms is not None and config.max_fast_trial_rate is not None:
        fast = (trials["rt_ms"] < config.min_rt_ms).groupby(trials["participant"]).mean()
        share = participants["participant"].map(fast).fillna(0.0)
        rules.append(
            (
                f"fast responses (< {config.min_rt_ms:g} ms) on > {config.max_fast_trial_rate:g} of trials",
                share > config.max_fast_trial_rate,
            )
        )
    return rules


def apply_exclusions(
    trials: pd.DataFrame, participants: pd.DataFrame, config: ExclusionConfig | None = None
) -> ExclusionResult:
    """Apply the rules in order: participant rules first, then fast single trials.

    Parameters
    ----------
    trials : every trial of the export (all kinds); only main trials are kept.
    participants : participants.csv.
    config : rules; defaults to ``ExclusionConfig()``.
    """
    config = config or ExclusionConfig()
    check_columns(trials, ["participant", "trial_kind", "rt_ms"], where="trials")
    check_columns(
        participants,
        ["participant", "is_pilot", "status", "screening_passed", "catch_total", "catch_correct"],
        where="participants",
    )
    is_main = (trials["trial_kind"] == "main").to_numpy()
    # Rows are chosen by masks and copied once at the end: each copy of an
    # 850,000-trial export costs about 300 MiB.
    main = trials[["participant", "rt_ms"]].loc[is_main]
    per_person = main.groupby("participant").size()
    kept = pd.Series(True, index=participants.index)
    rows = [_flow_row("in export", 0, 0, int(kept.sum()), len(main))]
    excluded: list[pd.DataFrame] = []
    for label, hit in _participant_rules(participants, main, config):
        newly = hit.to_numpy(bool) & kept.to_numpy()
        ids = participants.loc[newly, "participant"]
        kept &= ~newly
        removed_trials = int(per_person.reindex(ids).fillna(0).sum())
        remaining = int(per_person.reindex(participants.loc[kept, "participant"]).fillna(0).sum())
        rows.append(_flow_row(label, len(ids), removed_trials, int(kept.sum()), remaining))
        excluded.append(pd.DataFrame({"participant": ids.to_numpy(), "rule": label}))
    people = participants.loc[kept].reset_index(drop=True)
    keep = is_main & trials["participant"].isin(people["participant"]).to_numpy()
    if config.min_rt_ms is not None:
        fast = keep & (trials["rt_ms"] < config.min_rt_ms).to_numpy()
        rows.append(
            _flow_row(
                f"single trials faster than {config.min_rt_ms:g} ms",
                0,
                int(fast.sum()),
                len(people),
                int((keep & ~fast).sum()),
            )
        )
        keep &= ~fast
    flow = pd.DataFrame(rows)
    flow.insert(0, "step", range(len(flow)))
    return ExclusionResult(
        trials.loc[keep].reset_index(drop=True),
        people,
        flow,
        pd.concat(excluded, ignore_index=True),
        config,
    )


def _flow_row(
    rule: str, people: int, trials: int, people_left: int, trials_left: int
) -> dict[str, object]:
    return {
        "rule": rule,
        "participants_removed": people,
        "trials_removed": trials,
        "participants_remaining": people_left,
        "trials_remaining": trials_left,
    }
