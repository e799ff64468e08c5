"""Researcher admin: studies, conditions, stimuli, participants, responses, jobs."""

from __future__ import annotations

from django.contrib import admin

from studyapp.models import (
    AudioEvent,
    Bundle,
    Condition,
    ExportJob,
    ImportJob,
    MediaFile,
    Participant,
    Response,
    Stimulus,
    Study,
    Trial,
)


class ConditionInline(admin.TabularInline):
    model = Condition
    extra = 0


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "status", "assignment", "task", "n_trials", "bundle")
    list_filter = ("status", "assignment", "task")
    search_fields = ("slug", "title")
    inlines = [ConditionInline]


@admin.register(Bundle)
class BundleAdmin(admin.ModelAdmin):
    list_display = ("name", "architecture", "task", "manifest_sha256", "imported_at")
    readonly_fields = ("manifest", "manifest_sha256", "format_version", "weights_sha256", "classes")


@admin.register(Stimulus)
class StimulusAdmin(admin.ModelAdmin):
    list_display = ("stimulus_id", "bundle", "true_label", "predicted_label", "model_correct", "method", "practice")
    list_filter = ("bundle", "model_correct", "method", "practice", "true_label")
    search_fields = ("stimulus_id", "source_recording")


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("pseudonym", "study", "condition", "status", "is_pilot", "started_at", "completed_at")
    list_filter = ("study", "status", "is_pilot", "condition")
    search_fields = ("pseudonym",)
    readonly_fields = ("token", "seed")


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ("trial", "answer", "answer_correct", "rt_ms", "received_at")
    list_filter = ("trial__participant__study", "answer_correct")
    list_select_related = ("trial__participant__study",)


admin.site.register(Condition)
admin.site.register(Trial)
admin.site.register(MediaFile)
admin.site.register(AudioEvent)
admin.site.register(ImportJob)
admin.site.register(ExportJob)
admin.site.site_header = "Audio explanation studies"
