"""Design-specific analyses: learning then test, cue detection, preference (analysis.designs)."""

from __future__ import annotations

from analysis import designs
from analysis.sections.base import Context, Section, attempt


def designs_section(ctx: Context) -> Section:
    """Learning then test, cue detection and preference, each with the model that fits it."""
    sec = Section(
        "designs",
        "Design-specific analyses",
        "Learning then test: crossed mixed logit of test-block accuracy on condition with "
        "centred pre-test accuracy as covariate. Cue detection: accuracy (Wilson 95% CI) and "
        "two-alternative d' per condition. Preference: per pair of methods, mixed logit of "
        "choosing method b with its position (first = +0.5) as covariate.",
    )
    kept = ctx.export.trials["participant"].isin(set(ctx.kept.trials["participant"]))
    trials = ctx.export.trials.loc[kept]
    present = set(trials["design"])
    if "learning_test" in present:
        sec.tables["learning_test_summary"] = designs.learning_test_summary(trials)
        fit = attempt(sec, "learning-test GLMM", lambda: designs.fit_learning_test(trials))
        if fit is not None:
            sec.tables["learning_test_glmm"] = fit.coefficients
            ctx.summary["learning_test_glmm"] = fit.coefficients.to_dict(orient="records")
    for design, name, make in (
        ("model_comparison", "cue_detection", designs.cue_detection),
        ("preference", "preference_model", designs.preference_model),
    ):
        if design in present:
            table = attempt(sec, name.replace("_", " "), lambda make=make: make(trials))
            if table is not None:
                sec.tables[name] = table
                ctx.summary[name] = table.to_dict(orient="records")
    if not sec.tables and not sec.notes:
        sec.notes.append("single-explanation design: nothing design-specific to report")
    return sec
