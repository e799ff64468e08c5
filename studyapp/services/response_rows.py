"""Writing a new answer: the response row and its audio events.

On PostgreSQL both go in as one statement (the events as one JSON array, read by
``json_to_recordset``), which is atomic by itself: no BEGIN and COMMIT around it, one
round trip instead of four, and prepared once per connection (``studyapp.sql_rows``).
Other databases take the ORM's two inserts. The response's values are what the ORM
itself would write: each field's ``pre_save`` and ``get_db_prep_save`` produce them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from functools import cache, lru_cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Model

from studyapp.models import AudioEvent, Response
from studyapp.sql_rows import prepared_cursor

# What the page reports of each audio event; the trial and the time received come from the response.
EVENT_VALUES = ("media", "event", "client_ms", "media_time_s")


def response_insert(*, response: Response, events: Sequence[Mapping[str, Any]]) -> Response:
    """Store an unsaved ``response`` and its audio ``events`` (mappings with the keys of
    :data:`EVENT_VALUES`, checked by the form); returns the response, saved."""
    if connection.vendor != "postgresql":
        response.save(force_insert=True)
        audio_events_insert(trial_id=response.trial_id, events=events)
        return response
    row = [f.get_db_prep_save(f.pre_save(response, True), connection) for f in _fields(Response)]
    log = json.dumps([{name: e.get(name) for name in EVENT_VALUES} for e in events])
    with prepared_cursor() as cursor:
        cursor.execute(_insert_sql(), [*row, response.trial_id, response.received_at, log])
        response.pk = cursor.fetchone()[0]
    response._state.adding, response._state.db = False, connection.alias
    return response


def audio_events_insert(*, trial_id: int, events: Sequence[Mapping[str, Any]]) -> None:
    """Store audio ``events`` of a trial through the ORM (a revised answer's, or on SQLite)."""
    AudioEvent.objects.bulk_create(
        AudioEvent(trial_id=trial_id, **{name: e.get(name) for name in EVENT_VALUES})
        for e in events
    )


@contextmanager
def write_block(*, statements: int) -> Iterator[None]:
    """Atomicity for ``statements`` writes made through :func:`response_insert` and the ORM.

    One PostgreSQL statement is atomic by itself. Inside a caller's transaction it still
    gets a savepoint, so that a unique violation (a concurrent copy of the request
    stored first) leaves that transaction usable.
    """
    alone = statements == 1 and connection.vendor == "postgresql" and not connection.in_atomic_block
    with nullcontext() if alone else transaction.atomic():
        yield


@cache
def _fields(model: type[Model]) -> tuple[Field, ...]:
    return tuple(f for f in model._meta.concrete_fields if not f.primary_key)


@lru_cache(maxsize=1)
def _insert_sql() -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in _fields(Response))
    values = [AudioEvent._meta.get_field(name) for name in EVENT_VALUES]
    event_columns = ", ".join(
        quote(f.column)
        for f in [
            AudioEvent._meta.get_field("trial"),
            *values,
            AudioEvent._meta.get_field("received_at"),
        ]
    )
    record = ", ".join(f"{quote(f.attname)} {f.db_type(connection)}" for f in values)
    picked = ", ".join(f"x.{quote(f.attname)}" for f in values)
    return (
        f"WITH r AS (INSERT INTO {quote(Response._meta.db_table)} ({names}) "
        f"VALUES ({', '.join(['%s'] * len(_fields(Response)))}) RETURNING {quote(Response._meta.pk.column)}), "
        f"e AS (INSERT INTO {quote(AudioEvent._meta.db_table)} ({event_columns}) "
        f"SELECT %s, {picked}, %s FROM json_to_recordset(%s::json) AS x({record})) "
        f"SELECT {quote(Response._meta.pk.column)} FROM r"
    )
