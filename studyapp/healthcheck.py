"""Health probe for the web process, for container health checks and monitors.

``python -m studyapp.healthcheck [URL]`` requests ``/healthz`` (default
``http://127.0.0.1:8000/healthz``) with a Host header Django accepts, and exits 0 if
the site answers ``{"status": "ok"}``; otherwise it prints one line naming the problem
to stderr and exits 1. Standard library only, so a probe costs no Django start-up.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"


def probe_host(allowed_hosts: str) -> str:
    """The first concrete host name in a ``DJANGO_ALLOWED_HOSTS`` value, else ``localhost``.

    A leading dot (``.example.org``, any subdomain) is dropped; a ``*`` is skipped.
    """
    for item in allowed_hosts.split(","):
        host = item.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect from /healthz means a misconfigured proxy or settings: report it.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def health_problem(url: str, *, host: str, timeout_s: float = 5.0) -> str | None:
    """None if ``url`` answers 200 with ``{"status": "ok"}``; otherwise what went wrong."""
    request = urllib.request.Request(url, headers={"Host": host, "Accept": "application/json"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout_s) as response:
            body = response.read(4096)
    except urllib.error.HTTPError as exc:
        return f"{url} answered HTTP {exc.code} (Host: {host})"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} unreachable: {getattr(exc, 'reason', exc)}"
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        return f"{url} answered something other than a JSON object"
    return None if status == "ok" else f"{url} reports status {status!r}"


def main(argv: list[str]) -> int:
    url = argv[0] if argv else DEFAULT_URL
    problem = health_problem(url, host=probe_host(os.environ.get("DJANGO_ALLOWED_HOSTS", "")))
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
