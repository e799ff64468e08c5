"""Per-minute rate limits on the participant pages that create or store something.

Entry links are limited per client address (a script starting sessions in a loop),
answers per session (a script hammering one session). Both limits sit far above
what a person does: a participant posts an answer every few seconds at most, and
even a lab whose participants share one address starts far fewer than 60 sessions a
minute. Counters live in Redis (``RATE_LIMIT_REDIS_URL``) for one minute, or in this
process's memory without one; the address and the token are counted only as keyed
hashes, never stored.

Nothing on the participant path may depend on Redis: if Redis fails, the counters move
to this process's memory for ``FALLBACK_S`` seconds (limits then count per web
process) and the request goes on.

Why not django-ratelimit (4.1, measured 2026-12, docs/benchmarks.md "issue 19"): it
counts through Django's cache with ``add`` then ``incr`` (three Redis commands with
Django's Redis backend, against one script call here), and a Redis outage either
raises out of the view (a participant's answer fails) or, with ``RATELIMIT_FAIL_OPEN``,
switches limits off; the fallback to process memory above has no equivalent there. Its
cache keys are unkeyed hashes of the address (guessable for IPv4), ours HMACs with the
secret key. This module uses only redis-py's documented client (``Redis.from_url``,
``register_script``) and Django's documented cache API for the memory counters.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

import redis
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse

from studyapp.views.common import problem

logger = logging.getLogger(__name__)
FALLBACK_S = 10.0
# Short timeouts: with Redis unreachable a request falls back to memory instead of stalling.
REDIS_TIMEOUT_S = 0.5
_local = LocMemCache("hearxai-rate-limits", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
_shared_down_until = 0.0
_lock = threading.Lock()


def client_address(request: HttpRequest) -> str:
    """The participant's address: from ``X-Forwarded-For`` behind ``PROXY_COUNT`` trusted proxies.

    Each proxy appends the address it received the request from, so with N proxies the
    N-th entry from the end is the client; entries before it are whatever the client
    sent and are ignored. Without proxies (or a short header) it is ``REMOTE_ADDR``.
    """
    hops = int(getattr(settings, "PROXY_COUNT", 0) or 0)
    if hops > 0:
        forwarded = [
            a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def _digest(text: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()[:24]


def _hit(key: str) -> int:
    """Count one request under ``key`` (expires after a minute); returns the count so far."""
    global _shared_down_until
    url = settings.RATE_LIMIT_REDIS_URL
    if not url or time.monotonic() < _shared_down_until:
        return _count_in_memory(key)
    try:
        return int(_count_script(url)(keys=[key], args=[COUNTER_TTL_S]))
    except Exception as exc:  # any failure of Redis must not fail a participant's request
        with _lock:
            if time.monotonic() >= _shared_down_until:
                logger.warning(
                    "rate limits counted in process memory for %.0f s: Redis failed (%s)",
                    FALLBACK_S,
                    exc,
                )
            _shared_down_until = time.monotonic() + FALLBACK_S
        return _count_in_memory(key)


# Count and, on the first count, set the expiry: one atomic command, one round trip.
_COUNT_SCRIPT = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n"
COUNTER_TTL_S = 61


@lru_cache(maxsize=8)
def _count_script(url: str) -> Any:
    """The counting script on a Redis client for ``url``, made once per URL, not per request.

    Building a client (and its connection pool) costs more than the round trip; the
    client is thread-safe and its pool shared by the process's threads.
    """
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    return client.register_script(_COUNT_SCRIPT)


def _count_in_memory(key: str) -> int:
    _local.add(key, 0, timeout=COUNTER_TTL_S)
    try:
        return _local.incr(key)
    except ValueError:  # evicted between add and incr
        _local.set(key, 1, timeout=COUNTER_TTL_S)
        return 1


def over_limit(scope: str, who: str, limit: int) -> bool:
    """True once ``who`` has sent more than ``limit`` requests to ``scope`` in this minute."""
    return _hit(f"hearxai:rl:{scope}:{_digest(who)}:{int(time.time() // 60)}") > limit


def rate_limited(
    setting: str, *, per: str = "client"
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Limit POSTs per minute to ``settings.<setting>`` (0 turns it off).

    ``per="client"`` counts per client address, ``per="session"`` per session token
    (the view's ``token`` argument).
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            limit = int(getattr(settings, setting, 0) or 0)
            who = str(kwargs.get("token", "")) if per == "session" else client_address(request)
            if request.method == "POST" and limit and over_limit(view.__name__, who, limit):
                reply = problem(
                    request,
                    "Too many requests in a short time. Please wait a minute and try again.",
                    status=429,
                )
                reply["Retry-After"] = str(60 - int(time.time()) % 60)
                return reply
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
