"""Bad input to ``python -m explainer faithfulness``: one line naming the problem, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from explainer.cli import main


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--methods", "lrp-nonsense"], "unknown explanation method 'lrp-nonsense'"),
        (["--methods", "gradient", "--step-share", "0"], "--step-share must be in (0, 1]"),
        (["--methods", "gradient", "--max-share", "1.5"], "--max-share must be between"),
        (["--methods", "gradient", "--step-share", "0.3", "--max-share", "0.2"], "--max-share"),
        (["--methods", "gradient", "--replacement", "blur"], "--replacement 'blur'"),
        (["--methods", "gradient", "--n-clips", "1"], "--n-clips must be at least 2"),
    ],
)
def test_it_refuses_bad_options_in_one_line_and_writes_nothing(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = [
        "faithfulness",
        "--run",
        str(tmp_path / "run"),
        "--data",
        str(tmp_path),
        "--out",
        str(out),
    ]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_interrupted_run_leaves_no_output_folder(
    trained_run: Path, demo_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from explainer.faithfulness import figures

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(figures, "plot_curves", interrupted)
    out = tmp_path / "out"
    args = ["--run", str(trained_run), "--data", str(demo_corpus), "--methods", "gradient"]
    assert main(["faithfulness", *args, "--n-clips", "4", "--out", str(out)]) == 130
    assert list(tmp_path.iterdir()) == []
