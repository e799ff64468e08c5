from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from studyapp.models import Condition, ImportJob, Study
from studyapp.selectors.jobs import job_wait
from studyapp.services.jobs import import_job_create
from studyapp.services.studies import study_create


class Command(BaseCommand):
    help = "Import a stimulus bundle (folder or zip, as a background job) and optionally create a study on it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("bundle_dir", type=Path, help="bundle folder, or a zip archive of one")
        parser.add_argument(
            "--study", help="slug of a study to create on this bundle (skipped if it exists)"
        )
        parser.add_argument("--title", default="", help="study title (default: from the slug)")
        parser.add_argument(
            "--modalities",
            default="visual,audible",
            help="comma-separated conditions to create: visual, audible, both, none",
        )
        parser.add_argument(
            "--methods",
            default="",
            help="comma-separated explanation methods to cross with the modalities (default: any)",
        )
        parser.add_argument("--status", default=Study.Status.LIVE, choices=Study.Status.values)
        parser.add_argument("--trials", type=int, default=20, help="main trials per participant")
        parser.add_argument("--practice", type=int, default=0, help="practice trials (default 0)")
        parser.add_argument(
            "--catch", type=int, default=0, help="attention-check (catch) trials (default 0)"
        )
        parser.add_argument(
            "--headphone-screen", action="store_true", help="screen for headphones first"
        )
        parser.add_argument(
            "--timeout", type=float, default=600.0, help="seconds to wait for the import job"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        bundle_dir: Path = opts["bundle_dir"]
        if not bundle_dir.is_dir() and not (
            bundle_dir.is_file() and bundle_dir.suffix.lower() == ".zip"
        ):
            raise CommandError(f"{bundle_dir}: neither a bundle folder nor a .zip archive")
        modalities = [m.strip() for m in opts["modalities"].split(",") if m.strip()]
        bad = [m for m in modalities if m not in Condition.Modality.values]
        if bad or not modalities:
            raise CommandError(
                f"unknown modality {bad or modalities}; use {', '.join(Condition.Modality.values)}"
            )
        job = import_job_create(source=bundle_dir.resolve(), study_slug=opts["study"] or "")
        job = job_wait(ImportJob, job_id=job.pk, timeout_s=opts["timeout"])
        if job.status != ImportJob.Status.SUCCEEDED:
            problems = "\n  ".join(job.problems[:50])
            raise CommandError(
                f"import job #{job.pk} {job.status}: {job.message}\n  {problems}".rstrip()
            )
        self.stdout.write(f"imported bundle {job.bundle} ({job.message}), job #{job.pk}")
        if opts["study"]:
            self._study(job, opts, modalities)

    def _study(self, job: ImportJob, opts: dict[str, Any], modalities: list[str]) -> None:
        slug = opts["study"]
        if Study.objects.filter(slug=slug).exists():
            self.stdout.write(f"study {slug!r} exists; left unchanged")
            return
        try:
            methods = [m.strip() for m in opts["methods"].split(",") if m.strip()]
            study = study_create(
                slug=slug,
                title=opts["title"] or slug.replace("-", " ").title(),
                bundle=job.bundle,
                modalities=modalities,
                methods=methods,
                status=opts["status"],
                n_trials=opts["trials"],
                n_practice=opts["practice"],
                n_catch=opts["catch"],
                headphone_screen=opts["headphone_screen"],
                consent_text=DEFAULT_CONSENT,
                completion_code=f"C{job.bundle.manifest_sha256[:6].upper()}",
            )
        except (ValueError, ValidationError) as exc:
            raise CommandError(f"cannot create study {slug!r}: {exc}") from exc
        names = ", ".join(c.name for c in study.conditions.all())
        self.stdout.write(f"created study {study.slug!r} with conditions {names}")


DEFAULT_CONSENT = (
    "You are invited to take part in a research study on how people understand explanations of an "
    "audio classifier. You will listen to short recordings of spoken digits and answer questions.\n\n"
    "Taking part is voluntary; you may stop at any time without giving a reason. We record your answers, "
    "response times and how you played the audio. We do not record your name or IP address. "
    "Your data are stored under a random pseudonym and used for research only."
)
