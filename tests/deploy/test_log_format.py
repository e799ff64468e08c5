"""Production log lines (studyapp/log_format.py) and the health probe's host choice."""

from __future__ import annotations

import json
import logging

import pytest

from studyapp.healthcheck import probe_host
from studyapp.log_format import JsonFormatter, RedactSecretsFilter, logging_config, redact


def record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, message, args, exc_info)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /p/Ab3_x-9/trial/2/ HTTP/1.1" 200', '"GET /p/<token>/trial/2/ HTTP/1.1" 200'),
        ("Not Found: /p/Ab3x9", "Not Found: /p/<token>"),
        ("/p/Ab3x9?next=1 and /p/Zz/done/", "/p/<token>?next=1 and /p/<token>/done/"),
    ],
)
def test_it_masks_participant_tokens_in_paths(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_it_leaves_lines_without_a_token_alone() -> None:
    line = '127.0.0.1 "GET /healthz HTTP/1.1" 200 16 3ms'
    assert redact(line) == line


def test_the_filter_masks_the_formatted_message_and_keeps_the_record() -> None:
    entry = record("Not Found: %s", "/p/secret123/consent/")
    assert RedactSecretsFilter().filter(entry) is True
    assert entry.getMessage() == "Not Found: /p/<token>/consent/"


def test_each_record_becomes_one_json_object_with_its_traceback() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        entry = record("failed %d", 3, exc_info=sys.exc_info())
    line = JsonFormatter().format(entry)
    assert "\n" not in line
    parsed = json.loads(line)
    assert (
        parsed["message"] == "failed 3"
        and parsed["level"] == "INFO"
        and parsed["logger"] == "gunicorn.access"
    )
    assert parsed["time"].endswith("+00:00")
    assert "RuntimeError: boom" in parsed["exception"]


def test_it_rejects_an_unknown_log_format_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="DJANGO_LOG_FORMAT='xml'"):
        logging_config(fmt="xml", level="INFO")


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("study.example.org,localhost", "study.example.org"),
        (".example.org", "example.org"),
        ("*", "localhost"),
        ("", "localhost"),
        (" *, .x.org", "x.org"),
    ],
)
def test_the_health_probe_sends_a_host_the_site_accepts(allowed: str, host: str) -> None:
    assert probe_host(allowed) == host
