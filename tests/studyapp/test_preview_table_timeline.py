"""The preview's trial table and the participant timeline, through the real staff pages."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import Bundle, Participant, Response
from studyapp.selectors.assignment import assignment_replay
from tests.studyapp.research_helpers import answer, bundle_with, enrol, listened, study_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(media_root: Path, tmp_path: Path) -> Bundle:
    return bundle_with(tmp_path, n=30)


def test_the_trial_table_lists_what_enrolment_would_plan_and_downloads_as_csv(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(bundle, slug="table", n_practice=1, n_catch=1)
    session = enrol(study, "x")
    url = reverse("preview_trials", args=[study.slug])
    query = {"group": session.arm, "seed": session.seed, "rotation": 0}
    page = admin_client.get(url, query)
    rows = page.context["rows"]
    planned = assignment_replay(participant=session)
    assert [(r.kind, r.stimulus) for r in rows] == [
        (p.kind, p.stimulus.stimulus_id) for p in planned
    ]
    assert {r.kind for r in rows} == {"practice", "main", "catch"}
    first = planned[0].stimulus
    assert (rows[0].true_label, rows[0].model_decision, rows[0].model_correct) == (
        first.true_label,
        first.predicted_label,
        first.model_correct,
    )
    assert "Download as CSV" in page.content.decode()

    download = admin_client.get(url, query | {"format": "csv"})
    assert download["Content-Type"].startswith("text/csv")
    assert f"table-{session.arm}-seed{session.seed}-trials.csv" in download["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [r["stimulus"] for r in table] == [r.stimulus for r in rows]
    assert table[0]["model_correct"] in {"True", "False"} and table[0]["modality"] == session.arm
    assert Participant.objects.filter(study=study).count() == 1  # nothing was enrolled


def test_the_trial_table_refuses_an_unknown_group_or_seed_on_the_field(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(bundle, slug="badtable")
    url = reverse("preview_trials", args=[study.slug])
    page = admin_client.get(url, {"group": "smell", "seed": "1"})
    assert page.context["rows"] is None
    assert "smell is not one of the available choices" in page.content.decode()
    page = admin_client.get(url, {"group": "visual", "seed": "-3"})
    assert "greater than or equal to 0" in page.content.decode()
    page = admin_client.get(url, {"group": "visual", "seed": "1", "rotation": "4"})
    assert "rotation must be 0 to 0" in page.content.decode()
    assert admin_client.get(url, {"group": "smell", "seed": "1", "format": "csv"})[
        "Content-Type"
    ].startswith("text/html")


def test_the_timeline_shows_a_participants_pages_answers_plays_and_final_state(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(bundle, slug="timeline", demographics=["age_range"])
    session = enrol(study, "prolific-label-7")
    answer(session, n=2)
    url = reverse("session-timeline", args=[study.slug])
    page = admin_client.get(url, {"who": "prolific-label-7"})
    assert page.context["participant"] == session
    events = [e.what for e in page.context["entries"]]
    assert events[:2] == ["started", "consented"]
    assert events.count("trial 1 answered") == 1 and "trial 2 answered" in events
    assert "trial 3 answered" not in events
    first = session.trials.get(position=1)
    assert events.count("trial 1 audio") == len(listened(first))  # play and ended per clip
    times = [e.at for e in page.context["entries"]]
    assert times == sorted(times)
    html = page.content.decode()
    assert "in progress: 2 of 6 trials answered" in html
    assert "plays: original 1" in html

    by_pseudonym = admin_client.get(url, {"who": session.pseudonym})
    assert by_pseudonym.context["participant"] == session
    missing = admin_client.get(url, {"who": "nobody"})
    assert missing.status_code == 404 and "No session of this study has" in missing.content.decode()

    dashboard = admin_client.get(reverse("study-dashboard", args=[study.slug]), {"phase": "live"})
    assert f"?who={session.pseudonym}" in dashboard.content.decode()


def test_the_timeline_marks_the_trials_where_the_participant_left_the_page(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(bundle, slug="focus")
    session = enrol(study, "wanderer")
    answer(session, n=3)
    responses = {r.trial.position: r for r in Response.objects.filter(trial__participant=session)}
    Response.objects.filter(pk=responses[1].pk).update(focus_losses=0, hidden_count=0, hidden_ms=0)
    Response.objects.filter(pk=responses[2].pk).update(
        focus_losses=2, hidden_count=1, hidden_ms=4200.0
    )  # trial 3 keeps None: a page without JavaScript reported nothing
    page = admin_client.get(reverse("session-timeline", args=[study.slug]), {"who": "wanderer"})
    answered = {e.trial: e for e in page.context["entries"] if e.what.endswith(" answered")}
    assert answered[1].detail.endswith("stayed on the page") and not answered[1].flagged
    assert answered[2].detail.endswith("window lost focus 2x, page hidden 1x for 4.2 s")
    assert answered[2].flagged
    assert answered[3].detail.endswith("focus not reported (no JavaScript?)")
    assert page.context["n_flagged"] == 1
    assert '<tr class="flagged">' in page.content.decode()
