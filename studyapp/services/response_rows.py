"""Writing a new answer: the response row and its audio events.

On PostgreSQL both go in as one statement (the events through ``unnest`` of one array
per column), which is atomic by itself: no BEGIN and COMMIT around it, one round trip
instead of four, and prepared once per connection (``studyapp.sql_rows``). Other
databases take the ORM's two inserts. Either way the values are what the ORM itself
would write: each field's ``pre_save`` and ``get_db_prep_save`` produce them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Model

from studyapp.models import AudioEvent, Response
from studyapp.sql_rows import prepared_cursor


def response_insert(*, response: Response, events: list[AudioEvent]) -> Response:
    """Store an unsaved ``response`` and its unsaved ``events``; returns the response, saved."""
    if connection.vendor != "postgresql":
        response.save(force_insert=True)
        AudioEvent.objects.bulk_create(events)
        return response
    with prepared_cursor() as cursor:
        cursor.execute(_insert_sql(), [*_row(response, _fields(Response)), *_columns(events, _fields(AudioEvent))])
        response.pk = cursor.fetchone()[0]
    response._state.adding, response._state.db = False, connection.alias
    return response


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


def _fields(model: type[Model]) -> tuple[Field, ...]:
    return tuple(f for f in model._meta.concrete_fields if not f.primary_key)


def _row(instance: Model, fields: Iterable[Field]) -> list[Any]:
    return [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]


def _columns(instances: list[Model], fields: tuple[Field, ...]) -> list[list[Any]]:
    """One list per field, of that field's value in each instance (what ``unnest`` takes)."""
    rows = [_row(instance, fields) for instance in instances]
    return [[row[i] for row in rows] for i in range(len(fields))]


@lru_cache(maxsize=1)
def _insert_sql() -> str:
    quote = connection.ops.quote_name
    response_fields, event_fields = _fields(Response), _fields(AudioEvent)
    names = ", ".join(quote(f.column) for f in response_fields)
    event_names = ", ".join(quote(f.column) for f in event_fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in event_fields)
    return (
        f"WITH r AS (INSERT INTO {quote(Response._meta.db_table)} ({names}) "
        f"VALUES ({', '.join(['%s'] * len(response_fields))}) RETURNING {quote(Response._meta.pk.column)}), "
        f"e AS (INSERT INTO {quote(AudioEvent._meta.db_table)} ({event_names}) SELECT * FROM unnest({arrays})) "
        f"SELECT {quote(Response._meta.pk.column)} FROM r"
    )
