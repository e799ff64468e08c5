"""Benchmark: export v1 streams, so its memory stays flat however many rows there are.

Fills a throw-away database (SQLite file by default, or ``--database-url``) with
studies of N participants x 40 answered trials (two audio events each; filling is
not timed), then runs ``export_write`` for each study in a fresh process and
measures its wall time and peak resident memory (``wait4`` rusage), next to the
same process's resident memory just before the export started.

Prints one JSON object: ``trial_rows``, ``export_seconds``, ``peak_rss_mib``,
``baseline_rss_mib`` and ``growth_mib`` (peak minus baseline), keyed by the number of
participants, plus ``rows_per_second`` and the settings. ``--quick`` runs 100 and
1,000 participants (4,000 and 40,000 trial rows, < 1 min); the full run adds 25,000
(one million trial rows). Goal: ``growth_mib`` does not grow with the number of rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIALS_EACH = 40
BATCH = 100  # participants per bulk insert


def _django(data_dir: Path, database_url: str) -> None:
    os.environ["HEARXAI_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fill(data_dir: Path, database_url: str, sizes: list[int]) -> None:
    """Child process: migrate, import a small bundle and bulk-insert one study per size."""
    _django(data_dir, database_url)
    from django.core.management import call_command
    from tqdm import tqdm

    from studyapp.services.bundles import bundle_import
    from studyapp.services.studies import study_create
    from tests.synthetic_bundle import write_synthetic_bundle

    call_command("migrate", verbosity=0)
    bundle = bundle_import(bundle_dir=write_synthetic_bundle(data_dir / "bundle", n=12))
    for n in sizes:
        study = study_create(
            slug=f"bench-{n}",
            title=f"Bench {n}",
            bundle=bundle,
            status="live",
            n_trials=TRIALS_EACH,
            consent_text="Consent.",
        )
        with tqdm(
            total=n, desc=f"filling {n} participants", unit="participant", file=sys.stderr
        ) as bar:
            for start in range(0, n, BATCH):
                _insert(study, list(bundle.stimuli.all()), start, min(BATCH, n - start))
                bar.update(min(BATCH, n - start))


def _insert(study: object, stimuli: list, start: int, count: int) -> None:
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from studyapp.models import AudioEvent, Participant, Response, Trial

    condition = study.conditions.first()  # type: ignore[attr-defined]
    now = timezone.now()
    with transaction.atomic():
        people = Participant.objects.bulk_create(
            Participant(
                study=study,
                condition=condition,
                arm=condition.name,
                token=f"{study.pk}-{i}",
                pseudonym=f"P{i:08d}",
                seed=i,
                status="completed",
                completed_at=now + timedelta(minutes=8),
                demographics={"age_range": "25-34", "audio_device": "headphones"},
            )
            for i in range(start, start + count)
        )
        trials = Trial.objects.bulk_create(
            Trial(
                participant=p,
                position=k + 1,
                stimulus=stimuli[k % len(stimuli)],
                condition=condition,
                presented_at=now,
            )
            for p in people
            for k in range(TRIALS_EACH)
        )
        Response.objects.bulk_create(
            Response(
                trial=t,
                answer=str(t.position % 10),
                answer_correct=t.position % 3 == 0,
                rt_ms=812.25,
                plays_original=1,
            )
            for t in trials
        )
        AudioEvent.objects.bulk_create(
            AudioEvent(
                trial=t, media="original", event=e, client_ms=1000.0 * k, media_time_s=float(k)
            )
            for t in trials
            for k, e in enumerate(("play", "ended"))
        )


def export(data_dir: Path, database_url: str, n: int) -> None:
    """Child process: export one study; prints seconds and the resident memory before starting."""
    _django(data_dir, database_url)
    from studyapp.models import Study
    from studyapp.services.exports import export_write

    study = Study.objects.get(slug=f"bench-{n}")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    summary = export_write(study=study, out_dir=data_dir / f"export-{n}")
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "baseline_rss_mib": baseline,
                "trial_rows": summary.n_trials,
                "events": summary.n_events,
            }
        )
    )


def _child(*args: str) -> tuple[dict[str, float], float]:
    """Run this script as a child with ``args``; return its JSON and its peak RSS in MiB."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, cwd=ROOT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"child {args[0]} failed with status {status}")
    lines = out.decode().strip().splitlines()
    return (json.loads(lines[-1]) if lines else {}), usage.ru_maxrss / 1024


def main() -> None:
    """Fill, export each size in a fresh process, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="100 and 1,000 participants only (< 1 min)"
    )
    parser.add_argument(
        "--database-url", default="", help="database to fill (default: a temporary SQLite file)"
    )
    args = parser.parse_args()
    sizes = [100, 1_000] if args.quick else [100, 1_000, 25_000]
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        data_dir = Path(tmp)
        url = args.database_url or f"sqlite:///{data_dir / 'bench.sqlite3'}"
        _child("fill", str(data_dir), url, *map(str, sizes))
        results = {n: _child("export", str(data_dir), url, str(n)) for n in sizes}
    report = {
        "trial_rows": {n: r["trial_rows"] for n, (r, _) in results.items()},
        "export_seconds": {n: round(r["seconds"], 2) for n, (r, _) in results.items()},
        "peak_rss_mib": {n: round(peak, 1) for n, (_, peak) in results.items()},
        "baseline_rss_mib": {n: round(r["baseline_rss_mib"], 1) for n, (r, _) in results.items()},
        "growth_mib": {
            n: round(peak - r["baseline_rss_mib"], 1) for n, (r, peak) in results.items()
        },
        "rows_per_second": round(max(r["trial_rows"] / r["seconds"] for r, _ in results.values())),
        "settings": {
            "trials_per_participant": TRIALS_EACH,
            "events_per_trial": 2,
            "database": "sqlite-file" if not args.database_url else "given",
            "quick": args.quick,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }
    print(json.dumps(report))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "fill":
        fill(Path(sys.argv[2]), sys.argv[3], [int(n) for n in sys.argv[4:]])
    elif len(sys.argv) > 1 and sys.argv[1] == "export":
        export(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        main()
