"""``/favicon.ico``: browsers ask for it on every page that names no icon (the admin's)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.http import require_GET


@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Redirect to the site icon under its static (in production: hashed) name."""
    response = HttpResponseRedirect(static("studyapp/favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"
    return response
