"""Staff-only pages beyond the admin: the live dashboard of a study and export downloads."""

from __future__ import annotations

from pathlib import Path

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from studyapp.dashboard import accuracy_chart, status_chart
from studyapp.models import Study
from studyapp.selectors.dashboard import dashboard_accuracy, dashboard_status, median_minutes
from studyapp.selectors.jobs import export_job_file
from studyapp.session_timeline import (
    participant_final_state,
    participant_find,
    participant_timeline,
    study_recent_sessions,
)


def _phase(request: HttpRequest, study: Study) -> bool:
    """True to show pilot sessions: ``?phase=pilot``, or by default while the study is in pilot."""
    phase = request.GET.get("phase")
    if phase in {"pilot", "live"}:
        return phase == "pilot"
    return study.status == Study.Status.PILOT


def _accuracy_visible(request: HttpRequest, pilot: bool) -> bool:
    # Live accuracy only behind an explicit click: peeking invites optional stopping.
    return pilot or request.GET.get("accuracy") == "show"


@staff_member_required
@require_GET
def study_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    """Sessions per group, completion time and (pilot, or on request) accuracy per condition."""
    study = get_object_or_404(Study.objects.select_related("bundle"), slug=slug)
    pilot = _phase(request, study)
    groups = dashboard_status(study=study, pilot=pilot)
    show_accuracy = _accuracy_visible(request, pilot)
    phase = "pilot" if pilot else "live"
    context = {
        **admin.site.each_context(request),
        "title": f"Dashboard: {study.title}",
        "study": study,
        "groups": groups,
        "phase": phase,
        "other_phase": "live" if pilot else "pilot",
        "median_minutes": median_minutes(groups),
        "accuracy": dashboard_accuracy(study=study, pilot=pilot) if show_accuracy else None,
        "show_accuracy": show_accuracy,
        "totals": _totals(groups),
        "chart_query": f"phase={phase}" + ("&accuracy=show" if show_accuracy and not pilot else ""),
        "sessions": study_recent_sessions(study=study, pilot=pilot),
    }
    return render(request, "studyapp/researcher/dashboard.html", context)


@staff_member_required
@require_GET
def session_timeline(request: HttpRequest, slug: str) -> HttpResponse:
    """One participant's session, event by event (``?who=`` pseudonym, Prolific id or label)."""
    study = get_object_or_404(Study, slug=slug)
    who = request.GET.get("who", "")
    participant = participant_find(study=study, who=who)
    entries = participant_timeline(participant=participant) if participant else []
    context = {
        **admin.site.each_context(request),
        "title": f"Participant timeline: {study.title}",
        "study": study,
        "who": who[:200],
        "participant": participant,
        "entries": entries,
        "n_flagged": sum(e.flagged for e in entries),
        "final_state": participant_final_state(participant=participant) if participant else "",
    }
    return render(
        request,
        "studyapp/researcher/timeline.html",
        context,
        status=200 if participant or not who else 404,
    )


def _totals(groups: list) -> dict[str, int]:
    keys = ("started", "completed", "active", "abandoned", "screened_out", "declined")
    return {key: sum(getattr(g, key) for g in groups) for key in keys}


@staff_member_required
@require_GET
def study_chart(request: HttpRequest, slug: str, kind: str) -> JsonResponse:
    """The numbers of one dashboard chart as JSON; the page's script draws them."""
    study = get_object_or_404(Study, slug=slug)
    pilot = _phase(request, study)
    if kind == "status":
        chart = status_chart(
            dashboard_status(study=study, pilot=pilot), target=study.target_per_condition
        )
    elif kind == "accuracy" and _accuracy_visible(request, pilot):
        chart = accuracy_chart(dashboard_accuracy(study=study, pilot=pilot))
    else:
        raise Http404("no such chart")
    response = JsonResponse(chart)
    response["Cache-Control"] = "no-store"
    return response


@staff_member_required
@require_GET
def export_download(request: HttpRequest, token: str) -> FileResponse:
    """The zip of a finished export job; the token in the URL is unguessable and staff log in."""
    job = export_job_file(token=token)
    if job is None:
        raise Http404(
            "no finished export with this link (it may have been deleted, or removed after "
            "HEARXAI_EXPORT_KEEP_DAYS days: export again from the study page)"
        )
    name = f"{job.study.slug}-export-{job.finished_at:%Y%m%d-%H%M%S}.zip"
    response = FileResponse(
        open(Path(job.archive_path), "rb"),
        as_attachment=True,
        filename=name,
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response
