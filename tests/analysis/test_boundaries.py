"""analysis stays on its side of the package boundaries, and `import analysis` is cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_importing_every_analysis_module_pulls_in_neither_django_nor_torch() -> None:
    loaded = _modules_after(
        "import analysis.report, analysis.power, analysis.calibration, analysis.__main__"
    )
    forbidden = {"django", "torch", "explainer", "studyapp"}
    assert not {m for m in loaded if m.split(".")[0] in forbidden}


def test_importing_the_package_is_light() -> None:
    loaded = _modules_after("import analysis")
    assert "pandas" not in loaded and "statsmodels" not in loaded


def test_every_public_name_resolves() -> None:
    import analysis

    missing = [name for name in analysis.__all__ if getattr(analysis, name, None) is None]
    assert not missing
