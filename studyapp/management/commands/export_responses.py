from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studyapp.models import Study
from studyapp.services.exports import export_write


class Command(BaseCommand):
    help = (
        "Export a study's responses (export v1: trials, participants, events CSV and a codebook)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True)
        parser.add_argument(
            "--out", required=True, type=Path, help="output folder (must not exist or be empty)"
        )
        parser.add_argument(
            "--include-pilot", action="store_true", help="include data collected in pilot mode"
        )
        parser.add_argument(
            "--include-recruitment-ids",
            action="store_true",
            help="add recruitment ids (e.g. Prolific ids) to participants.csv",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {opts['study']!r}")
        try:
            summary = export_write(
                study=study,
                out_dir=opts["out"],
                include_pilot=opts["include_pilot"],
                include_recruitment_ids=opts["include_recruitment_ids"],
                progress=True,
            )
        except FileExistsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"wrote {summary.n_trials} trials, {summary.n_participants} participants, "
            f"{summary.n_events} audio events to {summary.out_dir}"
        )
