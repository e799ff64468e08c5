"""Simulated participants that take a study through the same pages and forms as a browser.

A bot reads each page's HTML, finds its form, fills it in and submits it, following
redirects exactly as a browser would, so it exercises URLs, views, forms, CSRF and
services together. It never writes to the database. To answer with a chosen accuracy
it may *read* which answer is correct (an oracle a real participant does not have).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Protocol
from urllib.parse import urlencode


class Transport(Protocol):
    def get(self, path: str) -> tuple[int, str, str]: ...  # (status, final path, html)
    def post(self, path: str, data: dict[str, str]) -> tuple[int, str, str]: ...


class DjangoClientTransport:
    """In-process transport through Django's full request/response stack (CSRF enforced)."""

    def __init__(self) -> None:
        from django.test import Client

        self.client = Client(enforce_csrf_checks=True)

    def _result(self, response: object) -> tuple[int, str, str]:
        chain = getattr(response, "redirect_chain", [])
        final = chain[-1][0] if chain else getattr(response, "request", {}).get("PATH_INFO", "")
        return response.status_code, final, response.content.decode("utf-8", "replace")  # type: ignore[attr-defined]

    def get(self, path: str) -> tuple[int, str, str]:
        return self._result(self.client.get(path, follow=True))

    def post(self, path: str, data: dict[str, str]) -> tuple[int, str, str]:
        return self._result(self.client.post(path, data, follow=True))


class _FormParser(HTMLParser):
    """Collects the first form's action and inputs (name -> list of values)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.inputs: dict[str, list[str]] = {}
        self.in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.in_form, self.action = True, a.get("action", "")
        elif tag in {"input", "button"} and self.in_form and a.get("name"):
            self.inputs.setdefault(a["name"], []).append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False


def parse_form(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


@dataclass
class BotResult:
    label: str
    final_path: str
    completed: bool
    answers: int = 0
    correct: int = 0
    pages: list[str] = field(default_factory=list)


Oracle = Callable[[str, int], str | None]  # (token, position) -> correct answer


@dataclass
class Bot:
    transport: Transport
    slug: str
    label: str
    rng: random.Random
    accuracy: float | None = None
    oracle: Oracle | None = None
    max_pages: int = 500

    def run(self) -> BotResult:
        query = urlencode({"participant": self.label})
        status, path, html = self.transport.get(f"/s/{self.slug}/?{query}")
        result = BotResult(self.label, path, False)
        form = parse_form(html)
        if status != 200 or form.action is None:
            return result
        status, path, html = self.transport.post(form.action, self._fields(form))
        for _ in range(self.max_pages):
            result.pages.append(path)
            result.final_path = path
            if status != 200 or "/done/" in path or "/declined/" in path:
                result.completed = "/done/" in path
                return result
            status, path, html = self._step(path, html, result)
        return result

    def _fields(self, form: _FormParser) -> dict[str, str]:
        # Hidden fields (CSRF token, submission key) are sent back as the page gave them.
        return {k: v[0] for k, v in form.inputs.items() if k not in {"answer", "rating", "decision"}}

    def _step(self, path: str, html: str, result: BotResult) -> tuple[int, str, str]:
        form = parse_form(html)
        data = self._fields(form)
        if "/consent/" in path:
            data["decision"] = "agree"
        elif "/trial/" in path:
            data.update(self._answer(path, form, result))
        return self.transport.post(form.action or path, data)

    def _answer(self, path: str, form: _FormParser, result: BotResult) -> dict[str, str]:
        options = form.inputs.get("answer", [])
        match = re.search(r"/p/([^/]+)/trial/(\d+)/", path)
        right = self.oracle(match.group(1), int(match.group(2))) if (self.oracle and match) else None
        if right is not None and self.accuracy is not None:
            wrong = [o for o in options if o != right] or options
            choice = right if self.rng.random() < self.accuracy else self.rng.choice(wrong)
        else:
            choice = self.rng.choice(options)
        result.answers += 1
        result.correct += int(choice == right)
        rt = self.rng.lognormvariate(7.6, 0.4)  # about 2 s, like a person
        events = [
            {"media": "original", "event": "play", "client_ms": 10.0, "media_time_s": 0.0},
            {"media": "original", "event": "ended", "client_ms": 1010.0, "media_time_s": 1.0},
        ]
        answer = {"answer": choice, "rt_ms": f"{rt:.1f}", "events": json.dumps(events)}
        if "rating" in form.inputs:
            answer["rating"] = str(self.rng.randint(1, 7))
        if "confidence" in form.inputs:
            answer["confidence"] = str(self.rng.randint(0, 100))
        return answer
