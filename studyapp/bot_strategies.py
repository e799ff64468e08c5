"""How a simulated participant answers: the positive and negative controls of a study.

``heard``
    Answers the digit it hears, as if the model decided what a person hears; it
    ignores the explanation. Its accuracy is the heard-label baseline, the same in
    every condition: a study run with it must find no explanation effect.
``explanation``
    Reads the explanation: where it shows most relevance inside the planted cue
    (``relevance_in_cue`` at least :data:`RELIANCE_SHARE`), it answers the cue's class,
    otherwise the digit it hears. Without an explanation on the trial it answers as
    ``heard``, except in a learning-then-test test block after a learning block whose
    explanations revealed the cue: then it has learned to follow the cue it hears.
    Cue detection: picks the explanation with more relevance inside the cue.
``chance``
    Answers at random.

Every strategy answers a catch trial as instructed (an attentive participant). With
probability ``lapse`` any strategy answers at random instead, as people sometimes do.
The strategies read what the explanation conveys from the bundle's ground-truth fields
(an oracle, as the bots' accuracy oracle is); they never see the model's decision.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

STRATEGIES = ("heard", "explanation", "chance")
# Share of |relevance| inside the cue span from which an explanation "points at" the cue.
RELIANCE_SHARE = 0.5


@dataclass(frozen=True)
class Shown:
    """What one explanation on the page tells about the clip."""

    cue_class: str | None  # class of the cue in the clip (None: no cue)
    relevance_in_cue: float | None


@dataclass(frozen=True)
class TrialView:
    """What a participant can know on one trial (plus the ground truth of its explanations)."""

    kind: str  # practice, pretest, learning, main, catch
    task: str  # forward, verification, model_comparison, preference
    options: tuple[str, ...]
    expected_answer: str
    heard: str | None  # the digit the participant hears (None: recording hidden, label not audible)
    explanations: tuple[Shown, ...]  # empty: no explanation on this trial
    heard_cue: str | None = None  # class of the cue heard in the recording (None: none heard)
    learned_cue: bool = False  # an earlier learning trial's explanation revealed the cue


def points_at_cue(shown: Shown) -> bool:
    return shown.cue_class is not None and (shown.relevance_in_cue or 0.0) >= RELIANCE_SHARE


def _believed_decision(strategy: str, view: TrialView, rng: random.Random) -> str:
    """The class the participant believes the model decided."""
    if strategy == "explanation":
        shown = view.explanations[0] if view.explanations else None
        if shown is not None and points_at_cue(shown):
            return str(shown.cue_class)
        if shown is None and view.learned_cue and view.heard_cue is not None:
            # The cue is audible: having learned that the model follows it, follow it too.
            return view.heard_cue
    if view.heard is not None:
        return view.heard
    return rng.choice([o for o in view.options if o not in {"yes", "no"}] or list(view.options))


def strategy_answer(
    *, strategy: str, view: TrialView, rng: random.Random, lapse: float = 0.0
) -> str:
    """The answer a participant following ``strategy`` gives on ``view``."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if view.kind == "catch" and view.expected_answer in view.options:
        return view.expected_answer
    if strategy == "chance" or rng.random() < lapse:
        return rng.choice(view.options)
    if view.task in {"model_comparison", "preference"}:
        if strategy == "explanation" and view.task == "model_comparison":
            shares = [s.relevance_in_cue or 0.0 for s in view.explanations]
            if len(shares) == 2 and shares[0] != shares[1]:
                return view.options[0] if shares[0] > shares[1] else view.options[1]
        return rng.choice(view.options)  # hearing the same clip twice cannot tell them apart
    believed = _believed_decision(strategy, view, rng)
    if view.task == "verification":
        # "Was the model right?": yes when the believed decision is the digit heard.
        return "yes" if view.heard is None or believed == view.heard else "no"
    return believed
