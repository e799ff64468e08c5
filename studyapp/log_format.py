"""Log lines for production: one JSON object per line on stdout, secrets masked.

Container platforms collect stdout, and log tools parse JSON without a custom
grammar. Participant session tokens travel in URLs (``/p/<token>/...``) and act as
credentials, so every line passes :class:`RedactSecretsFilter` before it is written.
Standard library only: gunicorn loads this before Django is set up.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# The token is whatever follows /p/ up to the next slash, space, quote or query.
_TOKEN_IN_PATH = re.compile(r"(/p/)[^/\s\"'?#]+")
REDACTED = "<token>"


def redact(text: str) -> str:
    """Mask participant session tokens in a log message.

    Parameters
    ----------
    text : str
        A formatted log message, e.g. an access-log line with a request path.

    Returns
    -------
    str
        The same message with each token after ``/p/`` replaced by the placeholder ``<token>``.
    """
    return _TOKEN_IN_PATH.sub(r"\g<1>" + REDACTED, text)


class RedactSecretsFilter(logging.Filter):
    """Format the record's message once and mask secrets in it (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, process, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(
    *, fmt: str, level: str, loggers: dict[str, dict[str, object]] | None = None
) -> dict:
    """A :func:`logging.config.dictConfig` dictionary writing to stdout.

    Parameters
    ----------
    fmt : {"json", "text"}
        ``json`` for one object per line; ``text`` for a human-readable line (the value
        of ``DJANGO_LOG_FORMAT``, named in the error if it is neither).
    level : str
        Level of the root logger (``DEBUG``, ``INFO``, ``WARNING``, ...).
    loggers : dict, optional
        Extra named loggers (for gunicorn's ``gunicorn.error`` and ``gunicorn.access``).
    """
    if fmt not in {"json", "text"}:
        raise ValueError(f"DJANGO_LOG_FORMAT={fmt!r} is not one of: json, text")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactSecretsFilter}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": fmt,
                "filters": ["redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": loggers or {},
    }
