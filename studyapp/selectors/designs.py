"""Study designs: what each needs from its bundle, what its trials show, which answer counts.

``single``
    One explanation per trial; the question is the study's task (forward simulation
    or verification). With ``explanation_only`` the original recording is hidden.
``learning_test``
    Pre-test without explanations, learning block with explanations and feedback on
    the model's decision, test block without explanations on unseen recordings
    (Hase & Bansal, ACL 2020). Trial kinds ``pretest``, ``learning`` and ``main``.
``model_comparison``
    Two models' explanations of the same clip (cued and control, order
    counterbalanced); the participant picks the one relying on something other than
    the spoken digit.
``preference``
    Two methods' explanations of the same decision; the participant picks the more
    helpful one (position counterbalanced).

The rules live here so that the admin form, the planner, the answer check, the export
and the simulated participants all read the same ones (docs/study-designs.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from studyapp.models import Bundle, Condition, Stimulus, Study

PAIR_DESIGNS = (Study.Design.MODEL_COMPARISON, Study.Design.PREFERENCE)
PAIR_ANSWERS = ("first", "second")
CUED_ROLE = "cued"


def bundle_model_roles(bundle: Bundle) -> dict[str, str]:
    """Role of each model of the bundle by model id ("" = the bundle's ``model``)."""
    manifest = bundle.manifest
    roles = {"": str(manifest.get("model", {}).get("role", ""))}
    for model_id, model in (manifest.get("models") or {}).items():
        roles[model_id] = str(model.get("role", ""))
    return roles


def study_design_problems(
    *, study: Study, modalities: Sequence[str], methods: Sequence[str]
) -> list[str]:
    """Why ``study``'s design cannot run on its bundle (empty if it can); checked on every save."""
    problems: list[str] = []
    bundle = study.bundle
    if study.explanation_only and Condition.Modality.NONE in modalities:
        problems.append(
            "explanation only hides the recording, so a condition without explanation "
            "(modality none) would show nothing: untick none"
        )
    if study.design == Study.Design.LEARNING_TEST and study.n_learning < 1:
        problems.append("learning then test needs at least one learning trial (n learning)")
    if study.design in PAIR_DESIGNS and Condition.Modality.NONE in modalities:
        problems.append(f"{study.get_design_display()}: every condition must show an explanation")
    if study.design == Study.Design.MODEL_COMPARISON:
        roles = bundle_model_roles(bundle)
        if CUED_ROLE not in roles.values() or len(roles) < 2:
            problems.append(
                f"cue detection compares two models, but bundle {bundle.name} has "
                f"{len(roles)} model(s) and {'one' if CUED_ROLE in roles.values() else 'none'} "
                f'with role "{CUED_ROLE}" (bundle fields models and model_id)'
            )
    if study.design == Study.Design.PREFERENCE:
        if len(bundle.methods) < 2:
            problems.append(
                f"preference compares two explanation methods, but bundle {bundle.name} has "
                f"{len(bundle.methods)} ({', '.join(bundle.methods)})"
            )
        if methods:
            problems.append(
                "preference pairs the bundle's methods itself: leave the methods unticked"
            )
    return problems


def design_shows_explanation(*, study: Study, kind: str) -> bool:
    """Whether a trial of ``kind`` shows its condition's explanation (learning→test: learning only)."""
    if study.design == Study.Design.LEARNING_TEST:
        return kind in {"learning", "practice"}
    return True


def design_shows_feedback(*, study: Study, kind: str) -> bool:
    """Whether the model's decision is shown after a trial of ``kind``."""
    return kind == "practice" or (study.design == Study.Design.LEARNING_TEST and kind == "learning")


def allowed_answers(study: Study) -> list[str]:
    """The answers a main trial of ``study`` accepts."""
    if study.design in PAIR_DESIGNS:
        return list(PAIR_ANSWERS)
    if study.task == Study.Task.VERIFICATION:
        return ["yes", "no"]
    return [str(c) for c in study.bundle.classes]


def pair_chosen(*, first: Stimulus, second: Stimulus, answer: str) -> Stimulus:
    """The stimulus an answer of a pairwise trial picks."""
    return first if answer == PAIR_ANSWERS[0] else second


def design_answer_correct(
    *, study: Study, stimulus: Stimulus, partner: Stimulus | None, answer: str
) -> bool:
    """Whether ``answer`` is right; a preference has no right answer and is always False."""
    if study.design == Study.Design.MODEL_COMPARISON and partner is not None:
        chosen = pair_chosen(first=stimulus, second=partner, answer=answer)
        return bundle_model_roles(study.bundle).get(chosen.model_id) == CUED_ROLE
    if study.design in PAIR_DESIGNS:
        return False
    if study.task == Study.Task.VERIFICATION:
        return (answer == "yes") == stimulus.model_correct
    return answer == stimulus.predicted_label


def design_task(study: Study) -> str:
    """The export's ``task`` column: the question of a main trial."""
    return study.design if study.design in PAIR_DESIGNS else study.task


def design_shown_model(study: Study) -> str:
    """The model whose explanations a study plans: cue detection starts from the cued one."""
    if study.design == Study.Design.MODEL_COMPARISON:
        roles = bundle_model_roles(study.bundle)
        return next((mid for mid, role in roles.items() if role == CUED_ROLE), "")
    return ""


def design_baseline_task(study: Study) -> str:
    """The key of the bundle's ``heard_label_baseline`` that applies to ``study``."""
    if study.explanation_only:
        return "explanation_only"
    return "verification" if study.task == Study.Task.VERIFICATION else "forward_simulation"


def design_main_trials(*, design: str, n_trials: int, n_pretest: int, n_learning: int) -> int:
    """Recordings the main part uses: learning then test adds its pre-test and learning block."""
    if design == Study.Design.LEARNING_TEST:
        return n_trials + n_pretest + n_learning
    return n_trials
