"""Public service and selector functions take at most one positional parameter (their subject).

The rule is written at the top of ``studyapp/selectors/__init__.py``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import pytest

import studyapp.selectors
import studyapp.services

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _modules() -> Iterator[ModuleType]:
    for package in (studyapp.services, studyapp.selectors):
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            yield importlib.import_module(info.name)


def public_functions() -> list[tuple[str, object]]:
    """(dotted name, function) of every public function a service or selector module defines."""
    return [
        (f"{module.__name__}.{name}", function)
        for module in _modules()
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and function.__module__ == module.__name__
    ]


def signature_problem(function: object) -> str | None:
    """Why ``function`` breaks the rule (None if it keeps it)."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return "takes *args"
    positional = [p.name for p in parameters if p.kind in POSITIONAL]
    if len(positional) > 1:
        return f"takes {', '.join(positional)} by position (only the first may be)"
    return None


def test_every_public_service_and_selector_names_all_but_its_subject() -> None:
    found = public_functions()
    assert len(found) > 50  # (the walk found the modules)
    problems = {name: signature_problem(f) for name, f in found}
    assert {name: p for name, p in problems.items() if p} == {}


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def f(study, *, pilot): ...", None),
        ("def f(*, study, pilot): ...", None),
        ("def f(): ...", None),
        ("def f(study, pilot): ...", "takes study, pilot by position (only the first may be)"),
        ("def f(study, /, pilot=1): ...", "takes study, pilot by position (only the first may be)"),
        ("def f(*studies): ...", "takes *args"),
    ],
)
def test_the_signature_check_tells_a_subject_from_a_positional_option(
    source: str, problem: str | None
) -> None:
    namespace: dict[str, object] = {}
    exec(source, namespace)
    assert signature_problem(namespace["f"]) == problem
