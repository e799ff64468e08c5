"""The simulated participants' answer strategies (pure functions, no database)."""

from __future__ import annotations

import random

import pytest

from studyapp.bot_strategies import Shown, TrialView, strategy_answer

DIGITS = tuple(str(d) for d in range(10))
CUE_CLIP = Shown(cue_class="7", relevance_in_cue=0.8)


def _view(**fields: object) -> TrialView:
    base: dict[str, object] = {
        "kind": "main",
        "task": "forward",
        "options": DIGITS,
        "expected_answer": "",
        "heard": "2",
        "explanations": (CUE_CLIP,),
        "heard_cue": "7",
    }
    return TrialView(**{**base, **fields})  # type: ignore[arg-type]


def _answer(strategy: str, view: TrialView, seed: int = 0) -> str:
    return strategy_answer(strategy=strategy, view=view, rng=random.Random(seed))


def test_a_heard_bot_answers_the_spoken_digit_whatever_the_explanation_shows() -> None:
    assert _answer("heard", _view()) == "2"


def test_an_explanation_bot_follows_an_explanation_that_points_at_the_cue() -> None:
    assert _answer("explanation", _view()) == "7"
    weak = _view(explanations=(Shown("7", 0.2),))
    assert _answer("explanation", weak) == "2"


def test_an_explanation_bot_without_an_explanation_answers_what_it_hears() -> None:
    assert _answer("explanation", _view(explanations=())) == "2"


def test_after_learning_that_the_model_follows_the_cue_it_follows_the_cue_it_hears() -> None:
    assert _answer("explanation", _view(explanations=(), learned_cue=True)) == "7"


def test_in_verification_a_bot_says_no_when_it_believes_the_model_missed_the_digit() -> None:
    view = _view(task="verification", options=("yes", "no"))
    assert _answer("explanation", view) == "no"
    assert _answer("heard", view) == "yes"


def test_in_cue_detection_an_explanation_bot_picks_the_explanation_with_relevance_on_the_cue() -> (
    None
):
    view = _view(
        task="model_comparison",
        options=("first", "second"),
        explanations=(Shown("7", 0.1), Shown("7", 0.8)),
    )
    assert _answer("explanation", view) == "second"


def test_every_strategy_answers_a_catch_trial_as_instructed() -> None:
    for strategy in ("heard", "explanation", "chance"):
        assert _answer(strategy, _view(kind="catch", expected_answer="4")) == "4"


def test_a_chance_bot_spreads_its_answers_over_the_options() -> None:
    answers = {_answer("chance", _view(), seed) for seed in range(200)}
    assert answers == set(DIGITS)


def test_an_unknown_strategy_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'oracle'"):
        _answer("oracle", _view())
