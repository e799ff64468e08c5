"""Participants over real HTTP: an asyncio HTTP/1.1 client and a walk through a whole study.

Used by the load benchmark (benchmarks/load.py) and the fault tests (tests/reliability):
each simulated participant opens the entry link, enrols, consents, reads the
instructions and answers every trial through the real pages, with keep-alive
connections, the CSRF cookie and token, the page's idempotency key and the audio
event log the server's audio rules require (one full play of every clip the page
has, timed by the durations the page states). Like the pages' own script
(studyapp/static/studyapp/common.js), an answer whose reply is lost (connection
dropped, server restarting: a 5xx page) is sent again with the same key until the
server confirms it, so the participant carries on after a fault.

Standard library only (plus ``studyapp.bots.parse_form``, itself standard library), but
for :func:`check_answers`, which reads the database afterwards with psycopg.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from studyapp.bots import listen_log, parse_form

MEDIA_SRC = re.compile(r'src="(/m/[0-9a-f]{64}\.(?:wav|png))"')
PRELOAD = re.compile(r'data-preload="([^"]*)"')
# Beyond the audio's own length, what a listener takes before answering can start (the
# server refuses an answer sooner than the required listening, on its own clock).
LISTEN_MARGIN_S = 0.05


def trial_media(html: str) -> list[str]:
    """The media a trial's HTML loads (its own players and picture)."""
    return list(dict.fromkeys(MEDIA_SRC.findall(html)))


def preload_media(html: str) -> list[str]:
    """The media of the trial after this one, which the page preloads (``data-preload``)."""
    found = PRELOAD.search(html)
    return found.group(1).split() if found else []


def listening_s(events: list[dict[str, object]]) -> float:
    """How long the listen that ``events`` logs takes (its last event's time, in seconds)."""
    return float(events[-1]["client_ms"]) / 1000 if events else 0.0  # type: ignore[arg-type]


class ConnectionProblem(Exception):
    """The connection failed before a complete reply arrived (the request may or may not have run)."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        return json.loads(self.body)

    @property
    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json")


class HttpClient:
    """One keep-alive HTTP/1.1 connection with a cookie jar, reopened when it breaks.

    ``headers`` go with every request: the load tests send what the TLS proxy in front
    of the site would add (``X-Forwarded-Proto``, ``X-Forwarded-For``, ``Host``).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        headers: dict[str, str] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.headers = headers or {}
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass

    async def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send one request and read its whole reply; :class:`ConnectionProblem` if the connection fails."""
        body = urlencode(form).encode() if form is not None else b""
        head = {**self.headers, **(headers or {})}
        head.setdefault("Host", self.host)
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            head["Content-Type"] = "application/x-www-form-urlencoded"
        head["Content-Length"] = str(len(body))
        raw = (
            f"{method} {path} HTTP/1.1\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in head.items())
            + "\r\n"
        )
        try:
            return await asyncio.wait_for(self._exchange(raw.encode() + body), self.timeout_s)
        except (
            TimeoutError,
            OSError,
            ConnectionError,
            asyncio.IncompleteReadError,
            ValueError,
        ) as exc:
            await self.close()
            raise ConnectionProblem(f"{method} {path}: {type(exc).__name__}: {exc}") from None

    async def _exchange(self, data: bytes) -> Reply:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(data)
        await self._writer.drain()
        status_line = await self._reader.readuntil(b"\r\n")
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self._reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cookie = value.split(";", 1)[0]
                key, _, cookie_value = cookie.partition("=")
                self.cookies[key.strip()] = cookie_value.strip()
            headers[name] = value
        body = await self._read_body(headers)
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(status, headers, body)

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        assert self._reader is not None
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await self._reader.readexactly(size))
                await self._reader.readexactly(2)
            await self._reader.readuntil(b"\r\n")
            return b"".join(chunks)
        return await self._reader.readexactly(int(headers.get("content-length", "0")))


# --------------------------------------------------------------------------- participants


@dataclass
class Pace:
    """How a simulated participant behaves: think time per trial, media downloads, retry waits."""

    think_s: float = 0.0
    think_jitter: float = 0.5  # think time varies uniformly by +- this share
    fetch_media: bool = False
    retry_waits_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)  # the pages wait 1, 2, 4, 8, 15 s
    max_attempts: int = 40


@dataclass
class Walk:
    """What happened to one participant: every answer the server confirmed, and the trouble met."""

    label: str
    token: str = ""
    completed: bool = False
    acknowledged: list[tuple[int, str, int]] = field(
        default_factory=list
    )  # (position, key, events sent)
    errors: list[str] = field(
        default_factory=list
    )  # unexpected replies (a 4xx to a well-formed answer...)
    retries: int = 0  # answers (or pages) sent again after a lost reply
    waited_s: float = 0.0  # time spent on trials before answering (listening and thinking)


Timing = Callable[[str, float, int], None]  # (endpoint, milliseconds, status)


class Participant:
    """One simulated person taking study ``slug`` over ``client``.

    ``origin`` is the site's public origin (the CSRF check compares it); ``timing`` is
    called for every request with the endpoint's name, its latency and the status.
    """

    def __init__(
        self,
        client: HttpClient,
        *,
        slug: str,
        label: str,
        origin: str,
        pace: Pace,
        rng: random.Random,
        timing: Timing | None = None,
    ) -> None:
        self.client, self.slug, self.origin, self.pace, self.rng = client, slug, origin, pace, rng
        self.walk = Walk(label)
        self.cached: set[str] = set()  # media this browser has (a browser cache keeps them)
        self.swapped: tuple[str, str] | None = (
            None  # (path, html) of a trial an answer's reply carried
        )
        self.timing = timing or (lambda endpoint, ms, status: None)

    async def send(
        self,
        endpoint: str,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request, retried (same content) while the connection fails or the server answers 5xx/429."""
        extra = {"Origin": self.origin, **(headers or {})} if method == "POST" else headers
        for attempt in range(self.pace.max_attempts):
            started = time.perf_counter()
            try:
                reply = await self.client.request(method, path, form=form, headers=extra)
            except ConnectionProblem:
                self.timing(endpoint, (time.perf_counter() - started) * 1000, 0)
            else:
                self.timing(endpoint, (time.perf_counter() - started) * 1000, reply.status)
                if reply.status < 500 and reply.status != 429:
                    return reply
            self.walk.retries += 1
            await asyncio.sleep(
                self.pace.retry_waits_s[min(attempt, len(self.pace.retry_waits_s) - 1)]
            )
        raise ConnectionProblem(
            f"{method} {path}: no answer after {self.pace.max_attempts} attempts"
        )

    async def run(self) -> Walk:
        """Take the whole study; returns the :class:`Walk` (also on failure, with the reason in ``errors``)."""
        try:
            path = await self._enrol()
            while path is not None:
                path = await self._page(path)
        except ConnectionProblem as exc:
            self.walk.errors.append(str(exc))
        return self.walk

    async def _enrol(self) -> str | None:
        query = urlencode({"participant": self.walk.label})
        page = await self.send("entry_page", "GET", f"/s/{self.slug}/?{query}")
        form = parse_form(page.body.decode())
        if page.status != 200 or form.action is None:
            return self._unexpected("entry page", page)
        data = {**form.fixed_fields(), "participant": self.walk.label}
        reply = await self.send("enrol", "POST", f"/s/{self.slug}/", data)
        location = reply.headers.get("location", "")
        match = re.search(r"/p/([A-Za-z0-9_-]+)/", location)
        if reply.status != 302 or match is None:
            return self._unexpected("enrolment", reply)
        self.walk.token = match.group(1)
        return urlsplit(location).path

    async def _page(self, path: str) -> str | None:
        """Visit ``path``; returns the next path, or None when the walk ends."""
        endpoint = _endpoint(path)
        if self.swapped is not None and self.swapped[0] == path:
            # The runner draws the trial from the answer's reply, with no page load.
            html, self.swapped = self.swapped[1], None
            return await self._answer(path, html, parse_form(html))
        reply = await self.send(
            endpoint + "_page" if endpoint == "trial" else endpoint, "GET", path
        )
        if reply.status in {301, 302}:
            return urlsplit(reply.headers["location"]).path
        if reply.status != 200:
            return self._unexpected(path, reply)
        if endpoint == "done":
            self.walk.completed = True
            return None
        form = parse_form(reply.body.decode())
        if form.action is None:
            return self._unexpected(f"{path} (no form)", reply)
        if endpoint == "trial":
            return await self._answer(path, reply.body.decode(), form)
        data = form.fixed_fields()
        if endpoint == "consent":
            data["decision"] = "agree"
        reply = await self.send(endpoint, "POST", path, data)
        if reply.status != 302:
            return self._unexpected(f"POST {path}", reply)
        return urlsplit(reply.headers["location"]).path

    async def _answer(self, path: str, html: str, form: object) -> str | None:
        shown = time.perf_counter()
        if (
            self.pace.fetch_media
        ):  # its own media (already here if preloaded), then the next trial's
            await self._fetch(trial_media(html) + preload_media(html))
        events = listen_log(form.audio)  # type: ignore[attr-defined]
        jitter = 1 + self.pace.think_jitter * (2 * self.rng.random() - 1)
        on_trial = max(self.pace.think_s * jitter, listening_s(events) + LISTEN_MARGIN_S)
        self.walk.waited_s += on_trial
        await asyncio.sleep(max(0.0, shown + on_trial - time.perf_counter()))
        options = form.options("answer")  # type: ignore[attr-defined]
        data = {
            **form.fixed_fields(),  # type: ignore[attr-defined]
            "answer": self.rng.choice(options),
            "rt_ms": f"{self.rng.lognormvariate(7.6, 0.4):.1f}",
            "events": json.dumps(events),
        }
        submitted = time.perf_counter()
        reply = await self.send("answer", "POST", path, data, headers={"X-Requested-With": "fetch"})
        following = self._after_answer(path, data["submission_key"], len(events), reply)
        carried = reply.json().get("trial") if reply.is_json else None
        if isinstance(carried, dict) and following is not None:
            self.swapped = (following, str(carried["html"]))
            if self.pace.fetch_media:
                await self._fetch(trial_media(self.swapped[1]))
            # From "answer submitted" to "next trial ready to play", its media included.
            self.timing("next_trial", (time.perf_counter() - submitted) * 1000, reply.status)
        return following

    async def _fetch(self, urls: list[str]) -> None:
        """Fetch the media not in this browser's cache yet."""
        for src in urls:
            if src not in self.cached:
                await self.send("media", "GET", src)
                self.cached.add(src)

    def _after_answer(self, path: str, key: str, n_events: int, reply: Reply) -> str | None:
        if not reply.is_json:
            return self._unexpected(f"answer to {path}", reply)
        body = reply.json()
        if reply.status == 200 and body.get("ok"):
            position = int(re.search(r"/trial/(\d+)/", path).group(1))  # type: ignore[union-attr]
            self.walk.acknowledged.append((position, key, n_events))
        elif reply.status != 409:  # 409: the page was out of date; the server says where to go
            return self._unexpected(f"answer to {path}", reply)
        return urlsplit(str(body["next"])).path

    def _unexpected(self, what: str, reply: Reply) -> None:
        self.walk.errors.append(f"{what}: HTTP {reply.status} {reply.body[:200]!r}")
        return None


def _endpoint(path: str) -> str:
    """The page's name from its path (``/p/<token>/trial/3/`` -> ``trial``)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "p":
        return {
            "about-you": "demographics",
            "volume": "calibration",
            "sound-check": "screening",
        }.get(parts[2], parts[2])
    return "resume" if parts[:1] == ["p"] else "page"


def forwarded_headers(client_number: int, host: str = "localhost") -> dict[str, str]:
    """What the TLS proxy adds for a participant: HTTPS, their own address, the public host name."""
    address = f"10.{(client_number >> 16) & 255}.{(client_number >> 8) & 255}.{client_number & 255}"
    return {"X-Forwarded-Proto": "https", "X-Forwarded-For": address, "Host": host}


def new_submission_key() -> str:
    return secrets.token_urlsafe(16)


# --------------------------------------------------------------------------- checking the database afterwards


def stored_answers(database_url: str) -> dict[tuple[str, int], tuple[str, int, int]]:
    """(token, position) -> (submission key, responses for the trial, audio events stored)."""
    import psycopg

    query = """
        SELECT p.token, t.position, min(r.submission_key), count(DISTINCT r.id),
               (SELECT count(*) FROM studyapp_audioevent e WHERE e.trial_id = t.id)
        FROM studyapp_response r JOIN studyapp_trial t ON r.trial_id = t.id
        JOIN studyapp_participant p ON t.participant_id = p.id
        GROUP BY p.token, t.position, t.id
    """
    with psycopg.connect(database_url) as conn:
        return {
            (token, pos): (key, n, events) for token, pos, key, n, events in conn.execute(query)
        }


def check_answers(
    database_url: str, acknowledged: dict[str, list[tuple[int, str, int]]]
) -> dict[str, int]:
    """Lost: acknowledged but not stored (or stored under another key); duplicated: stored twice."""
    stored = stored_answers(database_url)
    lost = duplicated = 0
    for token, answers in acknowledged.items():
        for position, key, n_events in answers:
            found = stored.get((token, position))
            if found is None or found[0] != key:
                lost += 1
            elif found[1] > 1 or found[2] > n_events:
                duplicated += 1
    return {
        "acknowledged": sum(len(a) for a in acknowledged.values()),
        "stored": len(stored),
        "answers_lost": lost,
        "answers_duplicated": duplicated,
    }
