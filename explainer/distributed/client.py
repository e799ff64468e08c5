"""The coordinator's Celery client and its result backend (Celery's Redis backend, polled)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from celery.backends.redis import RedisBackend

from explainer.errors import UserError

if TYPE_CHECKING:
    from celery import Celery


class PolledRedisBackend(RedisBackend):
    """Celery's Redis result backend without a subscription per sent task.

    The stock backend subscribes to every sent task's result channel. The coordinator
    polls (MGET) instead, so thousands of results published to a subscription it never
    reads would pile up on that connection until Redis cut it (pubsub output limits).
    """

    def on_task_call(self, producer: Any, task_id: str) -> None:
        """Subscribe to nothing: :func:`collect` polls."""


def make_client(broker: str | None = None) -> Celery:
    """A Celery app configured like the workers', talking to ``broker`` (default ``REDIS_URL``)."""
    from celery import Celery

    from explainer.celery_app import ConfigurationError, configuration, redis_url

    try:
        url = redis_url(broker, name="--broker")
    except ConfigurationError as exc:
        raise UserError(str(exc)) from None
    client = Celery("explainer-coordinator")
    # Celery's "backend-class+url" form: the same Redis as the workers store into, polled.
    client.conf.update(
        configuration(url) | {"result_backend": f"{__name__}:PolledRedisBackend+{url}"}
    )
    return client


def check_broker(client: Celery) -> None:
    """Fail with one clear line if the broker does not answer."""
    try:
        with client.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
    except Exception as exc:  # kombu raises the transport's own errors
        raise UserError(
            f"cannot reach the broker at {without_password(client.conf.broker_url)}: {exc}"
        ) from None


def without_password(url: str) -> str:
    """``url`` with its password masked, for messages."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":**@", 1)).geturl()


def warn_if_no_worker(client: Celery, queue: str) -> None:
    """Say so on stderr when no worker consumes ``queue`` yet (the chunks then wait for one)."""
    replies = client.control.inspect(timeout=1.0).active_queues() or {}
    if not any(q.get("name") == queue for queues in replies.values() for q in queues):
        print(
            f"warning: no worker consumes queue {queue!r} yet; chunks wait until one starts "
            f"(celery -A explainer.celery_app worker -Q {queue})",
            file=sys.stderr,
        )
