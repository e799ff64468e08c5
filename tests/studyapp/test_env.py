"""Settings from the environment: the database URL and the prepared-statement switch."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from studyapp.env import database_from_url, env_int_or_off

URL = "postgres://user:secret@db.example.org:5433/hearxai"


def test_a_postgresql_url_becomes_a_django_database_with_persistent_checked_connections() -> None:
    database = database_from_url(URL)
    assert (
        database["NAME"],
        database["USER"],
        database["PASSWORD"],
        database["HOST"],
        database["PORT"],
    ) == ("hearxai", "user", "secret", "db.example.org", "5433")
    assert database["CONN_MAX_AGE"] == 60 and database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"] == {"prepare_threshold": 2}


@pytest.mark.parametrize(
    ("value", "threshold"), [("", 2), ("0", 0), ("5", 5), ("off", None), (" OFF ", None)]
)
def test_the_prepare_threshold_is_a_number_or_off(
    monkeypatch: pytest.MonkeyPatch, value: str, threshold: int | None
) -> None:
    monkeypatch.setenv("HEARXAI_DB_PREPARE_THRESHOLD", value)
    assert env_int_or_off("HEARXAI_DB_PREPARE_THRESHOLD", 2) == threshold
    assert database_from_url(URL, prepare_threshold=threshold)["OPTIONS"] == {
        "prepare_threshold": threshold
    }


def test_a_prepare_threshold_that_is_not_a_number_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEARXAI_DB_PREPARE_THRESHOLD", "sometimes")
    with pytest.raises(ImproperlyConfigured, match="HEARXAI_DB_PREPARE_THRESHOLD"):
        env_int_or_off("HEARXAI_DB_PREPARE_THRESHOLD", 2)


def test_a_url_without_a_database_name_or_with_another_scheme_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="names no database"):
        database_from_url("postgres://user@db.example.org/")
    with pytest.raises(ImproperlyConfigured, match="not supported"):
        database_from_url("mysql://user@db.example.org/hearxai")


def test_a_url_that_does_not_parse_is_refused_in_one_line_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL is not a valid URL") as error:
        database_from_url("postgres://user:secret@db.example.org:port/hearxai")
    assert "\n" not in str(error.value) and "secret" not in str(error.value)


def test_a_sqlite_path_is_absolute_with_three_slashes_or_four() -> None:
    assert (
        database_from_url("sqlite:///srv/hearxai/db.sqlite3")["NAME"] == "/srv/hearxai/db.sqlite3"
    )
    assert (
        database_from_url("sqlite:////srv/hearxai/db.sqlite3")["NAME"] == "/srv/hearxai/db.sqlite3"
    )
    assert database_from_url("sqlite://")["NAME"] == ":memory:"


def test_options_in_the_query_string_reach_the_driver_beside_the_prepare_threshold() -> None:
    database = database_from_url(f"{URL}?sslmode=require")
    assert database["OPTIONS"] == {"sslmode": "require", "prepare_threshold": 2}
