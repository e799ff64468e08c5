"""Response headers every page gets: the Content-Security-Policy (django-csp) and Permissions-Policy.

The policy itself is ``CONTENT_SECURITY_POLICY`` in settings. Django's admin needs one
difference, inline style attributes, added here on ``/admin/`` through django-csp's
documented extension point (``CSPMiddleware.get_policy_parts``): its per-view
decorators cannot reach the admin's own views.
"""

from __future__ import annotations

from collections.abc import Callable

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponse, HttpResponseBase

# Added to the site's policy on the admin's pages; it stays on our origin otherwise.
ADMIN_POLICY_UPDATE = {"style-src": [UNSAFE_INLINE]}
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"


class StudyCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with inline styles allowed on the admin's pages only."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and request.path.startswith("/admin/"):
            parts.update = {**ADMIN_POLICY_UPDATE, **(parts.update or {})}
        return parts


def permissions_policy(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """No page may use the camera, the microphone or the location (Django has no setting for it)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response

    return middleware
