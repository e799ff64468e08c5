"""Response times: distributions and the crossed log-RT model."""

from __future__ import annotations

from analysis import figures
from analysis.rt import fit_log_rt_model, rt_summary
from analysis.sections.base import Context, Section, attempt
from analysis.text import format_ci, format_number, format_p, format_t

FORMULA = "log(rt_ms) ~ condition + (1 | participant) + (1 | stimulus)"


def rt_section(ctx: Context) -> Section:
    """Summary table, the fitted RT ratios, and the density figure annotated with them."""
    sec = Section("response_times", "Response times", "Browser-measured RTs of main trials.")
    main = ctx.kept.trials
    if main["rt_ms"].notna().sum() == 0:
        sec.notes.append("no response times recorded")
        return sec
    sec.tables["rt_summary"] = rt_summary(main)
    fit = attempt(sec, "log-RT mixed model", lambda: fit_log_rt_model(main, levels=ctx.levels))
    annotation = ""
    if fit is not None:
        sec.tables["log_rt_model"] = fit.coefficients
        effects = fit.coefficients.iloc[1:]
        sec.notes.append(
            f"log-RT model: SD(participant) = {fit.sd_participant:.3f}, SD(stimulus) = "
            f"{fit.sd_stimulus:.3f}, residual SD = {fit.sd_residual:.3f} (log ms)"
            f"{'' if fit.converged else '; the optimiser did not report convergence'}."
        )
        sec.methods.append(
            f"Response times were modelled as {FORMULA} by REML (hearxai's implementation, "
            "validated against lme4::lmer); effects are ratios of geometric-mean RTs, with "
            f"p-values and 95% intervals from {ctx.wald_method()}."
        )
        ratios = {
            r.term.removeprefix("condition[").rstrip("]"): (
                f"RT ratio = {format_number(r.ratio)}, "
                f"{format_ci(r.ratio_ci_low, r.ratio_ci_high)}, {format_t(r.t, r.df)}, "
                f"{format_p(r.p_value)}"
            )
            for r in effects.itertuples()
        }
        sec.results.append(
            f"Geometric-mean response times relative to {fit.levels[0]}: "
            + "; ".join(f"{level}, {text}" for level, text in ratios.items())
            + " (table log_rt_model)."
        )
        sentences = [
            f"{level.capitalize()} vs {fit.levels[0]}: {text}" for level, text in ratios.items()
        ]
        annotation = "\n".join(s.split(", t(")[0] for s in sentences)  # one ratio per line
    sec.figure = figures.rt_figure(
        main, ctx.levels, ctx.figures_dir / "rt_distributions.png", annotation=annotation
    ).name
    sec.caption = (
        "Kernel density of log10 response time per condition, drawn on a log axis; dashed lines "
        "mark the medians" + ("; the title gives the model's RT ratios." if annotation else ".")
    )
    return sec
