"""Typed readers for settings that come from the environment.

Each fails fast with a message naming the variable, so a mistyped deployment stops
at start-up instead of misbehaving during a study.
"""

from __future__ import annotations

import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"environment variable {name} is required but not set")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"environment variable {name}={raw!r} is not a boolean (use 1/0, true/false)"
    )


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"environment variable {name}={raw!r} is not an integer"
        ) from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_or_off(name: str, default: int) -> int | None:
    """An integer setting that ``off`` switches off (None); empty or unset gives ``default``."""
    if os.environ.get(name, "").strip().lower() == "off":
        return None
    return env_int(name, default)


_DATABASE_SCHEMES = {"postgres", "postgresql", "pgsql", "sqlite"}


def database_from_url(url: str, *, prepare_threshold: int | None = 2) -> dict[str, object]:
    """Django DATABASES entry from ``postgres://user:pass@host:port/name`` or ``sqlite:///path``.

    dj-database-url parses the URL (its query string becomes ``OPTIONS``, e.g.
    ``?sslmode=require``); on top of it a PostgreSQL database gets persistent, checked
    connections and ``prepare_threshold``: psycopg's option (runs of a statement on a
    connection before the server prepares it; None never, as a pooler in transaction
    mode without prepared-statement support needs). It takes effect only with
    server-side binding (Django's ``server_side_binding`` option), which the site leaves
    off: Django's client-binding cursors are never prepared (docs/benchmarks.md, "the
    runner"). Only PostgreSQL and SQLite are accepted: the site is tested on those two.

    A SQLite path is absolute whether written with three slashes or four, as it has
    always been here: dj-database-url reads ``sqlite:///data/db.sqlite3`` as relative to
    the working directory, which would silently open a new, empty database for a
    deployment that wrote it so.
    """
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme not in _DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {scheme!r} is not supported (use postgres:// or sqlite:///)"
        )
    try:
        database: dict[str, object] = dict(dj_database_url.parse(url))
    except ValueError:  # dj-database-url's ParseError: a bad port, an unquoted '/' or '@'
        raise ImproperlyConfigured(
            # (not echoed: the URL holds the password)
            "DATABASE_URL is not a valid URL: a port must be a number, and '@', ':' or '/' "
            "in a user name or password must be %-quoted"
        ) from None
    if scheme == "sqlite":
        name = str(database["NAME"])
        return database | {"NAME": name if name == ":memory:" else f"/{name.lstrip('/')}"}
    if not database["NAME"]:
        raise ImproperlyConfigured(f"DATABASE_URL {url!r} names no database")
    options = dict(database.get("OPTIONS") or {})  # (from the query string)
    return database | {
        "PORT": str(database["PORT"]),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options | {"prepare_threshold": prepare_threshold},
    }
