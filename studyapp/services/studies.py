"""Creating and configuring studies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from studyapp.models import Bundle, Condition, Study


def study_create(
    *, slug: str, title: str, bundle: Bundle,
    conditions: Iterable[tuple[str, str, str]] = (("visual", "visual", ""), ("audible", "audible", "")),
    **fields: Any,
) -> Study:
    """Create a study on ``bundle`` with conditions given as (name, modality, method)."""
    conditions = list(conditions)
    if not conditions:
        raise ValueError("a study needs at least one condition")
    methods = set(bundle.methods)
    for name, modality, method in conditions:
        if modality not in Condition.Modality.values:
            raise ValueError(f"condition {name!r}: unknown modality {modality!r}")
        if method and method not in methods:
            raise ValueError(f"condition {name!r}: method {method!r} is not in the bundle ({sorted(methods)})")
    with transaction.atomic():
        study = Study(slug=slug, title=title, bundle=bundle, **fields)
        study.full_clean()
        study.save()
        for position, (name, modality, method) in enumerate(conditions):
            Condition.objects.create(study=study, name=name, modality=modality, method=method, position=position)
    return study
