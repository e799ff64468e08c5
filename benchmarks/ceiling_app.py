"""The ceiling of the load benchmark: a bare Django view that stores an answer with one INSERT.

benchmarks/load.py serves it with gunicorn and ``studyapp.gunicorn_conf`` (the site's
own production configuration, same workers and threads) against the same PostgreSQL
database, and sends it the same answer form the participants send the site. What the
site achieves relative to this is the share of the machine its answer path leaves
unused by Django's request handling, the WSGI server and the database round trip.

This module is at once the settings (``DJANGO_SETTINGS_MODULE=benchmarks.ceiling_app``),
the URLconf and the WSGI application; the table is created by benchmarks/load.py.
"""

from __future__ import annotations

import os

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path

from studyapp.env import database_from_url

TABLE = "ceiling_answer"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, participant varchar(64), "
    "position integer, answer varchar(64), submission_key varchar(64), events text, "
    "received_at timestamptz NOT NULL)"
)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "ceiling-benchmark-only")
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
# The same connection settings as the site (persistent connections, health checks).
DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL", "sqlite:///:memory:"))}
USE_TZ = True
# (The production gunicorn configuration checks that static files are collected; the load
# site collected them here before the ceiling starts.)
STATIC_ROOT = os.environ.get("HEARXAI_STATIC_ROOT", "")
LOGGING_CONFIG = None


def answer(request: HttpRequest) -> JsonResponse:
    """Store the posted answer: one INSERT, nothing checked."""
    data = request.POST
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (participant, position, answer, submission_key, events, received_at) "
            "VALUES (%s, %s, %s, %s, %s, now())",
            [
                data.get("participant", ""),
                int(data.get("position", "0") or 0),
                data.get("answer", ""),
                data.get("submission_key", ""),
                data.get("events", ""),
            ],
        )
    return JsonResponse({"ok": True})


urlpatterns = [path("answer", answer)]

if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
