"""The answer path's own statements (selectors.answer_session, services.response_rows).

They replace ORM querysets for speed (docs/benchmarks.md), so these tests hold them to
what the ORM reads and writes, on SQLite and (in the PostgreSQL pass) on PostgreSQL,
where the insert is a single prepared statement.
"""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from studyapp.models import AudioEvent, Participant, Response, Study, Trial
from studyapp.selectors import answer_session
from studyapp.services.participants import Answer, response_record
from studyapp.services.response_rows import response_insert, write_block
from tests.studyapp.participant_helpers import at_first_trial, consented, listen_to

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="runs in the PostgreSQL pass of the suite (checks PostgreSQL statements)",
)


def _answer(participant: Participant, position: int, key: str) -> None:
    response_record(
        participant=participant,
        position=position,
        answer=Answer(
            answer="3", rt_ms=900.0, submission_key=key, events=listen_to(participant, position)
        ),
    )


def _fields(instance: object, names: frozenset[str]) -> dict[str, object]:
    return {name: getattr(instance, name) for name in sorted(names)}


def test_the_answer_session_reads_what_the_orm_reads(study: Study) -> None:
    participant = consented(study, "s1")
    _answer(participant, 1, "key-00000001")
    session = answer_session(token=participant.token)
    assert session is not None
    orm = Participant.objects.select_related("study__bundle").get(pk=participant.pk)
    names = frozenset(
        {"id", "token", "status", "study_id", "condition_id", "last_seen_at", "demographics"}
    )
    assert _fields(session.participant, names) == _fields(orm, names)
    study_names = frozenset(
        {"task", "ask_rating", "max_replays", "audio_must_finish", "time_limit_minutes"}
    )
    assert _fields(session.participant.study, study_names) == _fields(orm.study, study_names)
    assert session.participant.study.bundle.classes == orm.study.bundle.classes
    assert [t.position for t in session.open_trials] == [2, 3]
    for trial in session.open_trials:
        expected = Trial.objects.select_related(
            "condition", "stimulus__original_audio", "stimulus__audible_heatmap"
        ).get(pk=trial.pk)
        assert (trial.kind, trial.expected_answer, trial.presented_at) == (
            expected.kind,
            expected.expected_answer,
            expected.presented_at,
        )
        assert trial.condition.modality == expected.condition.modality
        assert (trial.stimulus.predicted_label, trial.stimulus.model_correct) == (
            expected.stimulus.predicted_label,
            expected.stimulus.model_correct,
        )
        assert (
            trial.stimulus.original_audio.duration_s == expected.stimulus.original_audio.duration_s
        )
        assert (
            trial.stimulus.audible_heatmap.duration_s
            == expected.stimulus.audible_heatmap.duration_s
        )


def test_the_answer_session_narrows_to_the_last_trial_and_then_to_none(study: Study) -> None:
    participant = consented(study, "s2")
    for position in range(1, study.n_trials):
        _answer(participant, position, f"key-{position:08d}")
    session = answer_session(token=participant.token)
    assert session is not None and [t.position for t in session.open_trials] == [study.n_trials]
    _answer(participant, study.n_trials, "key-last-000")
    session = answer_session(token=participant.token)
    assert session is not None and session.open_trials == []
    assert session.participant.status == Participant.Status.COMPLETED


def test_an_unknown_token_has_no_answer_session(study: Study) -> None:
    consented(study, "s3")
    assert answer_session(token="no-such-token-0000000") is None


def test_a_new_answer_is_stored_as_given_with_every_audio_event(study: Study) -> None:
    participant = consented(study, "s4")
    trial = Trial.objects.get(participant=participant, position=1)
    events = [
        {"media": "original", "event": "play", "client_ms": 10.0, "media_time_s": None},
        {"media": "original", "event": "ended", "client_ms": 1015.5, "media_time_s": 0.9},
    ]
    response = Response(
        trial=trial,
        answer="7",
        answer_correct=False,
        rating=5,
        confidence=None,
        rt_ms=812.25,
        server_rt_ms=None,
        plays_original=1,
        plays_explanation=0,
        submission_key="key-00000042",
    )
    with write_block(statements=1):
        stored = response_insert(response=response, events=events)
    assert stored.pk is not None and not stored._state.adding
    fresh = Response.objects.get(trial=trial)
    assert fresh.pk == stored.pk
    names = frozenset(
        {
            "answer",
            "answer_correct",
            "rating",
            "confidence",
            "rt_ms",
            "server_rt_ms",
            "plays_original",
            "plays_explanation",
            "submission_key",
            "revised_at",
        }
    )
    assert _fields(fresh, names) == _fields(response, names)
    assert fresh.received_at is not None
    assert list(
        AudioEvent.objects.filter(trial=trial).values_list(
            "media", "event", "client_ms", "media_time_s"
        )
    ) == [("original", "play", 10.0, None), ("original", "ended", 1015.5, 0.9)]


def test_an_answer_without_audio_events_stores_the_response_alone(study: Study) -> None:
    participant = consented(study, "s5")
    trial = Trial.objects.get(participant=participant, position=1)
    response = Response(trial=trial, answer="1", answer_correct=True, submission_key="key-00000043")
    with write_block(statements=1):
        response_insert(response=response, events=[])
    assert Response.objects.filter(trial=trial).count() == 1
    assert not AudioEvent.objects.filter(trial=trial).exists()


def test_a_second_insert_for_one_trial_fails_and_leaves_the_callers_transaction_usable(
    study: Study,
) -> None:
    participant = consented(study, "s6")
    trial = Trial.objects.get(participant=participant, position=1)
    with transaction.atomic():
        with write_block(statements=1):
            response_insert(
                response=Response(trial=trial, answer="1", answer_correct=True), events=[]
            )
        with pytest.raises(IntegrityError), write_block(statements=1):
            response_insert(
                response=Response(trial=trial, answer="2", answer_correct=False), events=[]
            )
        assert (
            Response.objects.filter(trial=trial).count() == 1
        )  # (a broken transaction would raise here)


def _send_answer(client: Client, participant: Participant, position: int, events: str) -> int:
    reply = client.post(
        f"/p/{participant.token}/trial/{position}/",
        {
            "answer": "3",
            "rt_ms": "900",
            "submission_key": f"key-{position:08d}",
            "events": events,
        },
        HTTP_X_REQUESTED_WITH="fetch",
    )
    return reply.status_code


def _answer_page(client: Client, participant: Participant, position: int) -> str:
    """Open the trial page (as a participant does before answering); returns the audio log to send."""
    assert client.get(f"/p/{participant.token}/trial/{position}/").status_code == 200
    return json.dumps(list(listen_to(participant, position)))


@postgresql_only
def test_on_postgresql_an_answer_takes_two_statements(study: Study) -> None:
    participant = at_first_trial(study, "s7")
    client = Client()
    events = _answer_page(client, participant, 1)
    with CaptureQueriesContext(connection) as queries:
        assert _send_answer(client, participant, 1, events) == 200
    # (Savepoints only because the test itself runs inside a transaction; a server has none.)
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # The session with its open trials, then the response with its events (and at most a
    # note of the visit, written once every half minute).
    assert len(statements) <= 3, statements
    assert statements[0].startswith("SELECT") and "studyapp_response" in statements[0]
    assert any(sql.startswith("WITH r AS (INSERT") for sql in statements), statements


@postgresql_only
def test_on_postgresql_the_answer_statements_are_prepared_once_per_connection(study: Study) -> None:
    participant = at_first_trial(study, "s8")
    client = Client()
    for position in range(1, 5):
        assert (
            _send_answer(client, participant, position, _answer_page(client, participant, position))
            == 200
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(
        sql.startswith("SELECT") and "studyapp_participant" in sql and "studyapp_response" in sql
        for sql in prepared
    ), prepared
    assert any(sql.startswith("WITH r AS (INSERT") for sql in prepared), prepared
