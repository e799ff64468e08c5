"""Model instances from hand-written SQL, for the few statements every trial runs.

Storing an answer and showing a trial page are the requests a study makes thousands of
times a minute. Built with the ORM, an answer cost about 6 ms of CPU and seven
statements, and a trial page seven statements too, much of the time spent compiling
the same querysets again on every request (docs/benchmarks.md, "Study site: load";
benchmarks/answer_path.py measures both). The answer runs two statements and the page
one (``selectors.answer_session``, ``selectors.trial_page``, ``services.response_rows``),
written with the helpers here: their SQL text is generated from the models' metadata
(table and column names are never typed by hand), and the rows come back as ordinary,
possibly partly deferred model instances, so the rules and templates that read them
are the same code whichever way the objects were loaded.

On PostgreSQL the statements go through a server-binding cursor, so the server parses
and plans each of them once per connection instead of once per request (Django's own
cursors bind parameters on the client, which never lets the server prepare).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from django.db import connection, connections
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model
from django.db.models.sql import Query


@dataclass(frozen=True)
class Columns:
    """Some columns of one model's table under a SQL alias, in the model's field order."""

    model: type[Model]
    alias: str
    fields: tuple[Field, ...]

    @classmethod
    def of(cls, model: type[Model], alias: str, names: Iterable[str]) -> Columns:
        """``names`` are field names or attnames (``study`` or ``study_id``); the primary key is always read."""
        wanted = set(names) | {model._meta.pk.attname}
        fields = tuple(
            f for f in model._meta.concrete_fields if f.name in wanted or f.attname in wanted
        )
        unknown = wanted - {f.name for f in fields} - {f.attname for f in fields}
        if unknown:
            raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
        return cls(model, alias, fields)

    @classmethod
    def all(cls, model: type[Model], alias: str, *, but: Iterable[str] = ()) -> Columns:
        """Every column of the model's table except the fields named in ``but`` (left deferred)."""
        return cls.of(
            model, alias, [f.name for f in model._meta.concrete_fields if f.name not in set(but)]
        )

    def select_list(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(f.column)}" for f in self.fields)

    @cached_property
    def attnames(self) -> frozenset[str]:
        return frozenset(f.attname for f in self.fields)

    def build(self, values: Sequence[Any], db: str) -> Model | None:
        """The instance (other fields deferred), or None if the row has none (an outer join's NULLs)."""
        if values[0] is None:
            return None
        return self.model.from_db(db, self.attnames, list(values))


def table(model: type[Model], alias: str) -> str:
    return f"{connection.ops.quote_name(model._meta.db_table)} {alias}"


def column(model: type[Model], alias: str, name: str) -> str:
    return f"{alias}.{connection.ops.quote_name(model._meta.get_field(name).column)}"


def left_join(
    model: type[Model], alias: str, owner: type[Model], owner_alias: str, key: str
) -> str:
    """``LEFT JOIN`` of the row (of ``model``, as ``alias``) that the foreign key ``key`` of ``owner`` points to."""
    return f"LEFT JOIN {table(model, alias)} ON {column(model, alias, 'id')} = {column(owner, owner_alias, key)}"


class RowReader:
    """Reads rows of ``SELECT <columns of each group, in order> ...`` into model instances."""

    def __init__(self, *groups: Columns) -> None:
        self.groups = groups

    def select_list(self) -> str:
        return ", ".join(group.select_list() for group in self.groups)

    def read(
        self, rows: Sequence[Sequence[Any]], *, only: Collection[int] | None = None
    ) -> list[list[Model | None]]:
        """One list per row: an instance (or None) per group, with Django's value conversions applied.

        ``only``: the positions of the groups to build (the others are None).
        """
        db = connections[connection.alias]  # (the object itself: the proxy costs a lookup per use)
        converters = self._converters(db.vendor)
        out = []
        for raw in rows:
            row = list(raw)
            for position, (functions, expression) in converters:
                value = row[position]
                for function in functions:
                    value = function(value, expression, db)
                row[position] = value
            start, objects = 0, []
            for index, group in enumerate(self.groups):
                wanted = only is None or index in only
                objects.append(
                    group.build(row[start : start + len(group.fields)], db.alias)
                    if wanted
                    else None
                )
                start += len(group.fields)
            out.append(objects)
        return out

    @cache  # noqa: B019 - one reader per statement, made at import and kept for the process
    def _converters(self, vendor: str) -> list[tuple[int, tuple[list[Any], Any]]]:
        # The same conversions the ORM applies (JSON text to objects, SQLite's text to datetimes ...).
        compiler = Query(self.groups[0].model).get_compiler(connection=connection)
        return sorted(
            compiler.get_converters(
                [f.get_col(g.alias) for g in self.groups for f in g.fields]
            ).items()
        )


def prepared_cursor() -> CursorWrapper:
    """A cursor whose statements PostgreSQL keeps prepared on this connection (any other database: a plain one).

    ``DATABASES[...]["OPTIONS"]["prepare_threshold"]`` (``HEARXAI_DB_PREPARE_THRESHOLD``)
    says after how many runs a statement is prepared; None turns preparing off, as a
    connection pooler in transaction mode without prepared-statement support needs.
    """
    # While queries are logged (DEBUG, CaptureQueriesContext) a plain cursor, so that the
    # log shows each statement's text: a prepared one is sent without it.
    if connection.vendor != "postgresql" or connection.queries_logged:
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What connection.cursor() does, with a server-binding cursor in place of Django's client-binding one.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))
