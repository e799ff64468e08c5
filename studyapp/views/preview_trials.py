"""Staff-only trial table of the preview: one planned session, as a page or a CSV file."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from studyapp.launch_checklist import study_test_groups
from studyapp.models import Study
from studyapp.trial_table import COLUMNS, study_trial_table, trial_rows_as_dicts


class TrialTableForm(forms.Form):
    group = forms.ChoiceField(label="Group (condition)")
    seed = forms.IntegerField(min_value=0, max_value=2**48 - 1, initial=0)
    rotation = forms.IntegerField(
        min_value=0,
        initial=0,
        required=False,
        help_text="Latin-square list of a within-participant group (0 for a between group).",
    )

    def __init__(self, *args: object, groups: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [(g, g) for g in groups]


@staff_member_required
@require_GET
def preview_trials(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study.objects.select_related("bundle"), slug=slug)
    groups = study_test_groups(study=study)
    data = request.GET if "group" in request.GET else None
    form = TrialTableForm(data, groups=groups, initial={"seed": study.seed})
    rows = None
    if form.is_valid():
        try:
            rows = study_trial_table(
                study=study,
                group=form.cleaned_data["group"],
                seed=form.cleaned_data["seed"],
                rotation=form.cleaned_data["rotation"] or 0,
            )
        except ValueError as exc:
            form.add_error("rotation", str(exc))
    if rows is not None and request.GET.get("format") == "csv":
        return _csv(study, form.cleaned_data, rows)
    context = {
        **admin.site.each_context(request),
        "title": f"Trial table: {study.title}",
        "study": study,
        "form": form,
        "rows": rows,
        "columns": COLUMNS,
        "query": request.GET.urlencode(),
    }
    return render(request, "studyapp/researcher/trial_table.html", context)


def _csv(study: Study, chosen: dict[str, object], rows: list) -> HttpResponse:
    name = f"{study.slug}-{chosen['group']}-seed{chosen['seed']}-trials.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.DictWriter(response, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(trial_rows_as_dicts(rows))
    return response
