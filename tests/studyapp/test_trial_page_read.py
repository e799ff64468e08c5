"""The trial page's own statement (selectors.trial_page).

It replaces seven ORM queries (docs/benchmarks.md), so these tests hold it to what the
ORM reads, on SQLite and (in the PostgreSQL pass) on PostgreSQL, and count the
statements a page takes: a template that touched a field the read left out would
show up here as an extra query.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext

from studyapp.models import Bundle, Participant, Study, Trial
from studyapp.selectors import bundle_colormap, trial_page
from studyapp.services.participants import Answer, response_record
from studyapp.services.studies import study_create
from tests.studyapp.participant_helpers import at_first_trial, listen_to

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="runs in the PostgreSQL pass of the suite (checks PostgreSQL statements)",
)


def _answer(participant: Participant, position: int) -> None:
    response_record(
        participant=participant,
        position=position,
        answer=Answer(
            answer="3",
            rt_ms=900.0,
            submission_key=f"key-{position:08d}",
            events=listen_to(participant, position),
        ),
    )


def _row(instance: Model, *, but: tuple[str, ...] = ()) -> dict[str, object]:
    return {
        f.attname: getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if f.name not in but
    }


def _colour_map_known(study: Study) -> None:
    """Read the bundle's colour map now: pages read it once per bundle and process, then keep it."""
    bundle_colormap(Bundle.objects.defer("manifest").get(pk=study.bundle_id))


def _statements(queries: CaptureQueriesContext) -> list[str]:
    # (Savepoints only because the test itself runs inside a transaction; a server has none.)
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_the_trial_page_reads_what_the_orm_reads(study: Study) -> None:
    participant = at_first_trial(study, "page-1")
    _answer(participant, 1)
    _answer(participant, 2)
    page = trial_page(token=participant.token, position=2)
    assert page is not None
    orm = Participant.objects.select_related("study__bundle", "condition").get(pk=participant.pk)
    assert _row(page.participant) == _row(orm)
    assert _row(page.participant.study) == _row(orm.study)
    assert _row(page.participant.study.bundle, but=("manifest",)) == _row(
        orm.study.bundle, but=("manifest",)
    )
    assert (
        "manifest" in page.participant.study.bundle.get_deferred_fields()
    )  # (megabytes no page needs)
    assert _row(page.participant.condition) == _row(orm.condition)
    expected = Trial.objects.select_related(
        "condition",
        "response",
        "stimulus__original_audio",
        "stimulus__visual_heatmap",
        "stimulus__audible_heatmap",
        "stimulus__plain_image",
    ).get(participant=participant, position=2)
    trial = page.trial
    assert trial is not None
    assert _row(trial) == _row(expected) and _row(trial.condition) == _row(expected.condition)
    assert _row(trial.response) == _row(expected.response) and _row(trial.stimulus) == _row(
        expected.stimulus
    )
    for name in ("original_audio", "visual_heatmap", "audible_heatmap", "plain_image"):
        assert _row(getattr(trial.stimulus, name)) == _row(getattr(expected.stimulus, name))
    assert (page.first_open, page.answered, page.total) == (3, 2, study.n_trials)
    assert page.previous_kind == Trial.objects.get(participant=participant, position=1).kind


def test_an_open_trial_is_read_without_a_response_and_without_asking_again(study: Study) -> None:
    participant = at_first_trial(study, "page-2")
    page = trial_page(token=participant.token, position=1)
    assert page is not None and page.trial is not None
    with CaptureQueriesContext(connection) as queries:
        assert not hasattr(page.trial, "response")
        assert page.trial.participant.study.bundle.classes
    assert queries.captured_queries == []
    assert (page.first_open, page.answered, page.total, page.previous_kind) == (
        1,
        0,
        study.n_trials,
        None,
    )


def test_a_position_the_participant_does_not_have_reads_the_session_without_a_trial(
    study: Study,
) -> None:
    participant = at_first_trial(study, "page-3")
    page = trial_page(token=participant.token, position=study.n_trials + 5)
    assert page is not None and page.trial is None and page.participant.pk == participant.pk
    assert (page.first_open, page.previous_kind) == (1, None)
    assert trial_page(token="no-such-token-0000000", position=1) is None


@pytest.mark.parametrize("position", [0, 32_768, 2**63, 10**20])
def test_a_position_no_trial_can_have_sends_the_participant_to_their_trial(
    study: Study, position: int
) -> None:
    participant = at_first_trial(study, "page-far")
    reply = Client().get(f"/p/{participant.token}/trial/{position}/")
    assert reply.status_code == 302 and reply["Location"] == f"/p/{participant.token}/trial/1/"


def test_a_trial_page_takes_two_statements_on_the_first_visit_and_one_after(study: Study) -> None:
    participant = at_first_trial(study, "page-4")
    client = Client()
    url = f"/p/{participant.token}/trial/1/"
    _colour_map_known(study)
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    # The read, then the note of when the trial was first shown.
    assert len(_statements(first)) == 2, _statements(first)
    assert _statements(first)[1].startswith("UPDATE")
    with CaptureQueriesContext(connection) as again:
        assert client.get(url).status_code == 200
    assert len(_statements(again)) == 1, _statements(again)
    assert Trial.objects.get(participant=participant, position=1).presented_at is not None


def test_going_back_to_an_answered_trial_shows_it_in_one_statement(bundle: Bundle) -> None:
    study = study_create(
        slug="back-page",
        title="Back",
        bundle=bundle,
        status=Study.Status.LIVE,
        n_trials=4,
        consent_text="Consent.",
        allow_back=True,
    )
    participant = at_first_trial(study, "page-5")
    client = Client()
    for position in (1, 2):
        client.get(f"/p/{participant.token}/trial/{position}/")
        _answer(participant, position)
    _colour_map_known(study)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/p/{participant.token}/trial/2/")
    assert page.status_code == 200 and b"changing your earlier answer" in page.content
    assert f"/p/{participant.token}/trial/1/" in page.content.decode()  # the "previous" link
    assert len(_statements(queries)) == 1, _statements(queries)


@postgresql_only
def test_on_postgresql_the_trial_page_statement_is_prepared(study: Study) -> None:
    participant = at_first_trial(study, "page-6")
    client = Client()
    for position in range(1, 4):
        assert client.get(f"/p/{participant.token}/trial/{position}/").status_code == 200
        events = json.dumps(list(listen_to(participant, position)))
        client.post(
            f"/p/{participant.token}/trial/{position}/",
            {
                "answer": "3",
                "rt_ms": "900",
                "submission_key": f"key-{position:08d}",
                "events": events,
            },
            HTTP_X_REQUESTED_WITH="fetch",
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(
        sql.startswith("SELECT")
        and "studyapp_mediafile" in sql
        and "studyapp_participant" in sql
        and "COUNT(*)" in sql
        for sql in prepared
    ), prepared
