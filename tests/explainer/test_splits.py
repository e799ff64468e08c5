"""Speaker-disjoint splits: the paper's exactly, and generic ones for other corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explainer.errors import UserError
from explainer.splits import Split, paper_splits, resolve_splits, rotating_splits, stratified_folds

REFERENCE = Path(__file__).with_name("reference") / "audiomnist_splits.json"
FEMALE = {12, 26, 28, 36, 43, 47, 52, 56, 57, 58, 59, 60}
ALL_SPEAKERS = {f"{i:02d}": ("female" if i in FEMALE else "male") for i in range(1, 61)}


def _assert_disjoint(split: Split) -> None:
    train, validate, test = set(split.train), set(split.validate), set(split.test)
    assert not (train & validate) and not (train & test) and not (validate & test)
    assert len(split.speakers) == len(train | validate | test)


@pytest.mark.parametrize("task", ["digit", "sex"])
def test_the_paper_splits_are_exactly_those_of_the_reference_file(task: str) -> None:
    reference = json.loads(REFERENCE.read_text())[task]
    splits = paper_splits(task)
    assert len(splits) == len(reference["train"])
    for i, split in enumerate(splits):
        for part in ("train", "validate", "test"):
            assert [int(s) for s in getattr(split, part)] == reference[part][i]


@pytest.mark.parametrize(("task", "sizes"), [("digit", (36, 12, 12)), ("sex", (12, 6, 6))])
def test_no_speaker_crosses_parts_in_the_paper_splits(
    task: str, sizes: tuple[int, int, int]
) -> None:
    splits = paper_splits(task)
    for split in splits:
        _assert_disjoint(split)
        assert (len(split.train), len(split.validate), len(split.test)) == sizes
    # Each speaker is tested exactly once over the splits.
    tested = [s for split in splits for s in split.test]
    assert len(tested) == len(set(tested)) == len(splits[0].speakers)


def test_the_paper_sex_splits_use_the_twelve_women_and_twelve_men() -> None:
    for split in paper_splits("sex"):
        sexes = [ALL_SPEAKERS[s] for s in split.speakers]
        assert sexes.count("female") == sexes.count("male") == 12
        assert [ALL_SPEAKERS[s] for s in split.test].count("female") == 3


@settings(max_examples=60, deadline=None)
@given(
    n_female=st.integers(1, 15),
    n_male=st.integers(1, 40),
    seed=st.integers(0, 2**31),
    task=st.sampled_from(["digit", "sex"]),
)
def test_no_speaker_crosses_parts_in_generic_splits(
    n_female: int, n_male: int, seed: int, task: str
) -> None:
    sexes = {f"{i:02d}": "female" for i in range(n_female)} | {
        f"{i:02d}": "male" for i in range(50, 50 + n_male)
    }
    n_folds = 5 if task == "digit" else 4
    try:
        splits = rotating_splits(sexes, task=task, seed=seed)
    except UserError:
        # Only when some fold would be empty.
        usable = len(sexes) if task == "digit" else 2 * min(n_female, n_male)
        assert usable < n_folds
        return
    for split in splits:
        _assert_disjoint(split)
    tested = [s for split in splits for s in split.test]
    assert len(tested) == len(set(tested))


def test_generic_folds_share_each_sex_as_evenly_as_possible() -> None:
    sexes = {f"{i:02d}": ("female" if i % 3 == 0 else "male") for i in range(1, 31)}
    folds = stratified_folds(sexes, 5, seed=3)
    women = [sum(sexes[s] == "female" for s in fold) for fold in folds]
    assert max(women) - min(women) <= 1
    assert max(map(len, folds)) - min(map(len, folds)) <= 1


def test_generic_sex_splits_balance_the_sexes_like_the_papers() -> None:
    for split in rotating_splits(ALL_SPEAKERS, task="sex", seed=0):
        sexes = [ALL_SPEAKERS[s] for s in split.speakers]
        assert sexes.count("female") == sexes.count("male") == 12


def test_generic_splits_depend_on_the_seed_only() -> None:
    sexes = dict(list(ALL_SPEAKERS.items())[:20])
    assert rotating_splits(sexes, task="digit", seed=1) == rotating_splits(
        dict(reversed(sexes.items())), task="digit", seed=1
    )
    assert rotating_splits(sexes, task="digit", seed=1) != rotating_splits(
        sexes, task="digit", seed=2
    )


def test_auto_picks_the_paper_splits_for_the_full_dataset_and_generic_otherwise() -> None:
    assert (
        resolve_splits("auto", task="digit", speaker_sexes=ALL_SPEAKERS)[0]
        == paper_splits("digit")[0]
    )
    few = dict(list(ALL_SPEAKERS.items())[:20])
    assert resolve_splits("auto:2", task="digit", speaker_sexes=few)[0].name == "generic-seed0:2"
    assert len(resolve_splits("paper:all", task="sex", speaker_sexes=ALL_SPEAKERS)) == 4


def test_it_reads_a_split_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"train": [1, 2], "validate": ["03"], "test": [4]}))
    (split,) = resolve_splits(str(path), task="digit", speaker_sexes=ALL_SPEAKERS)
    assert (split.name, split.train, split.validate, split.test) == (
        "mine",
        ("01", "02"),
        ("03",),
        ("04",),
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("paper:7", "choose a split 0..4"),
        ("bogus", "expected paper:K"),
        ("paper:x", "choose a split"),
    ],
)
def test_it_rejects_a_bad_split_spec(spec: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        resolve_splits(spec, task="digit", speaker_sexes=ALL_SPEAKERS)


def test_the_paper_splits_need_the_papers_speakers() -> None:
    with pytest.raises(UserError, match="use --split generic"):
        resolve_splits("paper:0", task="digit", speaker_sexes=dict(list(ALL_SPEAKERS.items())[:30]))


def test_a_split_refuses_a_speaker_in_two_parts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="more than one part"):
        Split("x", ("01", "02"), ("02",), ("03",))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"train": [1], "validate": [1], "test": [2]}))
    with pytest.raises(UserError, match="bad.json"):
        resolve_splits(str(path), task="digit", speaker_sexes=ALL_SPEAKERS)
