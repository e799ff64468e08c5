"""Typed readers for settings that come from the environment.

Each fails fast with a message naming the variable, so a mistyped deployment stops
at start-up instead of misbehaving during a study.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

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


def database_from_url(url: str, *, prepare_threshold: int | None = 2) -> dict[str, object]:
    """Django DATABASES entry from ``postgres://user:pass@host:port/name`` or ``sqlite:///path``.

    ``prepare_threshold``: psycopg's option (runs of a statement on a connection before the
    server prepares it; None never, as a pooler in transaction mode without
    prepared-statement support needs). It takes effect only with server-side binding
    (Django's ``server_side_binding`` option), which the site leaves off: Django's
    client-binding cursors are never prepared (docs/benchmarks.md, "the runner").
    """
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        if not parsed.path.strip("/"):
            raise ImproperlyConfigured(f"DATABASE_URL {url!r} names no database")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {"prepare_threshold": prepare_threshold},
        }
    if parsed.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parsed.path) or ":memory:"}
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use postgres:// or sqlite:///)"
    )
