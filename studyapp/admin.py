"""Researcher admin: design and run studies, import bundles, watch jobs, export data.

The admin is thin: forms check the shape of input, services in ``studyapp.services``
make every change (freezing live designs, crossing factors into conditions,
duplicating studies, queueing import and export jobs).
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import FileExtensionValidator
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from contracts.bundle_format import BundleError
from studyapp.forms import DEMOGRAPHIC_QUESTIONS
from studyapp.launch_checklist import (
    prolific_url_problem,
    study_design_words,
    study_launch_items,
    study_sessions_in_progress,
    study_test_groups,
)
from studyapp.models import (
    AudioEvent,
    Bundle,
    Condition,
    ExportJob,
    ImportJob,
    Job,
    MediaFile,
    Participant,
    Question,
    Response,
    Stimulus,
    Study,
    Trial,
)
from studyapp.selectors.designs import study_design_problems
from studyapp.selectors.jobs import export_expired, export_expires_at
from studyapp.selectors.studies import study_factor_levels, study_frozen_reason, study_is_frozen
from studyapp.services.archives import archive_check_headers
from studyapp.services.bundles import bundle_upload_store
from studyapp.services.job_leases import job_state_note
from studyapp.services.jobs import export_job_create, import_job_create
from studyapp.services.participants import (
    StudyUnavailable,
    participant_enroll_test,
    participant_withdraw,
)
from studyapp.services.studies import (
    FROZEN_FIELDS,
    LINK_FIELDS,
    conditions_crossed,
    study_change_problems,
    study_conditions_problems,
    study_conditions_set,
    study_design_report,
    study_duplicate,
    study_save,
)

admin.site.site_header = "Audio explanation studies"
admin.site.site_title = "Audio explanation studies"
admin.site.index_title = "Research administration"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Collected data and provenance: researchers look, never edit by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --------------------------------------------------------------------------- studies


# What each modality shows on a trial, for the add form's checkboxes.
MODALITY_CHOICES = [
    ("visual", "Visual: the relevance heatmap drawn over the spectrogram"),
    ("audible", "Audible: the explanation as sound (the recording filtered by its relevance)"),
    ("both", "Both: the heatmap and the audible explanation on the same trial"),
    ("none", "None: the recording and its spectrogram only (a control without explanation)"),
]
# The fieldset the custom questions' inline follows (the change form places it there).
QUESTIONS_FIELDSET = "Consent and questions about the participant"
END_FIELDS = (
    ("completion_url", "completion_code"),
    ("screenout_url", "screenout_code"),
    ("noconsent_url", "noconsent_code"),
)


class StudyAdminForm(forms.ModelForm):
    """The study form plus the two design factors, crossed into conditions on save."""

    modalities = forms.MultipleChoiceField(
        choices=MODALITY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Explanation modalities to compare: each ticked one becomes a condition "
        "(crossed with the methods below).",
    )
    demographics = forms.MultipleChoiceField(
        required=False,
        choices=[(key, q.label) for key, q in DEMOGRAPHIC_QUESTIONS.items()],
        widget=forms.CheckboxSelectMultiple,
        help_text="Asked on one page after consent; each is a column of participants.csv.",
    )
    confirm_status = forms.BooleanField(
        required=False,
        label="Confirm the status change",
        help_text="Going live and closing are asked for twice: tick this when the form asks.",
    )
    methods = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Explanation methods to cross with the modalities. Leave empty for a study with one "
        "method (any stimulus of the bundle); tick two or more to compare methods.",
    )

    class Meta:
        model = Study
        fields = "__all__"
        widgets = {
            name: forms.Textarea(attrs={"rows": rows, "cols": 60})
            for name, rows in (("consent_text", 6), ("instructions_text", 4), ("debrief_text", 4))
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and study_is_frozen(self.instance):
            # Declared fields are always on a ModelForm; frozen factors must not be.
            self.fields.pop("modalities", None)
            self.fields.pop("methods", None)
        if "methods" in self.fields:
            all_methods = sorted({m for bundle in Bundle.objects.all() for m in bundle.methods})
            self.fields["methods"].choices = [(m, m) for m in all_methods]
        if "modalities" in self.fields:
            # A new study starts with nothing ticked: the researcher chooses every condition.
            modalities, methods = (
                study_factor_levels(self.instance) if self.instance.pk else ([], [])
            )
            self.initial.setdefault("modalities", modalities)
            self.initial.setdefault("methods", methods)
        for name in ("practice_stimuli", "excluded_stimuli"):
            if name in self.fields and self.instance.pk:
                self.fields[name].queryset = Stimulus.objects.filter(
                    bundle_id=self.instance.bundle_id
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for url_field, code_field in END_FIELDS:
            problem = prolific_url_problem(
                url=data.get(url_field) or "", code=data.get(code_field) or ""
            )
            if problem and url_field in self.fields:
                self.add_error(url_field, problem)
        if self.errors:
            return data
        probe = construct_instance(self, copy.copy(self.instance))
        before = Study.objects.get(pk=self.instance.pk) if self.instance.pk else None
        problems = study_change_problems(before=before, after=probe, changed=self.changed_data)
        if problems:
            raise ValidationError(problems)
        self._check_design(probe)
        if not self.errors:
            self._ask_confirmation(before, probe)
        return data

    def _check_design(self, probe: Study) -> None:
        """What the bundle cannot supply, as errors (the factors are on the form only while not frozen)."""
        conditions = self._conditions(probe)
        if conditions is None:
            return
        design = study_design_problems(
            study=probe,
            modalities=[mod for _, mod, _ in conditions],
            methods=[m for _, _, m in conditions if m],
        )
        if design:
            raise ValidationError(design)
        report = study_design_report(
            study=probe,
            conditions=conditions,
            practice=self._pks("practice_stimuli", probe),
            excluded=self._pks("excluded_stimuli", probe),
        )
        if report.errors and probe.status in {Study.Status.PILOT, Study.Status.LIVE}:
            raise ValidationError(
                [f"The design cannot run as {probe.status}: {e}" for e in report.errors]
            )

    def _ask_confirmation(self, before: Study | None, probe: Study) -> None:
        """Going live and closing with sessions running need the confirm box ticked."""
        if self.cleaned_data.get("confirm_status"):
            return
        was = before.status if before else None
        if (
            probe.status == Study.Status.LIVE
            and was != Study.Status.LIVE
            and not (before and study_is_frozen(before))
        ):
            self.add_error(
                "confirm_status",
                "Going live freezes the design for good: "
                f"{', '.join(f.replace('_', ' ') for f in FROZEN_FIELDS)}, the conditions and the custom questions. "
                "Sessions from now on are live data. Tick to confirm and save again.",
            )
        elif probe.status == Study.Status.CLOSED and before and was != Study.Status.CLOSED:
            running = study_sessions_in_progress(study=before)
            if running:
                self.add_error(
                    "confirm_status",
                    f"{running} session(s) are still in progress: closing turns new arrivals "
                    "away, and these may still finish. Tick to confirm and save again.",
                )

    def _conditions(self, probe: Study) -> list[tuple[str, str, str]] | None:
        """The crossed conditions, or None when the factors are frozen (not on the form)."""
        if "modalities" not in self.cleaned_data:
            return None
        methods = self.cleaned_data.get("methods") or []
        missing = sorted(set(methods) - set(probe.bundle.methods))
        if missing:
            self.add_error(
                "methods",
                f"{', '.join(missing)} not in bundle {probe.bundle.name} "
                f"(it has {', '.join(probe.bundle.methods)})",
            )
            return None
        problems = study_conditions_problems(
            study=probe, modalities=self.cleaned_data["modalities"], methods=methods
        )
        if problems:
            self.add_error("modalities", problems)
            return None
        return conditions_crossed(self.cleaned_data["modalities"], methods=methods)

    def _pks(self, name: str, probe: Study) -> set[int] | None:
        if name not in self.cleaned_data:
            return None
        chosen = self.cleaned_data[name]
        foreign = [s.stimulus_id for s in chosen if s.bundle_id != probe.bundle_id]
        if foreign:
            self.add_error(name, f"not in the study's bundle: {', '.join(foreign[:5])}")
        return {s.pk for s in chosen}


def _stored_status(study: Study | None) -> str | None:
    """The saved status: a form that failed validation has already changed ``study.status``."""
    if study is None or study.pk is None:
        return None
    return Study.objects.filter(pk=study.pk).values_list("status", flat=True).first()


class ConditionInline(admin.TabularInline):
    """Conditions are generated from the factors above; shown for reference."""

    model = Condition
    extra = 0
    fields = readonly_fields = ("name", "modality", "method", "position")
    can_delete = False
    classes = ("collapse",)
    verbose_name_plural = "Conditions (generated from the factors: modality x method)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class QuestionInline(admin.StackedInline):
    """The researcher's own questions; frozen with the rest of the design once live."""

    model = Question
    extra = 0
    # One question: where it is asked, its column and kind, the wording, the answers.
    fieldsets = [
        (
            None,
            {
                "fields": (
                    ("placement", "position", "required"),
                    ("column", "kind"),
                    "text",
                    "options",
                    ("minimum", "maximum"),
                )
            },
        )
    ]
    verbose_name = "custom question"
    verbose_name_plural = (
        "Custom questions (each a column of participants.csv, described in the codebook)"
    )
    formfield_overrides = {
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 4, "cols": 50})},
    }

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and not _frozen(obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and not _frozen(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and not _frozen(obj)


def _frozen(obj: Any) -> bool:
    return isinstance(obj, Study) and study_is_frozen(obj)


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    form = StudyAdminForm
    list_display = (
        "slug",
        "dashboard_link",
        "title",
        "status",
        "design_summary",
        "sessions",
        "live_since",
    )
    list_filter = ("status", "assignment", "task")
    search_fields = ("slug", "title")
    inlines = [QuestionInline, ConditionInline]
    filter_horizontal = ("practice_stimuli", "excluded_stimuli")
    actions = ["duplicate_studies"]
    change_form_template = "admin/studyapp/study/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Study]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_sessions=Count(
                    "participants", filter=Q(participants__is_pilot=False), distinct=True
                ),
                n_conditions=Count("conditions", distinct=True),
            )
        )

    def get_fieldsets(
        self, request: HttpRequest, obj: Study | None = None
    ) -> list[tuple[str | None, dict[str, Any]]]:
        # The frozen state is said once, in the message at the top of the page (change_view).
        # Fields that belong together share a row; what most studies leave at its default
        # is in a collapsed group, so the form fits in about two screens. A collapsed group
        # lists its fields flat: the admin opens one with an error only if it names the
        # field directly (Fieldset.is_collapsible does not look into rows).
        frozen = obj is not None and study_is_frozen(obj)
        factors = ("factor_summary",) if frozen else ("modalities", "methods")
        closed = _stored_status(obj) == Study.Status.CLOSED
        status = ("status",) if closed else ("status", "confirm_status")
        live = ("live_since",) if obj is not None and obj.live_since else ()
        return [
            (None, {"fields": (("slug", "title"), status, "bundle", *live)}),
            (
                "Design: conditions (explanation modality x method) and what a trial asks",
                {
                    "fields": (
                        *factors,
                        "assignment",
                        "design",
                        "task",
                        ("ask_rating", "ask_confidence"),
                    )
                },
            ),
            (
                "Trial sets",
                {"fields": (("n_trials", "n_practice", "n_catch"), "share_incorrect")},
            ),
            (
                "Design: advanced (seed, method assignment, sampling, hiding the recording)",
                {
                    "classes": ("collapse",),
                    "fields": (
                        "seed",
                        "method_assignment",
                        "stimulus_sampling",
                        "explanation_only",
                    ),
                },
            ),
            (
                "Learning then test: the blocks before the test",
                {"classes": ("collapse",), "fields": ("n_pretest", "n_learning")},
            ),
            (
                "Trial sets: stimuli chosen by hand",
                {"classes": ("collapse",), "fields": ("practice_stimuli", "excluded_stimuli")},
            ),
            (
                QUESTIONS_FIELDSET,
                {"fields": ("consent_version", "consent_text", "demographics")},
            ),
            (
                "Instructions and debrief (empty: the standard pages)",
                {"classes": ("collapse",), "fields": ("instructions_text", "debrief_text")},
            ),
            (
                "Audio rules",
                {
                    "classes": ("collapse",),
                    "fields": ("audio_must_finish", "max_replays", "allow_seeking", "allow_back"),
                },
            ),
            (
                "Headphone screen",
                {
                    "classes": ("collapse",),
                    "fields": ("headphone_screen", "screen_trials", "screen_pass_threshold"),
                },
            ),
            (
                "Recruitment",
                {"fields": (("target_per_condition", "time_limit_minutes"), "target_basis")},
            ),
            (
                "End codes and URLs (Prolific and other recruiters; the checklist above shows them)",
                {
                    "classes": ("collapse",),
                    "fields": tuple(name for url, code in END_FIELDS for name in (code, url)),
                },
            ),
        ]

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        context["questions_fieldset"] = QUESTIONS_FIELDSET
        return super().render_change_form(request, context, *args, **kwargs)

    def get_readonly_fields(
        self, request: HttpRequest, obj: Study | None = None
    ) -> tuple[str, ...]:
        link = LINK_FIELDS if _stored_status(obj) not in {None, Study.Status.DRAFT} else ()
        if obj is not None and study_is_frozen(obj):
            return ("live_since", "factor_summary", *link, *FROZEN_FIELDS)
        return ("live_since", *link)

    def get_inlines(self, request: HttpRequest, obj: Study | None) -> list[type]:
        # A new study has no conditions yet (they are made from the factors on save).
        return self.inlines if obj is not None else [QuestionInline]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        study = self.get_object(request, object_id)
        if study is not None and request.method == "GET" and study_is_frozen(study):
            messages.warning(request, study_frozen_reason(study))
        if study is not None:
            extra_context = {**(extra_context or {}), **self._launch_context(request, study)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _launch_context(self, request: HttpRequest, study: Study) -> dict[str, Any]:
        """The launch checklist above the form: links, codes, design, test sessions."""
        base = f"{request.scheme}://{request.get_host()}"
        return {
            "launch_items": study_launch_items(study=study, base_url=base),
            "design_words": study_design_words(study=study),
            "test_groups": study_test_groups(study=study) if study.is_open else [],
            "sessions_in_progress": study_sessions_in_progress(study=study),
        }

    def save_model(
        self, request: HttpRequest, obj: Study, form: forms.ModelForm, change: bool
    ) -> None:
        before = Study.objects.get(pk=obj.pk) if change else None
        # The form's factors belong to this save even when it is the one that takes the study live.
        form.taking_live = before is None or not study_is_frozen(before)
        study_save(study=obj, before=before, changed=form.changed_data)

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        study = form.instance
        if "modalities" in form.cleaned_data:
            study_conditions_set(
                study=study,
                modalities=form.cleaned_data["modalities"],
                methods=form.cleaned_data.get("methods") or [],
                taking_live=form.taking_live,
            )
        report = study_design_report(study=study)
        for problem in report.errors:
            messages.error(request, f"Before this study can run: {problem}")
        for advice in report.warnings:
            messages.warning(request, advice)

    def has_delete_permission(self, request: HttpRequest, obj: Study | None = None) -> bool:
        # Deleting a study deletes its data; one with live sessions is closed instead.
        if obj is not None and obj.participants.filter(is_pilot=False).exists():
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="design")
    def design_summary(self, obj: Study) -> str:
        factors = f"modality {obj.assignment}"
        if obj.conditions.exclude(method="").values("method").distinct().count() > 1:
            factors += f", method {obj.method_assignment}"
        return (
            f"{obj.get_design_display()}: {obj.n_conditions} conditions ({factors}), "
            f"{obj.n_trials} trials"
        )

    @admin.display(description="live sessions", ordering="n_sessions")
    def sessions(self, obj: Study) -> int:
        return obj.n_sessions

    @admin.display(description="conditions")
    def factor_summary(self, obj: Study) -> str:
        modalities, methods = study_factor_levels(obj)
        return f"modalities: {', '.join(modalities)}; methods: {', '.join(methods) or 'any'}"

    @admin.display(description="dashboard")
    def dashboard_link(self, obj: Study) -> str:
        return format_html(
            '<a href="{}">dashboard</a>', reverse("study-dashboard", args=[obj.slug])
        )

    @admin.action(
        description="Duplicate selected studies (as new draft versions)", permissions=["add"]
    )
    def duplicate_studies(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        for study in queryset:
            copy_ = study_duplicate(study=study)
            url = reverse("admin:studyapp_study_change", args=[copy_.pk])
            messages.success(
                request,
                format_html(
                    'Duplicated {} as <a href="{}">{}</a> (draft).', study.slug, url, copy_.slug
                ),
            )

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:study_id>/export/",
                self.admin_site.admin_view(self.export_view),
                name="studyapp_study_export",
            ),
            path(
                "<int:study_id>/duplicate/",
                self.admin_site.admin_view(self.duplicate_view),
                name="studyapp_study_duplicate",
            ),
            path(
                "<int:study_id>/test-session/",
                self.admin_site.admin_view(self.test_session_view),
                name="studyapp_study_test_session",
            ),
        ]
        return own + super().get_urls()

    def export_view(self, request: HttpRequest, study_id: int) -> HttpResponse:
        study = get_object_or_404(Study, pk=study_id)
        if not self.has_view_permission(request, study):
            raise PermissionDenied
        form = ExportForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            job = export_job_create(study=study, **form.cleaned_data)
            messages.info(
                request,
                f"Export job #{job.pk} queued; this page shows its status and the download.",
            )
            return HttpResponseRedirect(reverse("admin:studyapp_exportjob_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Export responses of {study.slug}",
            "study": study,
            "form": form,
            "opts": self.model._meta,
            "jobs": study.export_jobs.order_by("-created_at")[:10],
        }
        return render(request, "admin/studyapp/study/export.html", context)

    def test_session_view(self, request: HttpRequest, study_id: int) -> HttpResponse:
        """Start a pilot-flagged session in the chosen group and open it as a participant."""
        study = get_object_or_404(Study, pk=study_id)
        if request.method != "POST" or not self.has_change_permission(request, study):
            raise PermissionDenied
        group = request.POST.get("group", "")
        back = reverse("admin:studyapp_study_change", args=[study.pk])
        if group not in study_test_groups(study=study):
            messages.error(request, f"Test session: the study has no group {group[:64]!r}.")
            return HttpResponseRedirect(back)
        try:
            participant = participant_enroll_test(study=study, arm=group)
        except StudyUnavailable:
            messages.error(
                request,
                f"Test session: the study is {study.status}; test links work in pilot and live.",
            )
            return HttpResponseRedirect(back)
        return HttpResponseRedirect(reverse("resume", args=[participant.token]))

    def duplicate_view(self, request: HttpRequest, study_id: int) -> HttpResponse:
        study = get_object_or_404(Study, pk=study_id)
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            copy_ = study_duplicate(study=study)
            messages.success(
                request, f"Duplicated {study.slug} as {copy_.slug} (draft): change its design here."
            )
            return HttpResponseRedirect(reverse("admin:studyapp_study_change", args=[copy_.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Duplicate {study.slug}",
            "study": study,
            "opts": self.model._meta,
        }
        return render(request, "admin/studyapp/study/duplicate.html", context)


class ExportForm(forms.Form):
    include_pilot = forms.BooleanField(
        required=False,
        help_text="Also export sessions collected while the study was in pilot mode (flagged is_pilot).",
    )
    include_recruitment_ids = forms.BooleanField(
        required=False,
        help_text="Add recruitment ids (e.g. Prolific ids) to participants.csv. Leave off unless "
        "you need them (for example to pay or to match a bonus): they identify people.",
    )


# --------------------------------------------------------------------------- jobs


class JobAdmin(ReadOnlyAdmin):
    change_form_template = "admin/studyapp/job_change_form.html"
    # Where a job is and what happens next (queued without Redis, running, worker dead).
    LEASE_FIELDS = (
        "state",
        "attempts",
        "created_at",
        "dispatched_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
    )

    @admin.display(description="state")
    def state(self, obj: Job) -> str:
        return job_state_note(obj)

    @admin.display(description="problems")
    def problems_list(self, obj: Job) -> str:
        if not obj.problems:
            return "none"
        return format_html(
            '<ul class="job-problems">{}</ul>',
            format_html_join("", "<li>{}</li>", ((p,) for p in obj.problems)),
        )

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        obj = context.get("original")
        context["job_running"] = obj is not None and obj.status in {
            Job.Status.QUEUED,
            Job.Status.RUNNING,
        }
        return super().render_change_form(request, context, *args, **kwargs)


class BundleUploadForm(forms.Form):
    archive = forms.FileField(
        validators=[FileExtensionValidator(["zip"])],
        help_text="A zip of a stimulus bundle folder (manifest.json and its files), as written by "
        "python -m explainer bundle.",
    )


@admin.register(ImportJob)
class ImportJobAdmin(JobAdmin):
    list_display = ("id", "what", "status", "message", "bundle", "created_at", "finished_at")
    list_filter = ("status",)
    fields = readonly_fields = (
        "status",
        "what",
        "message",
        "problems_list",
        "bundle_link",
        *JobAdmin.LEASE_FIELDS,
    )
    change_list_template = "admin/studyapp/importjob/change_list.html"

    @admin.display(description="bundle")
    def what(self, obj: ImportJob) -> str:
        return obj.original_name or obj.source

    @admin.display(description="imported bundle")
    def bundle_link(self, obj: ImportJob) -> str:
        if obj.bundle is None:
            return "-"
        create = reverse("admin:studyapp_study_add") + f"?bundle={obj.bundle.pk}"
        return format_html('{} &middot; <a href="{}">create a study on it</a>', obj.bundle, create)

    def get_urls(self) -> list[URLPattern]:
        upload = path(
            "upload/",
            self.admin_site.admin_view(self.upload_view),
            name="studyapp_importjob_upload",
        )
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("studyapp.add_bundle"):
            raise PermissionDenied
        form = BundleUploadForm(
            *((request.POST, request.FILES) if request.method == "POST" else ())
        )
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["archive"]
            try:
                # Refuse a hostile archive here, before it is stored or a job is made.
                archive_check_headers(source=upload.file, name=upload.name)
                stored = bundle_upload_store(upload=upload)
            except BundleError as exc:
                form.add_error("archive", exc.problems)
            else:
                job = import_job_create(source=stored, original_name=upload.name[:255])
                messages.info(request, f"Import job #{job.pk} queued for {upload.name}.")
                return HttpResponseRedirect(
                    reverse("admin:studyapp_importjob_change", args=[job.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a stimulus bundle",
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "admin/studyapp/importjob/upload.html", context)


@admin.register(ExportJob)
class ExportJobAdmin(JobAdmin):
    list_display = (
        "id",
        "study",
        "status",
        "options",
        "n_trials",
        "n_participants",
        "created_at",
        "download",
    )
    list_filter = ("status", "study")
    fields = readonly_fields = (
        "study",
        "status",
        "options",
        "message",
        "problems_list",
        "n_trials",
        "n_participants",
        "archive_bytes",
        "download",
        *JobAdmin.LEASE_FIELDS,
    )

    @admin.display(description="download")
    def download(self, obj: ExportJob) -> str:
        if obj.status != Job.Status.SUCCEEDED:
            return "not ready" if obj.status != Job.Status.FAILED else "failed"
        if not obj.archive_path or export_expired(obj):
            return "deleted (export again)"
        expires = export_expires_at(obj)
        link = format_html(
            '<a href="{}">download zip</a>', reverse("export-download", args=[obj.download_token])
        )
        return (
            link
            if expires is None
            else format_html("{} (until {} UTC)", link, f"{expires:%Y-%m-%d %H:%M}")
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("studyapp.delete_exportjob")

    def delete_model(self, request: HttpRequest, obj: ExportJob) -> None:
        _export_file_delete(obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ExportJob]) -> None:
        for job in queryset:
            _export_file_delete(job)
        super().delete_queryset(request, queryset)


def _export_file_delete(job: ExportJob) -> None:
    from pathlib import Path

    if job.archive_path:
        Path(job.archive_path).unlink(missing_ok=True)


# --------------------------------------------------------------------------- bundles and data


@admin.register(Bundle)
class BundleAdmin(ReadOnlyAdmin):
    list_display = ("name", "architecture", "task", "methods_list", "n_stimuli", "imported_at")
    readonly_fields = (
        "name",
        "architecture",
        "task",
        "format_version",
        "manifest_sha256",
        "weights_sha256",
        "classes",
        "imported_at",
        "manifest",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bundle]:
        return super().get_queryset(request).annotate(n=Count("stimuli"))

    @admin.display(description="methods")
    def methods_list(self, obj: Bundle) -> str:
        return ", ".join(obj.methods)

    @admin.display(description="stimuli", ordering="n")
    def n_stimuli(self, obj: Bundle) -> int:
        return obj.n

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and not (
            obj is not None and obj.studies.exists()
        )


@admin.register(Stimulus)
class StimulusAdmin(ReadOnlyAdmin):
    # Faithfulness beside the decision it explains; the long bundle and recording names last.
    list_display = (
        "stimulus_id",
        "method",
        "true_label",
        "predicted_label",
        "model_correct",
        "deletion_aopc",
        "decision_kept",
        "avg_drop",
        "avg_gain",
        "practice",
        "source_recording",
        "bundle",
    )
    list_filter = ("bundle", "model_correct", "method", "practice", "true_label")
    search_fields = ("stimulus_id", "source_recording")
    # A bundle without faithfulness numbers shows this, not a zero that was never measured.
    empty_value_display = "not recorded"

    @staticmethod
    def _faith(obj: Stimulus, key: str) -> Any:
        return (obj.faithfulness or {}).get(key)

    @staticmethod
    def _number(value: Any) -> str | None:
        return None if value is None else f"{value:.3f}"

    @admin.display(description="deletion AOPC")
    def deletion_aopc(self, obj: Stimulus) -> str | None:
        return self._number(self._faith(obj, "deletion_aopc"))

    @admin.display(description="decision kept")
    def decision_kept(self, obj: Stimulus) -> str | None:
        # Text, not Django's boolean icons: their "unknown" icon would hide "not recorded".
        kept = self._faith(obj, "decision_kept")
        return None if kept is None else ("yes" if kept else "no")

    @admin.display(description="avg drop")
    def avg_drop(self, obj: Stimulus) -> str | None:
        return self._number(self._faith(obj, "avg_drop"))

    @admin.display(description="avg gain")
    def avg_gain(self, obj: Stimulus) -> str | None:
        return self._number(self._faith(obj, "avg_gain"))


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = (
        "pseudonym",
        "study",
        "arm",
        "rotation",
        "status",
        "is_pilot",
        "started_at",
        "completed_at",
    )
    list_filter = ("study", "status", "is_pilot", "arm")
    search_fields = ("pseudonym",)
    exclude = ("token", "recruitment_key")
    actions = ["withdraw"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # withdrawal is the one way to delete a session
        return actions

    @admin.action(
        description="Withdraw selected participants (delete all their data)", permissions=["delete"]
    )
    def withdraw(self, request: HttpRequest, queryset: QuerySet[Participant]) -> None:
        names = [p.pseudonym for p in queryset]
        for participant in queryset:
            participant_withdraw(participant=participant)
        messages.success(
            request,
            f"Withdrew {len(names)} participant(s) and deleted their data: {', '.join(names)}.",
        )


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = ("trial", "answer", "answer_correct", "rt_ms", "received_at")
    list_filter = ("trial__participant__study", "answer_correct")
    list_select_related = ("trial__participant__study",)


@admin.register(Trial)
class TrialAdmin(ReadOnlyAdmin):
    list_display = ("participant", "position", "kind", "condition", "stimulus")
    list_filter = ("participant__study", "kind")
    list_select_related = ("participant__study", "condition", "stimulus")


admin.site.register(MediaFile, ReadOnlyAdmin)
admin.site.register(AudioEvent, ReadOnlyAdmin)
admin.site.register(Condition, ReadOnlyAdmin)
