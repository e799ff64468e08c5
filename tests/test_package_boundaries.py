"""The package boundaries of HOUSE_STYLE.md, checked on every import statement.

explainer never imports django; studyapp never imports torch, explainer or analysis;
analysis never imports django, torch, explainer or studyapp. What crosses a boundary
is one of the two file formats in ``contracts``, which imports none of them. Inside
studyapp, the reads (``selectors``) never import the writes (``services``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "explainer": {"django", "studyapp", "analysis"},
    "studyapp": {
        "torch",
        "torchvision",
        "zennit",
        "analysis",
        "explainer",
        "pandas",
        "statsmodels",
        "matplotlib",
    },
    "analysis": {"django", "torch", "torchvision", "zennit", "explainer", "studyapp"},
    "contracts": {
        "django",
        "celery",
        "torch",
        "torchvision",
        "zennit",
        "explainer",
        "studyapp",
        "analysis",
        "pandas",
        "statsmodels",
        "matplotlib",
    },
}
CONTRACT_MODULES = sorted((REPO / "contracts").glob("*.py"))
# What a contract module may use besides the standard library: every part installs these.
CONTRACT_THIRD_PARTY = {"jsonschema", "numpy", "soundfile"}


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from X import a" is recorded as X.a: it may name a submodule of X.
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in FORBIDDEN[package]:
                found.append(f"{path.relative_to(REPO)} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_each_package_imports_only_what_its_boundary_allows(package: str) -> None:
    assert violations(package) == []


def test_the_boundary_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import torch\nfrom django.db import models\nfrom contracts.export_format import TRIALS_FILE\n"
    )
    names = imported_modules(bad)
    assert "torch" in names and "django.db.models" in names
    assert "contracts.export_format.TRIALS_FILE" in names


def test_the_boundary_check_flags_web_code_reaching_into_the_explainer(tmp_path: Path) -> None:
    fake_repo = tmp_path
    (fake_repo / "studyapp").mkdir()
    (fake_repo / "studyapp" / "x.py").write_text(
        "from contracts.bundle_format import read_manifest\nfrom explainer.models import AudioNet\n"
    )
    globals()["REPO"], saved = fake_repo, REPO
    try:
        assert violations("studyapp") == ["studyapp/x.py imports explainer.models.AudioNet"]
    finally:
        globals()["REPO"] = saved


def selector_violations(root: Path) -> list[str]:
    """Imports of ``studyapp.services`` (at any depth, in any function) by a selector module.

    A relative import is flagged too: it would hide what it reaches from this check.
    """
    found = []
    for path in sorted((root / "studyapp" / "selectors").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree)):
            found.append(f"{path.relative_to(root)} has a relative import")
        found += [
            f"{path.relative_to(root)} imports {name}"
            for name in imported_modules(path)
            if name == "studyapp.services" or name.startswith("studyapp.services.")
        ]
    return found


def test_selectors_never_import_services() -> None:
    assert (REPO / "studyapp" / "selectors" / "__init__.py").is_file()
    assert selector_violations(REPO) == []


def test_the_selector_check_catches_a_service_import_inside_a_function(tmp_path: Path) -> None:
    (tmp_path / "studyapp" / "selectors").mkdir(parents=True)
    (tmp_path / "studyapp" / "selectors" / "x.py").write_text(
        "from studyapp.selectors.designs import design_task\n"
        "def f():\n    from studyapp.services import exports\n"
        "    from ..services.jobs import export_job_run\n"
    )
    assert selector_violations(tmp_path) == [
        "studyapp/selectors/x.py has a relative import",
        "studyapp/selectors/x.py imports studyapp.services.exports",
    ]


# Private attributes of Django and argparse the web side once reached into (HOUSE_STYLE.md,
# "documented APIs only"): each breaks silently on an upgrade.
PRIVATE_APIS = (
    "._state",
    "set_cached_value",
    "_prepare_cursor",
    "._actions",
    "_add_action",
    "_meta.concrete_fields",
)


def test_the_web_side_uses_no_private_django_or_argparse_attribute() -> None:
    found = [
        f"{path.relative_to(REPO)}: {name}"
        for path in sorted((REPO / "studyapp").rglob("*.py"))
        if "migrations" not in path.parts
        for name in PRIVATE_APIS
        if name in path.read_text(encoding="utf-8")
    ]
    assert found == []


@pytest.mark.parametrize("path", CONTRACT_MODULES, ids=lambda p: p.name)
def test_contract_modules_import_only_the_standard_library(path: Path) -> None:
    import sys

    third_party = {
        name.split(".")[0]
        for name in imported_modules(path)
        if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "__future__"
    }
    assert third_party <= CONTRACT_THIRD_PARTY


def test_the_web_side_runs_without_torch_installed() -> None:
    """Import every studyapp module in a fresh interpreter that cannot import torch."""
    import subprocess
    import sys

    code = (
        "import sys, importlib, pkgutil, os\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'torch', 'zennit', 'torchvision', 'analysis', 'explainer'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'studyapp.settings'\n"
        "import django; django.setup()\n"
        "import studyapp\n"
        "for m in pkgutil.walk_packages(studyapp.__path__, 'studyapp.'):\n"
        "    if '.migrations.' not in m.name: importlib.import_module(m.name)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
