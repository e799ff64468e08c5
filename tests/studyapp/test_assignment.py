"""Assignment through real enrolment in the database: arms, Latin squares, dropouts, targets, replays."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studyapp.models import Bundle, Participant, Study, Trial
from studyapp.selectors.assignment import assignment_replay, unit_counts
from studyapp.services.participants import StudyUnavailable, participant_enroll
from studyapp.services.studies import study_design_report
from tests.studyapp.research_helpers import METHODS, bundle_with, enrol, study_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def crossed_bundle(media_root: Path, tmp_path: Path) -> Bundle:
    return bundle_with(tmp_path, n=30, methods=METHODS)


def _stored(participant: Participant) -> list[tuple[int, str, int, int, str]]:
    return [
        (t.position, t.kind, t.stimulus_id, t.condition_id, t.expected_answer)
        for t in Trial.objects.filter(participant=participant).order_by("position")
    ]


def test_a_within_participant_study_gives_everyone_every_condition_in_a_latin_square(
    crossed_bundle: Bundle,
) -> None:
    study = study_on(
        crossed_bundle,
        slug="within",
        modalities=("visual", "audible", "none"),
        assignment="within",
        n_trials=9,
    )
    people = [enrol(study, f"p{i}") for i in range(6)]
    assert {p.arm for p in people} == {"all"} and Counter(p.rotation for p in people) == {
        0: 2,
        1: 2,
        2: 2,
    }
    assert all(p.condition is None for p in people)
    seen: Counter = Counter()
    for person in people:
        trials = Trial.objects.filter(participant=person, kind="main").select_related(
            "stimulus", "condition"
        )
        assert Counter(t.condition.name for t in trials) == {"visual": 3, "audible": 3, "none": 3}
        seen.update((t.stimulus.source_recording, t.condition.name) for t in trials)
    recordings = {rec for rec, _ in seen}
    assert len(recordings) == 9 and set(seen.values()) == {2}, (
        "each stimulus twice in each condition"
    )


def test_a_mixed_design_splits_by_modality_and_crosses_methods_within_each_participant(
    crossed_bundle: Bundle,
) -> None:
    study = study_on(
        crossed_bundle,
        slug="mixed",
        methods=METHODS,
        method_assignment="within",
        n_trials=8,
        n_practice=2,
        n_catch=1,
    )
    people = [enrol(study, f"p{i}") for i in range(4)]
    assert Counter(p.arm for p in people) == {"visual": 2, "audible": 2}
    for person in people:
        trials = list(
            Trial.objects.filter(participant=person).select_related("stimulus", "condition")
        )
        assert all(
            t.condition.modality == person.arm and t.stimulus.method == t.condition.method
            for t in trials
        )
        assert Counter(t.condition.method for t in trials if t.kind == "main") == {
            m: 4 for m in METHODS
        }
        recordings = [t.stimulus.source_recording for t in trials]
        assert len(recordings) == len(set(recordings)) == 8 + 2 + 1


def test_replaying_a_stored_seed_reproduces_the_stored_trials(crossed_bundle: Bundle) -> None:
    study = study_on(
        crossed_bundle,
        slug="replay",
        methods=METHODS,
        method_assignment="within",
        n_trials=8,
        n_practice=2,
        n_catch=2,
    )
    for i in range(3):
        person = enrol(study, f"p{i}")
        replayed = [
            (pos, p.kind, p.stimulus.pk, p.condition.pk, p.expected_answer)
            for pos, p in enumerate(assignment_replay(participant=person), start=1)
        ]
        assert replayed == _stored(person)


def test_a_full_study_refuses_newcomers_until_an_abandoned_slot_is_released(
    crossed_bundle: Bundle,
) -> None:
    study = study_on(crossed_bundle, slug="full", target_per_condition=2, time_limit_minutes=20)
    people = [enrol(study, f"p{i}") for i in range(4)]
    with pytest.raises(StudyUnavailable):
        participant_enroll(study=study, recruitment={"participant_label": "late"})
    stale = people[1]
    Participant.objects.filter(pk=stale.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=21)
    )
    newcomer = enrol(study, "late")
    assert newcomer.arm == stale.arm
    assert unit_counts(study) == {("visual", 0): 2, ("audible", 0): 2}


def test_declined_and_screened_out_sessions_free_their_slot_and_completed_ones_keep_it(
    crossed_bundle: Bundle,
) -> None:
    study = study_on(crossed_bundle, slug="slots", target_per_condition=1)
    first = enrol(study, "a")
    second = enrol(study, "b")
    Participant.objects.filter(pk=first.pk).update(status=Participant.Status.COMPLETED)
    Participant.objects.filter(pk=second.pk).update(status=Participant.Status.SCREENED_OUT)
    third = enrol(study, "c")
    assert third.arm == second.arm
    with pytest.raises(StudyUnavailable):
        enrol(study, "d")


def test_pilot_sessions_do_not_take_live_slots(crossed_bundle: Bundle) -> None:
    study = study_on(
        crossed_bundle, slug="pilot", status=Study.Status.PILOT, target_per_condition=1
    )
    pilots = [enrol(study, f"pilot{i}") for i in range(2)]
    assert all(p.is_pilot for p in pilots)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    study.refresh_from_db()
    live = [enrol(study, f"live{i}") for i in range(2)]
    assert sorted(p.arm for p in live) == ["audible", "visual"] and not any(
        p.is_pilot for p in live
    )


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pattern=st.lists(
        st.sampled_from(["arrive", "arrive", "arrive", "abandon", "screen_out", "complete"]),
        min_size=4,
        max_size=18,
    )
)
def test_balance_holds_in_the_database_for_any_arrival_and_dropout_pattern(
    crossed_bundle: Bundle, pattern: list[str]
) -> None:
    study = study_on(
        crossed_bundle,
        slug=f"h{Study.objects.count()}",
        modalities=("visual", "audible", "both"),
        n_trials=2,
        time_limit_minutes=30,
    )
    active: list[Participant] = []
    dropped = False
    for step, event in enumerate(pattern):
        if event == "arrive":
            active.append(enrol(study, f"x{step}"))
        elif active:
            person = active.pop(step % len(active))
            if event == "abandon":
                Participant.objects.filter(pk=person.pk).update(
                    last_seen_at=timezone.now() - timedelta(hours=1)
                )
            status = {"screen_out": "screened_out", "complete": "completed"}.get(event)
            if status:
                Participant.objects.filter(pk=person.pk).update(status=status)
            dropped = dropped or event != "complete"
        holding = unit_counts(study)
        totals = [holding.get((arm, 0), 0) for arm in ("visual", "audible", "both")]
        if not dropped:
            assert max(totals) - min(totals) <= 1
    holding = unit_counts(study)
    totals = [holding.get((arm, 0), 0) for arm in ("visual", "audible", "both")]
    for i in range(sum(max(totals) - n for n in totals)):  # as many newcomers as dropouts left gaps
        enrol(study, f"late{i}")
    holding = unit_counts(study)
    totals = [holding.get((arm, 0), 0) for arm in ("visual", "audible", "both")]
    assert max(totals) - min(totals) <= 1


def test_the_design_report_names_what_the_bundle_cannot_supply(crossed_bundle: Bundle) -> None:
    study = study_on(
        crossed_bundle,
        slug="report",
        status=Study.Status.DRAFT,
        n_trials=27,
        n_catch=3,
        modalities=("visual", "audible"),
        assignment="within",
    )
    report = study_design_report(study=study)
    assert any("only 1 are left over" in e or "left over" in e for e in report.errors), report
    assert any("divide evenly" in w for w in report.warnings), report
    fine = study_design_report(study=study, conditions=[("visual", "visual", "")])
    assert not any("divide evenly" in w for w in fine.warnings)


def test_the_design_report_warns_when_a_multi_method_bundle_is_used_without_naming_a_method(
    crossed_bundle: Bundle,
) -> None:
    study = study_on(crossed_bundle, slug="nomethod", status=Study.Status.DRAFT)
    assert any("names none" in w for w in study_design_report(study=study).warnings)
    named = study_design_report(study=study, conditions=[("visual", "visual", METHODS[0])])
    assert not any("names none" in w for w in named.warnings)
