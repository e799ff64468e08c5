"""Helpers for the researcher-side tests: bundles, studies and sessions with real answers.

Sessions are enrolled and answered through the participant services (the same code
the pages call), with an audio event log that obeys every audio rule, so the data
the exports and dashboards read were produced the way a browser produces them.
"""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
import zipfile
from pathlib import Path

import time_machine
from django.utils import timezone

from studyapp.models import Bundle, Participant, Study, Trial
from studyapp.services.bundles import bundle_import
from studyapp.services.participants import (
    Answer,
    participant_consent,
    participant_enroll,
    response_record,
)
from studyapp.services.studies import study_create
from tests.synthetic_bundle import write_synthetic_bundle

METHODS = ("lrp-epsilon-plus-flat", "gradient-x-input")


_FOLDERS: dict[tuple[int, tuple[str, ...], int], Path] = {}
_ROOT = Path(tempfile.mkdtemp(prefix="research-bundles-"))
atexit.register(shutil.rmtree, _ROOT, True)


def bundle_folder(
    *, n: int = 24, methods: tuple[str, ...] = METHODS[:1], n_practice: int = 2
) -> Path:
    """A synthetic bundle folder, written once per test session (writing takes seconds)."""
    key = (n, methods, n_practice)
    if key not in _FOLDERS:
        _FOLDERS[key] = write_synthetic_bundle(
            _ROOT / f"b{len(_FOLDERS)}", n=n, methods=methods, n_practice=n_practice
        )
    return _FOLDERS[key]


def bundle_with(
    tmp_path: Path, *, n: int = 24, methods: tuple[str, ...] = METHODS[:1], n_practice: int = 2
) -> Bundle:
    return bundle_import(bundle_dir=bundle_folder(n=n, methods=methods, n_practice=n_practice))


def study_on(bundle: Bundle, slug: str = "s", **fields: object) -> Study:
    defaults: dict[str, object] = {
        "status": Study.Status.LIVE,
        "n_trials": 6,
        "consent_text": "Consent.",
        "completion_code": "DONE",
        "audio_must_finish": True,
    }
    defaults.update(fields)
    modalities = defaults.pop("modalities", ("visual", "audible"))
    methods = defaults.pop("methods", ())
    return study_create(
        slug=slug,
        title=slug.title(),
        bundle=bundle,
        modalities=modalities,
        methods=methods,
        **defaults,
    )  # type: ignore[arg-type]


def listened(trial: Trial, t0: float = 0.0) -> tuple[dict[str, object], ...]:
    """A browser's event log for hearing every clip of ``trial`` once, start to end."""
    media = ["original"] + (
        ["explanation"] if trial.condition.modality in {"audible", "both"} else []
    )
    events = []
    for k, name in enumerate(media):
        start = t0 + 1500.0 * k
        events.append({"media": name, "event": "play", "client_ms": start, "media_time_s": 0.0})
        events.append(
            {"media": name, "event": "ended", "client_ms": start + 1100.0, "media_time_s": 1.0}
        )
    return tuple(events)


def correct_answer(trial: Trial) -> str:
    if trial.kind == Trial.Kind.CATCH:
        return trial.expected_answer
    if trial.participant.study.task == Study.Task.VERIFICATION:
        return "yes" if trial.stimulus.model_correct else "no"
    return trial.stimulus.predicted_label


def enrol(study: Study, label: str) -> Participant:
    participant, _ = participant_enroll(study=study, recruitment={"participant_label": label})
    participant_consent(participant=participant, agree=True)
    participant.refresh_from_db()
    return participant


def answer(
    participant: Participant, *, n: int | None = None, accuracy: float = 0.7, seed: int = 0
) -> int:
    """Answer the first ``n`` open trials (all by default); returns how many were answered."""
    rng = random.Random(seed)
    study = participant.study
    options = (
        ["yes", "no"]
        if study.task == Study.Task.VERIFICATION
        else [str(c) for c in study.bundle.classes]
    )
    trials = list(
        Trial.objects.filter(participant=participant, response__isnull=True)
        .select_related("stimulus", "condition", "participant__study")
        .order_by("position")
    )
    done = 0
    # Each trial is shown, then answered once its audio has played: the server refuses an
    # answer sooner, on its own clock, which moves on here instead of the test sleeping.
    with time_machine.travel(timezone.now(), tick=False) as shifted:
        for trial in trials[:n]:
            right = correct_answer(trial)
            given = (
                right
                if rng.random() < accuracy
                else rng.choice([o for o in options if o != right] or options)
            )
            events = listened(trial)
            Trial.objects.filter(pk=trial.pk).update(presented_at=timezone.now())
            shifted.shift(max(float(e["client_ms"]) for e in events) / 1000 + 0.5)
            response_record(
                participant=participant,
                position=trial.position,
                answer=Answer(
                    answer=given,
                    rating=rng.randint(1, 7) if study.ask_rating else None,
                    confidence=rng.randint(0, 100) if study.ask_confidence else None,
                    rt_ms=800.0 + rng.random() * 900,
                    submission_key=f"k{participant.pk}-{trial.position}-{seed}",
                    events=events,
                ),
            )
            done += 1
    return done


def complete(study: Study, label: str, **kw: object) -> Participant:
    participant = enrol(study, label)
    answer(participant, **kw)  # type: ignore[arg-type]
    participant.refresh_from_db()
    return participant


def zip_folder(folder: Path, target: Path, *, top: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(
                    path,
                    f"{top}/{path.relative_to(folder).as_posix()}"
                    if top
                    else path.relative_to(folder).as_posix(),
                )
    return target
