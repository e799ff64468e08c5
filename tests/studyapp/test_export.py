"""Export v1 from the database: streaming, pilot and recruitment-id rules, atomic writes, no IP addresses."""

from __future__ import annotations

import csv
import gc
import json
import os
import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models
from django.test import Client
from django.utils import timezone

from contracts import export_format as fmt
from studyapp.bots import Bot, DjangoClientTransport
from studyapp.models import AudioEvent, Bundle, ExportJob, Participant, Response, Study, Trial
from studyapp.services import exports as exports_service
from studyapp.services.exports import export_write
from studyapp.services.jobs import export_job_create, export_job_run
from tests.studyapp.research_helpers import bundle_with, complete, study_on

pytestmark = pytest.mark.django_db


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def bundle(media_root: Path, tmp_path: Path) -> Bundle:
    return bundle_with(tmp_path)


def test_every_answer_is_exported_once_with_exactly_the_contract_columns(
    bundle: Bundle, tmp_path: Path
) -> None:
    study = study_on(
        bundle, slug="every", n_practice=1, n_catch=1, ask_rating=True, ask_confidence=True
    )
    people = [complete(study, f"p{i}", seed=i) for i in range(4)]
    summary = export_write(study=study, out_dir=tmp_path / "out")
    trials = _rows(summary.out_dir / fmt.TRIALS_FILE)
    assert list(trials[0]) == fmt.column_names(fmt.TRIALS_FILE)
    assert len(trials) == Response.objects.count() == summary.n_trials == 4 * (6 + 1 + 1)
    assert len({(r["participant"], r["trial_position"]) for r in trials}) == len(trials)
    by_key = {
        (r.trial.participant.pseudonym, r.trial.position): r
        for r in Response.objects.select_related("trial__participant", "trial__stimulus")
    }
    for row in trials:
        stored = by_key[(row["participant"], int(row["trial_position"]))]
        assert (
            row["answer"] == stored.answer
            and row["answer_correct"] == str(stored.answer_correct).lower()
        )
        assert row["source_recording"] == stored.trial.stimulus.source_recording
        assert row["trial_kind"] in fmt.TRIAL_KINDS and row["modality"] in fmt.MODALITIES
    participants = _rows(summary.out_dir / fmt.PARTICIPANTS_FILE)
    assert list(participants[0]) == fmt.column_names(fmt.PARTICIPANTS_FILE)
    assert {p["participant"] for p in participants} == {p.pseudonym for p in people}
    assert all(p["catch_total"] == "1" and p["n_trials_answered"] == "7" for p in participants)
    events = _rows(summary.out_dir / fmt.EVENTS_FILE)
    assert len(events) == AudioEvent.objects.count() == summary.n_events > 0
    book = json.loads((summary.out_dir / fmt.CODEBOOK_FILE).read_text())
    described = {(v["file"], v["name"]) for v in book["variableMeasured"]}
    for name in (fmt.TRIALS_FILE, fmt.PARTICIPANTS_FILE, fmt.EVENTS_FILE):
        assert {(name, c) for c in fmt.column_names(name)} <= described


def test_pilot_sessions_are_left_out_unless_the_researcher_asks_for_them(
    bundle: Bundle, tmp_path: Path
) -> None:
    study = study_on(bundle, slug="pilot", status=Study.Status.PILOT)
    pilot = complete(study, "pilot")
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    study.refresh_from_db()
    live = complete(study, "live")
    main = export_write(study=study, out_dir=tmp_path / "main")
    assert {r["participant"] for r in _rows(main.out_dir / fmt.TRIALS_FILE)} == {live.pseudonym}
    assert json.loads((main.out_dir / fmt.CODEBOOK_FILE).read_text())["include_pilot"] is False
    both = export_write(study=study, out_dir=tmp_path / "both", include_pilot=True)
    rows = _rows(both.out_dir / fmt.PARTICIPANTS_FILE)
    assert {(r["participant"], r["is_pilot"]) for r in rows} == {
        (live.pseudonym, "false"),
        (pilot.pseudonym, "true"),
    }


def test_recruitment_ids_appear_only_when_asked_for_and_only_in_participants_csv(
    bundle: Bundle, tmp_path: Path
) -> None:
    study = study_on(bundle, slug="ids")
    from studyapp.services.participants import participant_enroll

    participant, _ = participant_enroll(
        study=study,
        recruitment={
            "prolific_pid": "PROLIFIC5f3a9c",
            "prolific_study_id": "STUDY77",
            "prolific_session_id": "SESS42",
        },
    )
    without = export_write(study=study, out_dir=tmp_path / "without")
    text = "".join(p.read_text() for p in without.out_dir.iterdir())
    assert "PROLIFIC5f3a9c" not in text and "SESS42" not in text and "prolific_pid" not in text
    with_ids = export_write(study=study, out_dir=tmp_path / "with", include_recruitment_ids=True)
    row = _rows(with_ids.out_dir / fmt.PARTICIPANTS_FILE)[0]
    assert list(row) == fmt.column_names(fmt.PARTICIPANTS_FILE, with_recruitment_ids=True)
    assert (row["participant"], row["prolific_pid"], row["prolific_session_id"]) == (
        participant.pseudonym,
        "PROLIFIC5f3a9c",
        "SESS42",
    )
    assert "PROLIFIC5f3a9c" not in (with_ids.out_dir / fmt.TRIALS_FILE).read_text()


def test_a_within_participant_export_names_each_trials_condition(
    bundle: Bundle, tmp_path: Path
) -> None:
    study = study_on(bundle, slug="within", assignment="within", n_trials=6)
    complete(study, "w1")
    summary = export_write(study=study, out_dir=tmp_path / "out")
    assert _rows(summary.out_dir / fmt.PARTICIPANTS_FILE)[0]["condition"] == ""
    trials = _rows(summary.out_dir / fmt.TRIALS_FILE)
    assert {(r["condition"], r["modality"]) for r in trials} == {
        ("visual", "visual"),
        ("audible", "audible"),
    }


def test_a_failed_export_leaves_no_folder_and_no_temporary_files(
    bundle: Bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = study_on(bundle, slug="fail")
    complete(study, "p")

    def broken(*args: object, **kwargs: object) -> object:
        yield from ()
        raise OSError("disk full")

    monkeypatch.setattr(exports_service, "event_rows", broken)
    with pytest.raises(OSError, match="disk full"):
        export_write(study=study, out_dir=tmp_path / "exports" / "out")
    assert list((tmp_path / "exports").iterdir()) == []


def test_an_export_job_is_claimed_once_even_if_its_task_runs_twice(
    bundle: Bundle, settings: object
) -> None:
    study = study_on(bundle, slug="twice")
    complete(study, "p")
    job = export_job_create(study=study)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED and Path(job.archive_path).is_file()
    assert export_job_run(job_id=job.pk) is None
    assert ExportJob.objects.get().n_trials == 6


def test_the_export_command_refuses_an_unknown_study(db: None, tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("export_responses", study="nope", out=str(tmp_path / "x"))


def test_no_ip_address_is_stored_anywhere(bundle: Bundle, tmp_path: Path, settings: object) -> None:
    ip, forwarded = "203.0.113.77", "198.51.100.23"
    model_fields = [f for m in apps.get_models() for f in m._meta.get_fields()]
    assert not [f for f in model_fields if isinstance(f, models.GenericIPAddressField)]
    study = study_on(bundle, slug="privacy", audio_must_finish=False)
    transport = DjangoClientTransport(remote_addr=ip)
    transport.client = Client(
        enforce_csrf_checks=True, REMOTE_ADDR=ip, HTTP_X_FORWARDED_FOR=forwarded, HTTP_X_REAL_IP=ip
    )
    result = Bot(transport, study.slug, "privacy-bot", random.Random(0)).run()
    assert result.completed, result.pages[-3:]
    assert Response.objects.filter(trial__participant__study=study).count() == study.n_trials
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            dump = repr(cursor.fetchall())
            assert ip not in dump and forwarded not in dump, f"an IP address is stored in {table}"
    summary = export_write(
        study=study, out_dir=tmp_path / "out", include_pilot=True, include_recruitment_ids=True
    )
    for path in summary.out_dir.iterdir():
        assert ip not in path.read_text() and forwarded not in path.read_text()


# --------------------------------------------------------------------------- streaming


def _fill(study: Study, n_participants: int, trials_each: int) -> None:
    """Bulk-insert answered trials (with two audio events each) for a memory measurement."""
    condition = study.conditions.first()
    stimuli = list(study.bundle.stimuli.all())
    now = timezone.now()
    people = Participant.objects.bulk_create(
        Participant(
            study=study,
            condition=condition,
            arm=condition.name,
            token=f"t{study.pk}-{i}",
            pseudonym=f"P{i:07d}",
            seed=i,
            status="completed",
            completed_at=now + timedelta(minutes=9),
        )
        for i in range(n_participants)
    )
    for start in range(0, len(people), 50):
        batch = people[start : start + 50]
        trials = Trial.objects.bulk_create(
            Trial(
                participant=p,
                position=k + 1,
                stimulus=stimuli[k % len(stimuli)],
                condition=condition,
                presented_at=now,
            )
            for p in batch
            for k in range(trials_each)
        )
        Response.objects.bulk_create(
            Response(
                trial=t,
                answer="3",
                answer_correct=t.position % 2 == 0,
                rt_ms=900.5,
                plays_original=1,
            )
            for t in trials
        )
        AudioEvent.objects.bulk_create(
            AudioEvent(trial=t, media="original", event=e, client_ms=float(k))
            for t in trials
            for k, e in enumerate(("play", "ended"))
        )


class _RssSampler:
    """Peak resident memory of this process while a block runs, sampled every few milliseconds.

    tracemalloc would slow the export several times over; reading /proc is cheap.
    """

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self._stop = threading.Event()

    def rss(self) -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.002)

    def measure(self, block: Callable[[], object]) -> int:
        """Bytes by which the resident set grew above its level before ``block``."""
        gc.collect()
        base = self.peak = self.rss()
        sampler = threading.Thread(target=self._run, daemon=True)
        sampler.start()
        try:
            block()
        finally:
            self._stop.set()
            sampler.join()
            self._stop.clear()
        return max(self.peak, self.rss()) - base


@pytest.mark.skipif(
    not Path("/proc/self/statm").exists(), reason="reads resident memory from /proc (Linux)"
)
def test_export_memory_stays_flat_however_many_rows(bundle: Bundle, tmp_path: Path) -> None:
    small, large = study_on(bundle, slug="small"), study_on(bundle, slug="large")
    _fill(small, 30, 50)  # 1,500 trials, 3,000 events
    _fill(large, 150, 50)  # 7,500 trials, 15,000 events: five times as many
    sampler = _RssSampler()
    export_write(study=small, out_dir=tmp_path / "warm-up")  # let the allocator grow its pools once
    grew_small = sampler.measure(lambda: export_write(study=small, out_dir=tmp_path / "small"))
    grew_large = sampler.measure(lambda: export_write(study=large, out_dir=tmp_path / "large"))
    assert len(_rows(tmp_path / "large" / fmt.TRIALS_FILE)) == 7_500
    # Holding every row would need about five times the memory of the small export;
    # streaming holds one chunk of rows at a time whatever the size.
    assert grew_large < 1.5 * grew_small + 4 * 2**20, (grew_small, grew_large)


def test_the_export_documentation_describes_every_contract_column() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "export-format.md").read_text(
        encoding="utf-8"
    )
    for columns in (*fmt.FILE_COLUMNS.values(), fmt.RECRUITMENT_COLUMNS):
        for column in columns:
            assert f"| `{column.name}` | {column.dtype} |" in doc, (
                f"{column.name} is not documented"
            )
