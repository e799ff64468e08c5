from __future__ import annotations

import random
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from studyapp.bots import Bot, DjangoClientTransport
from studyapp.models import Participant, Study, Trial


def db_oracle(token: str, position: int) -> str | None:
    """The answer that would be scored correct (read-only; bots never write to the database)."""
    trial = (
        Trial.objects.select_related("stimulus", "participant__study")
        .filter(participant__token=token, position=position)
        .first()
    )
    if trial is None:
        return None
    if trial.kind == Trial.Kind.CATCH:
        return trial.expected_answer
    if trial.participant.study.task == Study.Task.VERIFICATION:
        return "yes" if trial.stimulus.model_correct else "no"
    return trial.stimulus.predicted_label


def db_screen_oracle(token: str, number: int) -> int | None:
    """The interval that holds the Huggins-pitch tone in sound check ``number`` (read-only)."""
    participant = Participant.objects.filter(token=token).only("screening").first()
    targets = (participant.screening or {}).get("targets", []) if participant else []
    return targets[number - 1] if 0 < number <= len(targets) else None


def _probability(value: float | None, flag: str) -> float | None:
    if value is not None and not 0 <= value <= 1:
        raise CommandError(f"{flag} must be between 0 and 1, got {value}")
    return value


class Command(BaseCommand):
    help = (
        "Run bots that take a study through its real pages and forms (for testing before launch)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="study slug")
        parser.add_argument("--n", type=int, required=True, help="number of simulated participants")
        parser.add_argument(
            "--accuracy",
            type=float,
            default=None,
            help="probability of a correct answer (default: answer at random)",
        )
        parser.add_argument(
            "--screen-accuracy",
            type=float,
            default=1.0,
            help="probability of picking the right interval in each headphone-screen trial "
            "(default 1: every bot passes; 0.33 is a loudspeaker listener guessing)",
        )
        parser.add_argument(
            "--decline-share",
            type=float,
            default=0.0,
            help="share of bots that decline consent (default 0)",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--label-prefix", default="bot")

    def handle(self, *args: Any, **opts: Any) -> None:
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {opts['study']!r}")
        if opts["n"] < 1:
            raise CommandError("--n must be at least 1")
        accuracy = _probability(opts["accuracy"], "--accuracy")
        screen_accuracy = _probability(opts["screen_accuracy"], "--screen-accuracy")
        decline = _probability(opts["decline_share"], "--decline-share") or 0.0
        if not study.is_open:
            raise CommandError(
                f"study {study.slug!r} is {study.status}; set it to pilot or live first"
            )
        rng = random.Random(opts["seed"])
        outcomes: Counter[str] = Counter()
        answers = 0
        for i in tqdm(range(opts["n"]), desc="participants", unit="bot", disable=None):
            bot = Bot(
                DjangoClientTransport(remote_addr=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"),
                study.slug,
                f"{opts['label_prefix']}-{opts['seed']}-{i}",
                random.Random(rng.getrandbits(64)),
                accuracy,
                db_oracle,
                screen_accuracy,
                db_screen_oracle,
                agree=rng.random() >= decline,
            )
            result = bot.run()
            outcomes[result.outcome] += 1
            answers += result.answers
            if result.outcome not in {"completed", "declined", "screened_out"}:
                self.stderr.write(
                    f"bot {result.label} stopped at {result.final_path} ({result.outcome})"
                )
        detail = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if k != "completed")
        self.stdout.write(
            f"{outcomes['completed']} of {opts['n']} simulated participants completed, "
            f"{answers} answers given" + (f" ({detail})" if detail else "")
        )
