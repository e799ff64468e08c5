"""Prepare a site for the load benchmark and the fault tests: ``python -m tests.load_site OUT [options]``.

Run in a child process with the production environment (DATABASE_URL, DJANGO_DEBUG=0,
...): migrates, collects static files (pages need the manifest with DEBUG off),
imports a synthetic bundle, creates a live study and, on request, a staff account and
participants already at their first trial. Writes what it made to OUT as JSON:
``study_id``, ``slug``, ``longest_clip_s`` and ``ready`` (a list of [token, modality]).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import django

SLUG = "load"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument(
        "--ready", type=int, default=0, help="participants to enrol up to their first trial"
    )
    parser.add_argument("--staff", default="", help="user:password of a staff account to create")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    study = _study(args.out.parent / "bundle", args.trials, args.seed)
    if args.staff:
        _staff(*args.staff.split(":", 1))
    args.out.write_text(
        json.dumps(
            {
                "study_id": study.pk,
                "slug": SLUG,
                "longest_clip_s": _longest_clip(),
                "ready": _ready(study, args.ready),
            }
        )
    )
    return 0


def _study(bundle_dir: Path, trials: int, seed: int) -> object:
    from studyapp.services.bundles import bundle_import
    from studyapp.services.studies import study_create
    from tests.synthetic_bundle import write_synthetic_bundle

    bundle = bundle_import(bundle_dir=write_synthetic_bundle(bundle_dir, n=max(48, trials + 8)))
    return study_create(
        slug=SLUG,
        title="Load",
        bundle=bundle,
        status="live",
        n_trials=trials,
        seed=seed,
        consent_text="Consent.",
        conditions=[("visual", "visual", ""), ("audible", "audible", "")],
    )


def _staff(username: str, password: str) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser(username, f"{username}@example.org", password)


def _ready(study: object, n: int) -> list[list[str]]:
    from tqdm import tqdm

    from studyapp.services.participants import (
        participant_consent,
        participant_enroll,
        participant_instructions_done,
    )

    people = []
    for i in tqdm(
        range(n), desc="enrolling participants", unit="participant", file=sys.stderr, disable=not n
    ):
        person, _ = participant_enroll(study=study, recruitment={"participant_label": f"ready-{i}"})  # type: ignore[arg-type]
        participant_consent(participant=person, agree=True)
        participant_instructions_done(participant=person)
        people.append([person.token, person.condition.modality])
    return people


def _longest_clip() -> float:
    from studyapp.models import MediaFile

    durations = MediaFile.objects.filter(media_type="audio/wav", duration_s__isnull=False)
    return max(durations.values_list("duration_s", flat=True))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
