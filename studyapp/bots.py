"""Simulated participants that take a study through the same pages and forms as a browser.

A bot reads each page's HTML, finds its form, fills it in and submits it, following
redirects exactly as a browser would, so it exercises URLs, views, forms, CSRF and
services together: consent, demographics, volume calibration, the headphone screen,
instructions, practice trials with their feedback pages, main and catch trials. It
never writes to the database. To answer with a chosen accuracy it may *read* which
answer is correct (an oracle a real participant does not have).

A bot cannot run the pages' JavaScript, so it sends the audio event log a browser
would send for one complete play of each clip the page requires, timed by the clip
durations the page states.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Protocol
from urllib.parse import urlencode

TERMINAL = {
    "/done/": "completed",
    "/declined/": "declined",
    "/screened-out/": "screened_out",
    "/expired/": "expired",
    "/withdrawn/": "withdrawn",
}


def listen_log(audio: dict[str, float | None]) -> list[dict[str, object]]:
    """A browser's event log for one complete play of every player on the page, one after the other.

    ``audio`` maps each player (``original``, ``explanation``) to its clip's duration in
    seconds (None: unknown, taken as one second).
    """
    events: list[dict[str, object]] = []
    t = 10.0
    for media, duration in audio.items():
        seconds = duration or 1.0
        events.append({"media": media, "event": "play", "client_ms": t, "media_time_s": 0.0})
        t += 1000 * seconds + 5
        events.append({"media": media, "event": "ended", "client_ms": t, "media_time_s": seconds})
        t += 300
    return events


class Transport(Protocol):
    def get(self, path: str) -> tuple[int, str, str]: ...  # (status, final path, html)
    def post(self, path: str, data: dict[str, str]) -> tuple[int, str, str]: ...


class DjangoClientTransport:
    """In-process transport through Django's full request/response stack (CSRF enforced).

    ``remote_addr`` sets the client address each request claims, so that many bots
    look like many clients to the per-client rate limit, as real participants do.
    """

    def __init__(self, remote_addr: str = "127.0.0.1") -> None:
        from django.test import Client

        self.client = Client(enforce_csrf_checks=True, REMOTE_ADDR=remote_addr)

    def _result(self, response: object) -> tuple[int, str, str]:
        chain = getattr(response, "redirect_chain", [])
        final = chain[-1][0] if chain else getattr(response, "request", {}).get("PATH_INFO", "")
        return response.status_code, final, response.content.decode("utf-8", "replace")  # type: ignore[attr-defined]

    def get(self, path: str) -> tuple[int, str, str]:
        return self._result(self.client.get(path, follow=True))

    def post(self, path: str, data: dict[str, str]) -> tuple[int, str, str]:
        return self._result(self.client.post(path, data, follow=True))


@dataclass
class FormInput:
    name: str
    kind: str  # input type, or "button"
    value: str
    low: str = ""  # a number input's smallest allowed value


class _FormParser(HTMLParser):
    """The first form's action, method and named controls; the page's audio players."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "post"
        self.controls: list[FormInput] = []
        self.in_form = False
        self.audio: dict[str, float | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.in_form, self.action = True, a.get("action", "")
            self.method = (a.get("method") or "get").lower()
        elif tag in {"input", "button"} and self.in_form and a.get("name"):
            kind = "button" if tag == "button" else a.get("type", "text").lower()
            self.controls.append(FormInput(a["name"], kind, a.get("value", ""), a.get("min", "")))
        elif tag == "audio" and a.get("data-media"):
            duration = a.get("data-duration-s", "")
            self.audio[a["data-media"]] = float(duration) if _is_float(duration) else None

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False

    def options(self, name: str) -> list[str]:
        return [c.value for c in self.controls if c.name == name]

    def kind(self, name: str) -> str | None:
        return next((c.kind for c in self.controls if c.name == name), None)

    def fixed_fields(self) -> dict[str, str]:
        """Fields sent back as the page gave them (CSRF token, submission key, ...)."""
        return {
            c.name: c.value
            for c in self.controls
            if c.kind == "hidden" and c.name not in {"events", "rt_ms"}
        }


# Pages of questions about the participant (built-in, custom before and after the trials).
QUESTION_PAGES = ("/about-you/", "/questions/", "/last-questions/")
QUESTION_INPUTS = {"radio", "checkbox", "text", "number"}


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_form(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


@dataclass
class BotResult:
    label: str
    final_path: str
    completed: bool
    outcome: str = "stopped"
    answers: int = 0
    correct: int = 0
    screening_answers: int = 0
    pages: list[str] = field(default_factory=list)


Oracle = Callable[[str, int], str | None]  # (token, trial position) -> correct answer
# (token, trial position, answer options, generator) -> the answer to give
Chooser = Callable[[str, int, list[str], random.Random], str | None]
ScreenOracle = Callable[
    [str, int], int | None
]  # (token, sound-check number) -> interval with the tone


@dataclass
class Bot:
    """One simulated participant.

    ``accuracy``: chance of answering a trial correctly (needs ``oracle``; otherwise at
    random). ``chooser``: picks the answer instead (a strategy, see
    ``studyapp.bot_strategies``). ``screen_accuracy``: chance of picking the right interval in each sound
    check (needs ``screen_oracle``; 1.0 passes, 1/3 is a loudspeaker listener guessing).
    """

    transport: Transport
    slug: str
    label: str
    rng: random.Random
    accuracy: float | None = None
    oracle: Oracle | None = None
    screen_accuracy: float | None = 1.0
    screen_oracle: ScreenOracle | None = None
    agree: bool = True
    max_pages: int = 500
    chooser: Chooser | None = None

    def run(self) -> BotResult:
        query = urlencode({"participant": self.label})
        status, path, html = self.transport.get(f"/s/{self.slug}/?{query}")
        result = BotResult(self.label, path, False)
        for _ in range(self.max_pages):
            result.pages.append(path)
            result.final_path = path
            outcome = next((name for marker, name in TERMINAL.items() if marker in path), None)
            if status != 200 or outcome:
                result.outcome = outcome or f"http {status}"
                result.completed = outcome == "completed"
                return result
            form = parse_form(html)
            if form.action is None:
                result.outcome = "no form"
                return result
            status, path, html = self._step(path, form, result)
        return result

    def _step(self, path: str, form: _FormParser, result: BotResult) -> tuple[int, str, str]:
        target = form.action or path
        if form.method == "get":
            return self.transport.get(target)
        data = form.fixed_fields()
        if "/consent/" in path:
            data["decision"] = "agree" if self.agree else "decline"
        elif any(page in path for page in QUESTION_PAGES):
            data.update(self._questions(form))
        elif "/volume/" in path:
            data["plays"] = "1"
        elif "/sound-check/" in path:
            data.update(self._screening_answer(path, form, result))
        elif "/trial/" in path:
            data.update(self._answer(path, form, result))
        return self.transport.post(target, data)

    def _questions(self, form: _FormParser) -> dict[str, str]:
        """Answers to built-in or custom questions: an option at random, a word, a number."""
        answers = {}
        for c in {c.name: c for c in form.controls if c.kind in QUESTION_INPUTS}.values():
            if c.kind in {"radio", "checkbox"}:
                answers[c.name] = self.rng.choice(form.options(c.name))
            else:
                answers[c.name] = (c.low or "1") if c.kind == "number" else "English"
        return answers

    def _screening_answer(self, path: str, form: _FormParser, result: BotResult) -> dict[str, str]:
        match = re.search(r"/p/([^/]+)/sound-check/(\d+)/", path)
        right = (
            self.screen_oracle(match.group(1), int(match.group(2)))
            if (self.screen_oracle and match)
            else None
        )
        options = [int(v) for v in form.options("answer")] or [1, 2, 3]
        if right is not None and self.screen_accuracy is not None:
            wrong = [o for o in options if o != right]
            choice = right if self.rng.random() < self.screen_accuracy else self.rng.choice(wrong)
        else:
            choice = self.rng.choice(options)
        result.screening_answers += 1
        duration = form.audio.get("screening") or 4.0
        events = [
            {"media": "screening", "event": "play", "client_ms": 500.0, "media_time_s": 0.0},
            {
                "media": "screening",
                "event": "ended",
                "client_ms": 505.0 + 1000 * duration,
                "media_time_s": duration,
            },
        ]
        return {
            "answer": str(choice),
            "rt_ms": f"{self.rng.lognormvariate(7.0, 0.4):.1f}",
            "events": json.dumps(events),
        }

    def wait_out_audio(self, seconds: float) -> None:
        """Take the time the trial's audio plays, as a listener would: the server refuses
        an answer that comes sooner (tests move a simulated clock on instead)."""
        time.sleep(seconds)

    def _answer(self, path: str, form: _FormParser, result: BotResult) -> dict[str, str]:
        options = form.options("answer")
        match = re.search(r"/p/([^/]+)/trial/(\d+)/", path)
        right = (
            self.oracle(match.group(1), int(match.group(2))) if (self.oracle and match) else None
        )
        chosen = (
            self.chooser(match.group(1), int(match.group(2)), options, self.rng)
            if (self.chooser and match)
            else None
        )
        if chosen is not None:
            choice = chosen
        elif right is not None and self.accuracy is not None:
            wrong = [o for o in options if o != right] or options
            choice = right if self.rng.random() < self.accuracy else self.rng.choice(wrong)
        else:
            choice = self.rng.choice(options)
        result.answers += 1
        result.correct += int(choice == right)
        rt = self.rng.lognormvariate(7.6, 0.4)  # about 2 s, like a person
        events = listen_log(form.audio)
        self.wait_out_audio(events[-1]["client_ms"] / 1000 if events else 0.0)  # type: ignore[operator]
        answer = {
            "answer": choice,
            "rt_ms": f"{rt:.1f}",
            "events": json.dumps(events),
        }
        if form.kind("rating"):
            answer["rating"] = str(self.rng.randint(1, 7))
        if form.kind("confidence"):
            answer["confidence"] = str(self.rng.randint(0, 100))
        return answer
