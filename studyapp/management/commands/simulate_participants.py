from __future__ import annotations

import random
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from studyapp.bots import Bot, DjangoClientTransport
from studyapp.models import Study, Trial


def db_oracle(token: str, position: int) -> str | None:
    """The answer that would be scored correct (read-only; bots never write to the database)."""
    trial = Trial.objects.select_related("stimulus", "participant__study").filter(
        participant__token=token, position=position
    ).first()
    if trial is None:
        return None
    if trial.kind == Trial.Kind.CATCH:
        return trial.expected_answer
    if trial.participant.study.task == Study.Task.VERIFICATION:
        return "yes" if trial.stimulus.model_correct else "no"
    return trial.stimulus.predicted_label


class Command(BaseCommand):
    help = "Run bots that take a study through its real pages and forms (for testing before launch)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="study slug")
        parser.add_argument("--n", type=int, required=True, help="number of simulated participants")
        parser.add_argument("--accuracy", type=float, default=None,
                            help="probability of a correct answer (default: answer at random)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--label-prefix", default="bot")

    def handle(self, *args: Any, **opts: Any) -> None:
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {opts['study']!r}")
        if opts["n"] < 1:
            raise CommandError("--n must be at least 1")
        if opts["accuracy"] is not None and not 0 <= opts["accuracy"] <= 1:
            raise CommandError("--accuracy must be between 0 and 1")
        if not study.is_open:
            raise CommandError(f"study {study.slug!r} is {study.status}; set it to pilot or live first")
        rng = random.Random(opts["seed"])
        completed = answers = 0
        for i in tqdm(range(opts["n"]), desc="participants", unit="bot", disable=None):
            bot = Bot(DjangoClientTransport(), study.slug, f"{opts['label_prefix']}-{opts['seed']}-{i}",
                      random.Random(rng.getrandbits(64)), opts["accuracy"], db_oracle)
            result = bot.run()
            completed += int(result.completed)
            answers += result.answers
            if not result.completed:
                self.stderr.write(f"bot {result.label} stopped at {result.final_path}")
        self.stdout.write(f"{completed} of {opts['n']} simulated participants completed, {answers} answers given")
