"""The site's last-resort error pages (``handler500`` in ``studyapp.urls``)."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader

# Errors of the database connection itself (server restarting, network gone), as opposed
# to a faulty query: the request can simply be sent again in a moment.
UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_S = 5


def database_unavailable(exc: BaseException | None) -> bool:
    """True for an error of the database connection (or a busy database), not of the request."""
    return isinstance(exc, UNAVAILABLE)


def server_error(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After`` while the database is unreachable; otherwise the plain 500 page.

    Every write a participant makes is one transaction, so a request that failed here
    stored nothing, and sending it again (the pages do, with the same idempotency key)
    stores it once. The page is rendered without touching the database. The response
    is HTML even for the pages' ``fetch()`` calls: their script sends again on any
    non-JSON reply with a 5xx status.
    """
    if database_unavailable(sys.exc_info()[1]):
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_S)
        response["Cache-Control"] = "no-store"
        return response
    return HttpResponseServerError(loader.render_to_string("500.html"))
