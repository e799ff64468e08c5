"""Cost of one rate-limit count: ``python benchmarks/rate_limit.py [--redis-url URL]``.

Counts ``--n`` requests through ``studyapp.views.limits.over_limit`` with the counters
in Redis and in process memory, and, for comparison, the same count the way
django-ratelimit makes it (Django's cache API: ``add`` then ``incr`` on the Redis
cache backend, three Redis commands). Also times the first count while Redis is
unreachable (a port where nothing listens): the request that moves the counters to
process memory.

Prints one JSON object: ``us_per_count_redis``, ``us_per_count_memory``,
``us_per_count_cache_add_incr``, ``ms_first_count_redis_down``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def per_call_us(count: Callable[[int], object], n: int) -> float:
    count(-1)  # warm-up: connection, script load
    start = time.perf_counter()
    for i in range(n):
        count(i)
    return round(1e6 * (time.perf_counter() - start) / n, 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL_TEST", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.update(DJANGO_SETTINGS_MODULE="studyapp.settings", REDIS_URL="")
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache.backends.redis import RedisCache

    from studyapp.views import limits
    from tests.processes import free_port

    result: dict[str, float] = {}
    settings.RATE_LIMIT_REDIS_URL = args.redis_url
    result["us_per_count_redis"] = per_call_us(lambda i: limits.over_limit("b", "x", 10**9), args.n)
    settings.RATE_LIMIT_REDIS_URL = ""
    result["us_per_count_memory"] = per_call_us(
        lambda i: limits.over_limit("b", "x", 10**9), args.n
    )
    cache = RedisCache(args.redis_url, {})

    def add_incr(i: int) -> object:
        cache.add("bench:add-incr", 0, timeout=61)
        return cache.incr("bench:add-incr")

    result["us_per_count_cache_add_incr"] = per_call_us(add_incr, args.n)
    settings.RATE_LIMIT_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    start = time.perf_counter()
    limits.over_limit("b", "down", 10)
    result["ms_first_count_redis_down"] = round(1000 * (time.perf_counter() - start), 1)
    print(json.dumps(result | {"n": args.n}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
