"""Faithfulness scoring of a bundle against the bundle's own generation time, and peak memory.

Trains a throw-away paper-size AudioNet (a few optimisation steps: the weights do not
change the cost), writes a bundle of ``--n`` decisions x three methods with
``python -m explainer bundle`` (which also computes every stimulus's deletion AOPC),
then scores it with ``python -m explainer faithfulness --bundle`` (MoRF, LeRF and
random curves, default steps). Each command runs in its own process; its wall time
and peak resident memory (``os.wait4``) are measured. Prints ONE JSON object with
``seconds_over_bundle_seconds`` (scoring over generation) and ``peak_rss_mib`` (of the
scoring process), plus the parts.

    python benchmarks/faithfulness.py [--quick] [--n 54] [--width 1.0]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bundle import corpus, train_run  # noqa: E402

METHODS = "lrp-epsilon-plus-flat,lrp-alpha2-beta1,gradient-x-input"


def measured(command: list[str]) -> dict[str, float]:
    """Run ``command`` (stdout to stderr); its wall seconds and peak RSS in MiB."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=sys.stderr)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    # ru_maxrss is in KiB on Linux.
    return {"seconds": time.perf_counter() - start, "peak_rss_mib": usage.ru_maxrss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="a check run: 10 decisions, quarter width"
    )
    parser.add_argument("--n", type=int, help="decisions (default 54: 162 stimuli; quick 10)")
    parser.add_argument(
        "--width", type=float, help="AudioNet width (default 1.0, the paper's; quick 0.25)"
    )
    args = parser.parse_args()
    n = args.n or (10 if args.quick else 54)
    width = args.width or (0.25 if args.quick else 1.0)
    python = [sys.executable, "-m", "explainer"]
    with tempfile.TemporaryDirectory(prefix="hearxai-bench-") as tmp:
        work = Path(tmp)
        data = corpus(work)
        run = train_run(data, work, width)
        common = ["--run", str(run), "--data", str(data)]
        bundle = measured(
            [
                *python,
                "bundle",
                *common,
                "--out",
                str(work / "b"),
                "--n",
                str(n),
                "--methods",
                METHODS,
            ]
            + ["--split", "all", "--shortfall", "fill", "--workers", "1"]
        )
        score = measured(
            [
                *python,
                "faithfulness",
                *common,
                "--bundle",
                str(work / "b"),
                "--out",
                str(work / "f"),
            ]
        )
        summary = json.loads((work / "f" / "summary.json").read_text(encoding="utf-8"))
        n_stimuli = len(json.loads((work / "b" / "manifest.json").read_text())["stimuli"])
    ratio = score["seconds"] / bundle["seconds"]
    result = {
        "seconds_over_bundle_seconds": round(ratio, 3),
        "peak_rss_mib": round(score["peak_rss_mib"], 1),
        "goals": {
            "seconds_over_bundle_seconds_max": 2.0,
            "peak_rss_mib_max": 2048,
            "met": ratio <= 2.0 and score["peak_rss_mib"] < 2048,
        },
        "bundle": {k: round(v, 2) for k, v in bundle.items()},
        "scoring": {k: round(v, 2) for k, v in score.items()},
        "settings": {
            "stimuli": n_stimuli,
            "recordings_scored": summary["n_clips"],
            "methods": METHODS.split(","),
            "width": width,
            "architecture": "audionet",
            "steps": summary["shares"],
            "bundle_workers": 1,
            "quick": args.quick,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
            "python": platform.python_version(),
        },
    }
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
