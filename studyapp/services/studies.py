"""Creating, changing and versioning studies.

A study's design is frozen once it has gone live: changing what a trial shows or
asks after data exist would mix two experiments under one name. A changed design
is a new study; :func:`study_duplicate` makes that new version in one step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from contracts.bundle_format import heard_label_baseline_warnings
from studyapp.models import Bundle, Condition, Study
from studyapp.selectors.assignment import Cell, recordings_group, study_arms, study_items
from studyapp.selectors.designs import (
    design_baseline_task,
    design_main_trials,
    study_design_problems,
)
from studyapp.selectors.studies import (
    FROZEN_REASON,
    MODALITY_ORDER,
    study_factor_levels,
    study_frozen_reason,
    study_is_frozen,
)

# Fields whose change would alter the meaning of data already collected.
FROZEN_FIELDS: tuple[str, ...] = (
    "bundle",
    "seed",
    "task",
    "design",
    "explanation_only",
    "n_pretest",
    "n_learning",
    "assignment",
    "method_assignment",
    "stimulus_sampling",
    "n_trials",
    "n_practice",
    "n_catch",
    "share_incorrect",
    "practice_stimuli",
    "excluded_stimuli",
    "ask_rating",
    "ask_confidence",
    "audio_must_finish",
    "max_replays",
    "allow_seeking",
    "allow_back",
    "consent_text",
    "consent_version",
    "instructions_text",
    "demographics",
    "headphone_screen",
    "screen_trials",
    "screen_pass_threshold",
)
# What the participant link is made of: handed out from pilot on, so fixed from then.
LINK_FIELDS: tuple[str, ...] = ("slug",)
LINK_REASON = (
    "the participant link (/s/{slug}/) is fixed once a study leaves draft: links already "
    "handed out would stop working. Duplicate the study for a new link."
)


class StudyFrozen(ValidationError):
    """An attempt to change a frozen design field of a study that has gone live."""


@dataclass
class DesignReport:
    """Problems with a study's design: errors block pilot and live, warnings are advice."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- conditions


def condition_name(modality: str, *, method: str, several_methods: bool) -> str:
    """``visual`` for a single-method study, ``visual-lrp-epsilon`` when methods are crossed."""
    return f"{modality}-{method}"[:64] if several_methods and method else modality


def conditions_crossed(
    modalities: Sequence[str], *, methods: Sequence[str]
) -> list[tuple[str, str, str]]:
    """Every (name, modality, method) of modality x method; ``methods`` empty = any method."""
    bad = [m for m in modalities if m not in MODALITY_ORDER]
    if bad or not modalities:
        raise ValueError(
            f"modalities {list(modalities)!r}: choose one or more of {', '.join(MODALITY_ORDER)}"
        )
    ordered = sorted(dict.fromkeys(modalities), key=MODALITY_ORDER.index)
    method_levels = list(dict.fromkeys(methods)) or [""]
    several = len(method_levels) > 1
    return [
        (condition_name(mod, method=meth, several_methods=several), mod, meth)
        for mod in ordered
        for meth in method_levels
    ]


def _check_conditions(bundle: Bundle, conditions: list[tuple[str, str, str]]) -> None:
    if not conditions:
        raise ValueError("a study needs at least one condition")
    methods = set(bundle.methods)
    for name, modality, method in conditions:
        if modality not in Condition.Modality.values:
            raise ValueError(f"condition {name!r}: unknown modality {modality!r}")
        if method and method not in methods:
            raise ValueError(
                f"condition {name!r}: method {method!r} is not in the bundle ({sorted(methods)})"
            )


def study_conditions_set(
    *,
    study: Study,
    modalities: Sequence[str],
    methods: Sequence[str] = (),
    taking_live: bool = False,
) -> list[Condition]:
    """Replace the study's conditions by the cross of ``modalities`` and ``methods``.

    Conditions that stay keep their rows (and any pilot data); one that would go but
    already has sessions is refused, naming it. A study that has gone live keeps its
    conditions, except in the very save that creates it live or takes it live (``taking_live``).
    """
    wanted = conditions_crossed(modalities, methods=methods)
    current = {(c.modality, c.method) for c in study.conditions.all()}
    if study.live_since and not taking_live and current != {(mod, meth) for _, mod, meth in wanted}:
        raise StudyFrozen(FROZEN_REASON.format(date=study.live_since.date()))
    _check_conditions(study.bundle, wanted)
    with transaction.atomic():
        keep = {(c.modality, c.method): c for c in study.conditions.select_for_update()}
        for key, condition in list(keep.items()):
            if key not in {(mod, meth) for _, mod, meth in wanted}:
                _condition_delete(condition)
                del keep[key]
        result = []
        for position, (name, modality, method) in enumerate(wanted):
            condition = keep.get((modality, method)) or Condition(
                study=study, modality=modality, method=method
            )
            condition.name, condition.position = name, position
            condition.save()
            result.append(condition)
    return result


def _condition_delete(condition: Condition) -> None:
    try:
        condition.delete()
    except ProtectedError:
        raise ValidationError(
            f"condition {condition.name!r} already has sessions (pilot data?); delete them first or "
            "duplicate the study"
        ) from None


# --------------------------------------------------------------------------- creating


def study_create(
    *,
    slug: str,
    title: str,
    bundle: Bundle,
    conditions: Iterable[tuple[str, str, str]] = (
        ("visual", "visual", ""),
        ("audible", "audible", ""),
    ),
    modalities: Sequence[str] | None = None,
    methods: Sequence[str] = (),
    **fields: Any,
) -> Study:
    """Create a study on ``bundle``.

    Conditions come either from ``modalities`` x ``methods`` (crossed factors) or,
    when ``modalities`` is None, from ``conditions`` given as (name, modality, method).
    """
    conditions = (
        conditions_crossed(modalities, methods=methods)
        if modalities is not None
        else list(conditions)
    )
    _check_conditions(bundle, conditions)
    with transaction.atomic():
        study = Study(slug=slug, title=title, bundle=bundle, **fields)
        _refuse_design_problems(
            study, [mod for _, mod, _ in conditions], [m for _, _, m in conditions if m]
        )
        if study.status == Study.Status.LIVE:
            study.live_since = timezone.now()
        study.full_clean()
        study.save()
        for position, (name, modality, method) in enumerate(conditions):
            Condition.objects.create(
                study=study, name=name, modality=modality, method=method, position=position
            )
    return study


# --------------------------------------------------------------------------- changing


def study_change_problems(
    *, before: Study | None, after: Study, changed: Iterable[str]
) -> list[str]:
    """Why a change to a study may not be saved (empty if it may).

    Parameters
    ----------
    before : the stored study (None when creating).
    after : the study with the changes applied (not saved).
    changed : names of the fields the change touches.
    """
    if before is None:
        return []
    problems = []
    if before.status != Study.Status.DRAFT and set(changed) & set(LINK_FIELDS):
        problems.append(f"slug: {LINK_REASON.format(slug=before.slug)}")
    frozen = sorted(set(changed) & set(FROZEN_FIELDS)) if study_is_frozen(before) else []
    if frozen:
        problems.append(f"{', '.join(frozen)}: {study_frozen_reason(before)}")
    if study_is_frozen(before) and after.status not in {Study.Status.LIVE, Study.Status.CLOSED}:
        problems.append(
            f"status: a study that has gone live can only be live or closed, not {after.status} "
            "(duplicate it to pilot a new version)"
        )
    return problems


def study_save(*, study: Study, before: Study | None, changed: Iterable[str]) -> Study:
    """Save a changed study after checking the freeze; stamps ``live_since`` on first going live."""
    problems = study_change_problems(before=before, after=study, changed=changed)
    if problems:
        raise StudyFrozen(problems)
    if study.status == Study.Status.LIVE and study.live_since is None:
        study.live_since = timezone.now()
    if study.pk:
        _refuse_design_problems(study, *study_factor_levels(study))
    study.full_clean()
    study.save()
    return study


def _refuse_design_problems(
    study: Study, modalities: Sequence[str], methods: Sequence[str]
) -> None:
    problems = study_design_problems(study=study, modalities=modalities, methods=methods)
    if problems:
        raise ValidationError(problems)


# --------------------------------------------------------------------------- versions


def _next_slug(slug: str) -> tuple[str, int]:
    base = re.sub(r"-v\d+$", "", slug)
    version = 2
    while Study.objects.filter(slug=f"{base}-v{version}"[:64]).exists():
        version += 1
    return f"{base}-v{version}"[:64], version


def study_duplicate(*, study: Study, slug: str = "", title: str = "") -> Study:
    """A draft copy of ``study`` (design, texts, codes, conditions, questions), ready to change.

    The copy has no participants, a fresh status of draft and is not frozen.
    """
    new_slug, version = (slug, 0) if slug else _next_slug(study.slug)
    skip = {"id", "slug", "title", "status", "live_since", "created_at", "updated_at"}
    # The documented Options.get_fields(): the study's own columns (the many-to-many
    # choices are copied below, the reverse relations are other rows).
    values = {
        f.name: getattr(study, f.name)
        for f in Study._meta.get_fields()
        if f.concrete and not f.many_to_many and f.name not in skip
    }
    base_title = re.sub(r" \(version \d+\)$", "", study.title)
    with transaction.atomic():
        copy = Study(
            slug=new_slug,
            title=title or f"{base_title} (version {version})",
            status=Study.Status.DRAFT,
            **values,
        )
        copy.full_clean()
        copy.save()
        copy.practice_stimuli.set(study.practice_stimuli.all())
        copy.excluded_stimuli.set(study.excluded_stimuli.all())
        for c in study.conditions.all():
            Condition.objects.create(
                study=copy, name=c.name, modality=c.modality, method=c.method, position=c.position
            )
        for q in study.questions.all():
            q.pk, q.study = None, copy
            q.save()
    return copy


# --------------------------------------------------------------------------- design checks


def study_design_report(
    *,
    study: Study,
    conditions: Sequence[tuple[str, str, str]] | None = None,
    practice: set[int] | None = None,
    excluded: set[int] | None = None,
) -> DesignReport:
    """Check that the bundle can supply what the design asks of every participant.

    ``conditions`` (name, modality, method), ``practice`` and ``excluded`` (stimulus
    pks) replace the stored ones, so a form can check a design before saving it.
    """
    report = DesignReport()
    cells = (
        None
        if conditions is None
        else [Cell(-i, n, mod, meth) for i, (n, mod, meth) in enumerate(conditions)]
    )
    arms = study_arms(study, cells=cells)
    if not arms:
        report.errors.append("the study has no conditions")
        return report
    items = study_items(study, practice=practice, excluded=excluded)
    methods = {c.method for arm in arms for c in arm.cells}
    missing = sorted(m for m in methods if m and m not in study.bundle.methods)
    if missing:
        report.errors.append(
            f"methods {missing} are not in the bundle (it has {study.bundle.methods})"
        )
        return report
    practice = recordings_group([i for i in items if i.practice], methods=methods)
    used = {r.name for r in practice}
    main = [
        r
        for r in recordings_group([i for i in items if not i.practice], methods=methods)
        if r.name not in used
    ]
    _pool_problems(
        study,
        report,
        n_main=len(main),
        n_practice=len(practice),
        n_wrong=sum(not r.correct for r in main),
    )
    _advice(study, report, widest=max(len(arm.cells) for arm in arms), methods=methods)
    report.warnings.extend(
        heard_label_baseline_warnings(study.bundle.manifest, (design_baseline_task(study),))
    )
    return report


def _advice(study: Study, report: DesignReport, *, widest: int, methods: set[str]) -> None:
    if methods == {""} and len(study.bundle.methods) > 1:
        report.warnings.append(
            f"the bundle offers {len(study.bundle.methods)} explanation methods but the study names none: "
            f"every trial shows {sorted(study.bundle.methods)[0]}; tick the methods to compare them"
        )
    if widest > 1 and study.n_trials % widest:
        report.warnings.append(
            f"{study.n_trials} main trials do not divide evenly over the {widest} conditions each participant "
            "sees: within a participant, conditions will differ by one trial"
        )


def _pool_problems(
    study: Study, report: DesignReport, *, n_main: int, n_practice: int, n_wrong: int
) -> None:
    wanted = design_main_trials(
        design=study.design,
        n_trials=study.n_trials,
        n_pretest=study.n_pretest,
        n_learning=study.n_learning,
    )
    if n_main < wanted:
        report.errors.append(
            f"the bundle has {n_main} usable recordings for main trials, but the study asks for {wanted}"
        )
    spare = max(n_main - wanted, 0)
    if n_practice and n_practice < study.n_practice:
        report.errors.append(
            f"{study.n_practice} practice trials asked for, but only {n_practice} practice recordings"
        )
    # Catch trials (and practice, when nothing is flagged) use recordings the main part does not.
    from_spare = study.n_catch + (0 if n_practice else study.n_practice)
    if spare < from_spare:
        report.errors.append(
            f"{from_spare} practice and catch trials need recordings the main trials do not use, "
            f"but only {spare} are left over"
        )
    wanted_wrong = round(study.n_trials * study.share_incorrect)
    if n_wrong < wanted_wrong:
        report.warnings.append(
            f"share of wrong model decisions will be {n_wrong}/{study.n_trials}, not {study.share_incorrect:.0%}: "
            f"the bundle has only {n_wrong} wrong decisions"
        )


def study_conditions_problems(
    *, study: Study, modalities: Sequence[str], methods: Sequence[str]
) -> list[str]:
    """Why the study's conditions cannot become ``modalities`` x ``methods`` (empty if they can)."""
    if not study.pk:
        return []
    wanted = {(mod, meth) for _, mod, meth in conditions_crossed(modalities, methods=methods)}
    doomed = [c for c in study.conditions.all() if (c.modality, c.method) not in wanted]
    return [
        f"condition {c.name!r} already has sessions (pilot data?); delete them first or duplicate the study"
        for c in doomed
        if c.participants.exists() or c.trials.exists()
    ]
