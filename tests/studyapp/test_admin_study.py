"""A logged-in researcher designs, freezes and duplicates studies through the real admin pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import Bundle, Condition, Study
from studyapp.services.studies import study_duplicate
from tests.studyapp.research_helpers import METHODS, bundle_with, enrol, study_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_method_bundle(media_root: Path, tmp_path: Path) -> Bundle:
    return bundle_with(tmp_path, n=30, methods=METHODS)


def _add_form(bundle: Bundle, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "crossed",
        "title": "Crossed design",
        "status": "draft",
        "bundle": bundle.pk,
        "seed": 7,
        "modalities": ["visual", "audible"],
        "methods": list(METHODS),
        "assignment": "between",
        "method_assignment": "within",
        "n_trials": 8,
        "n_practice": 2,
        "n_catch": 1,
        "share_incorrect": 0.25,
        "stimulus_sampling": "per_participant",
        "task": "forward",
        "design": "single",
        "n_pretest": 0,
        "n_learning": 0,
        "max_replays": 3,
        "consent_version": "1",
        "consent_text": "Consent.",
        "screen_trials": 6,
        "screen_pass_threshold": 5,
        "target_per_condition": 10,
        "time_limit_minutes": 30,
        "audio_must_finish": "on",
        "conditions-TOTAL_FORMS": 0,
        "conditions-INITIAL_FORMS": 0,
        "questions-TOTAL_FORMS": 0,
        "questions-INITIAL_FORMS": 0,
    }
    data.update(overrides)
    return data


def _change_form(client: Client, study: Study) -> dict[str, Any]:
    """The change form's current values, as a browser would submit them unchanged."""
    page = client.get(reverse("admin:studyapp_study_change", args=[study.pk]))
    form = page.context["adminform"].form
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = (
            [str(v) for v in value]
            if isinstance(value, list | tuple)
            else ("on" if value is True else str(value))
        )
    total = study.conditions.count()
    data.update({"conditions-TOTAL_FORMS": total, "conditions-INITIAL_FORMS": total})
    for i, condition in enumerate(study.conditions.all()):
        data[f"conditions-{i}-id"] = condition.pk
        data[f"conditions-{i}-study"] = study.pk
    return data | _questions_formset(page.context)


def _questions_formset(context: Any) -> dict[str, Any]:
    """The custom-question rows of a change page, unchanged (none when they are frozen)."""
    formset = next(
        (f.formset for f in context["inline_admin_formsets"] if f.formset.prefix == "questions"),
        None,
    )
    if formset is None:
        return {}
    data: dict[str, Any] = {
        "questions-TOTAL_FORMS": len(formset.forms),
        "questions-INITIAL_FORMS": formset.initial_form_count(),
    }
    for form in formset.forms:
        for name in form.fields:
            value = form[name].value()
            if value not in (None, False, ""):
                data[form.add_prefix(name)] = "on" if value is True else str(value)
    return data


def test_a_researcher_creates_a_study_whose_factors_are_crossed_into_conditions(
    admin_client: Client, two_method_bundle: Bundle
) -> None:
    page = admin_client.get(reverse("admin:studyapp_study_add") + f"?bundle={two_method_bundle.pk}")
    assert page.context["adminform"].form.initial["bundle"] == str(two_method_bundle.pk)
    assert all(f'value="{m}"' in page.content.decode() for m in METHODS)
    response = admin_client.post(reverse("admin:studyapp_study_add"), _add_form(two_method_bundle))
    assert response.status_code == 302, response.context["adminform"].form.errors
    study = Study.objects.get(slug="crossed")
    cells = sorted((c.modality, c.method, c.name) for c in study.conditions.all())
    assert cells == sorted(
        (mod, meth, f"{mod}-{meth}") for mod in ("visual", "audible") for meth in METHODS
    )
    assert (study.assignment, study.method_assignment) == ("between", "within")


def test_the_admin_refuses_a_design_the_bundle_cannot_supply_before_it_runs(
    admin_client: Client, two_method_bundle: Bundle
) -> None:
    response = admin_client.post(
        reverse("admin:studyapp_study_add"),
        _add_form(two_method_bundle, status="live", n_trials=40),
    )
    assert response.status_code == 200
    assert "usable recordings for main trials" in response.content.decode()
    assert not Study.objects.filter(slug="crossed").exists()


def test_a_draft_may_change_its_design_but_a_live_study_is_frozen_and_says_why(
    admin_client: Client, two_method_bundle: Bundle
) -> None:
    study = study_on(two_method_bundle, slug="frozen", status=Study.Status.DRAFT)
    data = _change_form(admin_client, study) | {
        "n_trials": "7",
        "status": "live",
        "confirm_status": "on",
    }
    assert (
        admin_client.post(reverse("admin:studyapp_study_change", args=[study.pk]), data).status_code
        == 302
    )
    study.refresh_from_db()
    assert (study.n_trials, study.status) == (7, "live") and study.live_since is not None

    page = admin_client.get(
        reverse("admin:studyapp_study_change", args=[study.pk])
    ).content.decode()
    assert "so its design is frozen" in page and "Duplicate study" in page
    assert 'name="n_trials"' not in page and 'name="title"' in page

    data = _change_form(admin_client, study) | {
        "title": "Renamed",
        "n_trials": "3",
        "modalities": ["none"],
    }
    assert (
        admin_client.post(reverse("admin:studyapp_study_change", args=[study.pk]), data).status_code
        == 302
    )
    study.refresh_from_db()
    assert (study.title, study.n_trials) == ("Renamed", 7)
    assert sorted(c.modality for c in study.conditions.all()) == ["audible", "visual"]


def test_a_live_study_cannot_go_back_to_draft(
    admin_client: Client, two_method_bundle: Bundle
) -> None:
    study = study_on(two_method_bundle, slug="nodraft")
    data = _change_form(admin_client, study) | {"status": "draft"}
    response = admin_client.post(reverse("admin:studyapp_study_change", args=[study.pk]), data)
    assert response.status_code == 200
    assert "can only be live or closed" in response.content.decode()
    data["status"] = "closed"
    assert (
        admin_client.post(reverse("admin:studyapp_study_change", args=[study.pk]), data).status_code
        == 302
    )
    assert Study.objects.get(pk=study.pk).status == "closed"


def test_duplicate_study_makes_an_editable_draft_version_without_participants(
    admin_client: Client, two_method_bundle: Bundle
) -> None:
    study = study_on(
        two_method_bundle, slug="orig", methods=METHODS, method_assignment="within", n_catch=1
    )
    enrol(study, "someone")
    confirm = admin_client.get(reverse("admin:studyapp_study_duplicate", args=[study.pk]))
    assert confirm.status_code == 200
    response = admin_client.post(reverse("admin:studyapp_study_duplicate", args=[study.pk]))
    copy = Study.objects.get(slug="orig-v2")
    assert response["Location"] == reverse("admin:studyapp_study_change", args=[copy.pk])
    assert (copy.status, copy.live_since, copy.participants.count()) == ("draft", None, 0)
    assert (copy.n_trials, copy.n_catch, copy.method_assignment, copy.seed) == (
        6,
        1,
        "within",
        study.seed,
    )
    assert [(c.name, c.modality, c.method) for c in copy.conditions.all()] == [
        (c.name, c.modality, c.method) for c in study.conditions.all()
    ]
    page = admin_client.get(reverse("admin:studyapp_study_change", args=[copy.pk])).content.decode()
    assert 'name="n_trials"' in page and "so its design is frozen" not in page


def test_a_duplicate_copies_every_column_of_the_study_but_its_identity_and_status(
    two_method_bundle: Bundle,
) -> None:
    study = study_on(two_method_bundle, slug="cols", n_catch=1, consent_version="v7")
    study.practice_stimuli.set(two_method_bundle.stimuli.all()[:1])
    copy = study_duplicate(study=study)
    # values() without names reads every column of the table: a column the copy forgets
    # (were get_fields() ever to leave one out) fails here.
    fresh = {"id", "slug", "title", "status", "live_since", "created_at", "updated_at"}
    original, copied = (Study.objects.values().get(pk=s.pk) for s in (study, copy))
    assert len(original) > 30
    assert {k: v for k, v in copied.items() if k not in fresh} == {
        k: v for k, v in original.items() if k not in fresh
    }
    assert list(copy.practice_stimuli.all()) == list(study.practice_stimuli.all())


def test_the_changelist_action_duplicates_several_studies(
    admin_client: Client, two_method_bundle: Bundle
) -> None:
    a, b = study_on(two_method_bundle, slug="a"), study_on(two_method_bundle, slug="b-v2")
    response = admin_client.post(
        reverse("admin:studyapp_study_changelist"),
        {"action": "duplicate_studies", "_selected_action": [a.pk, b.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert set(Study.objects.values_list("slug", flat=True)) == {"a", "b-v2", "a-v2", "b-v3"}


def test_a_live_study_with_data_cannot_be_deleted_from_the_admin(
    admin_client: Client, two_method_bundle: Bundle
) -> None:
    study = study_on(two_method_bundle, slug="keep")
    enrol(study, "p1")
    response = admin_client.post(
        reverse("admin:studyapp_study_delete", args=[study.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert (
        Study.objects.filter(pk=study.pk).exists()
        and Condition.objects.filter(study=study).count() == 2
    )


def test_collected_data_are_read_only_in_the_admin(
    admin_client: Client, two_method_bundle: Bundle
) -> None:
    study = study_on(two_method_bundle, slug="ro")
    participant = enrol(study, "p1")
    page = admin_client.get(
        reverse("admin:studyapp_participant_change", args=[participant.pk])
    ).content.decode()
    assert (
        participant.pseudonym in page
        and 'name="status"' not in page
        and participant.token not in page
    )
    assert admin_client.get(reverse("admin:studyapp_response_add")).status_code == 403
