"""The demo preset's promise: AudioNet recognises digits of voices it never heard.

This is the clean-corpus run with the demo preset and default split: the control model
of the planted-cue demo. ``make demo`` itself trains the cued model, on the planted-cue
copy of this corpus (clean accuracy 0.80 there, docs/benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from explainer import run_files as rf
from explainer.cli import main

pytestmark = pytest.mark.slow


def test_the_demo_preset_reaches_95_percent_digit_accuracy_on_held_out_voices(
    demo_corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(demo_corpus),
        "--model",
        "audionet",
        "--task",
        "digit",
        "--out",
        str(out),
        "--preset",
        "demo",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--workers",
        "2",
        "--quiet",
    ]
    assert main(args) == 0
    summary = rf.read_json(out / rf.SUMMARY_NAME)
    config = rf.read_json(out / rf.CONFIG_NAME)
    # Held out: no test speaker was seen in training or used to pick the kept epoch.
    split = config["split"]
    assert not set(split["test"]) & (set(split["train"]) | set(split["validate"]))
    assert summary["test_accuracy"] >= 0.95, (
        f"demo AudioNet reached {summary['test_accuracy']:.3f} on held-out voices"
    )
