"""Benchmark: time and peak memory of the full analysis report.

Simulates exports of 200, 2,000 and 20,000 participants x 40 main trials
(generation is not timed), then runs ``python -m analysis report`` on each in a
fresh process and measures its wall time and peak resident memory.

Prints one JSON object: ``seconds`` (wall), ``cpu_seconds`` (the report process's user +
system time), ``peak_rss_mib`` and ``load_average_1min`` (before, after) keyed by the
number of participants, plus the settings. ``--quick`` runs 200 and 2,000 only (< 1 min).
Goal (issue 15): 20,000 participants in < 60 s and < 1536 MiB (1.5 GiB), growing no worse
than linearly. The report fits the accuracy model twice (with and without condition,
for the likelihood-ratio test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_TRIALS = 40
N_STIMULI = 100
SEED = 2026


def _generate(n: int, folder: Path) -> None:
    """Write the simulated export (run in a child process, see ``_export``)."""
    sys.path.insert(0, str(ROOT))
    from analysis.simulate import SimulationSpec, simulate_export

    spec = SimulationSpec(
        n_participants=n,
        n_trials=N_TRIALS,
        n_stimuli=N_STIMULI,
        verification_fraction=0.1,
        inattentive_rate=0.03,
        screen_fail_rate=0.03,
        incomplete_rate=0.03,
        fast_rate=0.01,
        pilot_fraction=0.02,
        declined_rate=0.02,
        seed=SEED,
    )
    simulate_export(folder, spec)


def _export(n: int, folder: Path) -> Path:
    """Generate in a child so this process stays small: a child forked from a big
    parent would report the parent's pages as its own peak RSS."""
    subprocess.run([sys.executable, __file__, "--generate", str(n), str(folder)], check=True)
    return folder


def _run_report(export: Path, out: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one report run
    in a child process. CPU time is far less sensitive than wall time to other work on
    a shared machine."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "analysis", "report", str(export), "--out", str(out), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"report failed for {export} (exit {child.returncode})")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 and 2,000 participants only")
    parser.add_argument(
        "--sizes", type=str, default=None, help="comma-separated participant counts"
    )
    parser.add_argument("--generate", nargs=2, metavar=("N", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        _generate(int(args.generate[0]), Path(args.generate[1]))
        return
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([200, 2000] if args.quick else [200, 2000, 20000])
    )
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    rss: dict[str, float] = {}
    load: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="hearxai-bench-") as tmp:
        for n in sizes:
            export = _export(n, Path(tmp) / f"export-{n}")
            before = os.getloadavg()[0]
            seconds[str(n)], cpu[str(n)], rss[str(n)] = _run_report(
                export, Path(tmp) / f"report-{n}"
            )
            load[str(n)] = (before, os.getloadavg()[0])
            print(
                f"{n} participants: {seconds[str(n)]:.1f} s wall, {cpu[str(n)]:.1f} s CPU, "
                f"{rss[str(n)]:.0f} MiB, load {before:.1f} -> {load[str(n)][1]:.1f}",
                file=sys.stderr,
            )
    largest = str(max(sizes))
    result = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mib": rss,
        "load_average_1min": load,
        "n_trials": N_TRIALS,
        "n_stimuli": N_STIMULI,
        "seed": SEED,
        "quick": args.quick,
        "goal": {"participants": 20000, "seconds": 60, "peak_rss_mib": 1536},
        "meets_goal": (largest == "20000" and seconds[largest] < 60 and rss[largest] < 1536)
        if "20000" in seconds
        else None,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
