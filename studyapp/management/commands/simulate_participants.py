from __future__ import annotations

import random
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from studyapp.bot_strategies import STRATEGIES, Shown, TrialView, points_at_cue, strategy_answer
from studyapp.bots import Bot, Chooser, DjangoClientTransport
from studyapp.models import Condition, Participant, Stimulus, Study, Trial
from studyapp.selectors.designs import design_shows_explanation, design_task


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


def _shown(stimulus: Stimulus) -> Shown:
    cue = stimulus.cue or {}
    return Shown(str(cue["class"]) if cue.get("present") else None, stimulus.relevance_in_cue)


def db_trial_view(token: str, position: int, options: list[str]) -> TrialView | None:
    """What a participant can know on trial ``position`` (read-only)."""
    trial = (
        Trial.objects.select_related("stimulus", "partner", "condition", "participant__study")
        .filter(participant__token=token, position=position)
        .first()
    )
    if trial is None:
        return None
    study, modality = trial.participant.study, trial.condition.modality
    shows = modality != Condition.Modality.NONE and design_shows_explanation(
        study=study, kind=trial.kind
    )
    stimuli = [trial.stimulus, *([trial.partner] if trial.partner else [])]
    audible_label = bool(trial.stimulus.label_audible) and modality in {"audible", "both"}
    learning = Trial.objects.filter(
        participant=trial.participant, kind=Trial.Kind.LEARNING, position__lt=position
    ).exclude(condition__modality=Condition.Modality.NONE)
    return TrialView(
        kind=trial.kind,
        task=design_task(study),
        options=tuple(options),
        expected_answer=trial.expected_answer,
        heard=None if study.explanation_only and not audible_label else trial.stimulus.true_label,
        explanations=tuple(_shown(s) for s in stimuli) if shows else (),
        heard_cue=None if study.explanation_only else _shown(trial.stimulus).cue_class,
        learned_cue=trial.kind == Trial.Kind.MAIN
        and any(points_at_cue(_shown(t.stimulus)) for t in learning.select_related("stimulus")),
    )


def db_strategy(strategy: str, lapse: float) -> Chooser:
    """A bot's answer chooser that follows ``strategy`` (see ``studyapp.bot_strategies``)."""

    def choose(token: str, position: int, options: list[str], rng: random.Random) -> str | None:
        view = db_trial_view(token, position, options)
        if view is None:
            return None
        return strategy_answer(strategy=strategy, view=view, rng=rng, lapse=lapse)

    return choose


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
            "--strategy",
            choices=STRATEGIES,
            default=None,
            help="answer as a participant would: the digit heard, what the explanation shows, "
            "or at random (positive and negative controls; excludes --accuracy)",
        )
        parser.add_argument(
            "--lapse",
            type=float,
            default=0.1,
            help="with --strategy: probability of a random answer on a trial (default 0.1)",
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
        lapse = _probability(opts["lapse"], "--lapse") or 0.0
        if opts["strategy"] and accuracy is not None:
            raise CommandError("--strategy and --accuracy exclude each other: choose one")
        chooser = db_strategy(opts["strategy"], lapse) if opts["strategy"] else None
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
                chooser=chooser,
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
