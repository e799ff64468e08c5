"""The study page as a launch checklist and its guard rails, through the real admin pages."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from studyapp.models import Bundle, Participant, Study
from studyapp.services.studies import study_save
from tests.studyapp.research_helpers import bundle_with, enrol, study_on
from tests.studyapp.test_admin_study import _add_form, _change_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(media_root: Path, tmp_path: Path) -> Bundle:
    return bundle_with(tmp_path, n=30)


def _change(client: Client, study: Study, **changes: object) -> tuple[int, str]:
    data = _change_form(client, study) | changes
    response = client.post(reverse("admin:studyapp_study_change", args=[study.pk]), data)
    return response.status_code, response.content.decode()


def test_the_add_form_starts_with_no_modality_ticked_and_explains_each(
    admin_client: Client, bundle: Bundle
) -> None:
    page = admin_client.get(reverse("admin:studyapp_study_add"))
    form = page.context["adminform"].form
    assert form["modalities"].value() == []
    html = page.content.decode()
    assert "checked" not in html.split('name="modalities"')[1].split("</div>")[0]
    for words in ("heatmap drawn over the spectrogram", "explanation as sound", "a control"):
        assert words in html


def test_going_live_asks_for_confirmation_naming_what_freezes_and_changes_nothing(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(bundle, slug="golive", status=Study.Status.PILOT)
    status, html = _change(admin_client, study, status="live", n_trials="5")
    assert status == 200
    assert "Going live freezes the design" in html and "share incorrect" in html
    study.refresh_from_db()
    assert (study.status, study.n_trials, study.live_since) == ("pilot", 6, None)

    status, _ = _change(admin_client, study, status="live", confirm_status="on")
    assert status == 302
    study.refresh_from_db()
    assert study.status == "live" and study.live_since is not None


def test_closing_a_study_with_sessions_in_progress_says_how_many_and_asks_first(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(bundle, slug="closing")
    enrol(study, "a"), enrol(study, "b")
    status, html = _change(admin_client, study, status="closed")
    assert status == 200 and "2 session(s) are still in progress" in html
    assert Study.objects.get(pk=study.pk).status == "live"
    assert _change(admin_client, study, status="closed", confirm_status="on")[0] == 302
    assert Study.objects.get(pk=study.pk).status == "closed"


def test_the_slug_is_locked_once_a_study_leaves_draft(admin_client: Client, bundle: Bundle) -> None:
    study = study_on(bundle, slug="fixed", status=Study.Status.PILOT)
    page = admin_client.get(reverse("admin:studyapp_study_change", args=[study.pk]))
    assert 'name="slug"' not in page.content.decode()
    status, _ = _change(admin_client, study, slug="renamed", title="New title")
    assert status == 302
    study.refresh_from_db()
    assert (study.slug, study.title) == ("fixed", "New title")
    with pytest.raises(ValidationError, match="participant link .*/s/fixed/. is fixed"):
        before = Study.objects.get(pk=study.pk)
        study.slug = "renamed"
        study_save(study=study, before=before, changed=["slug"])
    assert Study.objects.get(pk=study.pk).slug == "fixed"

    draft = study_on(bundle, slug="draft", status=Study.Status.DRAFT)
    assert _change(admin_client, draft, slug="draft-renamed")[0] == 302
    assert Study.objects.filter(slug="draft-renamed").exists()


def test_a_prolific_end_url_without_its_code_is_refused_on_the_field(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(bundle, slug="urls", status=Study.Status.DRAFT)
    status, html = _change(
        admin_client, study, completion_url="https://app.prolific.com/submissions/complete"
    )
    assert status == 200 and "needs the code as its cc parameter" in html
    assert (
        'id="id_completion_url"' in html.split("needs the code")[1]
    )  # the error sits on the field
    status, html = _change(
        admin_client,
        study,
        completion_code="ABC123",
        completion_url="https://app.prolific.com/submissions/complete?cc=XYZ",
    )
    assert status == 200 and "cc=XYZ differs from the code ABC123" in html
    # The end codes' group is collapsed by default, and open when one of its fields is wrong.
    assert "<summary>" not in html.split("End codes and URLs")[0].rsplit("<fieldset", 1)[1]
    assert Study.objects.get(pk=study.pk).completion_url == ""
    url = "https://app.prolific.com/submissions/complete?cc=ABC123"
    assert _change(admin_client, study, completion_code="ABC123", completion_url=url)[0] == 302
    assert Study.objects.get(pk=study.pk).completion_url == url


def test_demographics_are_ticked_from_the_built_in_questions(
    admin_client: Client, bundle: Bundle
) -> None:
    response = admin_client.post(
        reverse("admin:studyapp_study_add"),
        _add_form(bundle, methods=[], demographics=["age_range", "audio_device"]),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Study.objects.get(slug="crossed").demographics == ["age_range", "audio_device"]
    bad = admin_client.post(
        reverse("admin:studyapp_study_add"),
        _add_form(bundle, slug="bad", methods=[], demographics=["shoe_size"]),
    )
    assert "shoe_size is not one of the available choices" in bad.content.decode()
    assert not Study.objects.filter(slug="bad").exists()


def test_the_study_page_lists_the_links_and_codes_and_the_design_in_words(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(
        bundle,
        slug="checklist",
        status=Study.Status.PILOT,
        target_per_condition=40,
        target_basis="the power analysis (0.8 power for a 10-point difference).",
    )
    html = admin_client.get(
        reverse("admin:studyapp_study_change", args=[study.pk])
    ).content.decode()
    assert "http://testserver/s/checklist/</code>" in html
    assert (
        "http://testserver/s/checklist/?PROLIFIC_PID={{%PROLIFIC_PID%}}&amp;STUDY_ID={{%STUDY_ID%}}"
        "&amp;SESSION_ID={{%SESSION_ID%}}" in html
    )
    assert '<code id="launch-completion_code">DONE</code>' in html
    assert "between participants, 2 conditions (visual, audible), 6 main trials each" in html
    assert (
        "40 participants per group planned (80 in all) by the power analysis (0.8 power for a "
        "10-point difference)" in html
    )
    assert html.count("data-copy=") == 3  # link, Prolific URL, completion code: the rest is unset
    assert "so its design is frozen" not in html


def test_a_frozen_study_says_so_once(admin_client: Client, bundle: Bundle) -> None:
    study = study_on(bundle, slug="once")
    html = admin_client.get(
        reverse("admin:studyapp_study_change", args=[study.pk])
    ).content.decode()
    assert html.count("so its design is frozen") == 1


def test_a_test_link_starts_a_pilot_session_in_the_chosen_condition(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(bundle, slug="testlink")
    url = reverse("admin:studyapp_study_test_session", args=[study.pk])
    response = admin_client.post(url, {"group": "audible"})
    session = Participant.objects.get(study=study)
    assert response.status_code == 302 and response["Location"] == f"/p/{session.token}/"
    assert (session.condition.name, session.is_pilot) == ("audible", True)
    assert session.trials.count() == 6

    page = admin_client.post(url, {"group": "smell"}, follow=True).content.decode()
    assert "the study has no group &#x27;smell&#x27;" in page
    before = Study.objects.get(pk=study.pk)
    study.status = Study.Status.CLOSED
    study_save(study=study, before=before, changed=["status"])
    page = admin_client.post(url, {"group": "visual"}, follow=True).content.decode()
    assert "the study is closed; test links work in pilot and live" in page
    assert Participant.objects.filter(study=study).count() == 1


def test_the_favicon_that_admin_pages_ask_for_exists(client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("studyapp/favicon.svg")
    icon = finders.find("studyapp/favicon.svg")
    assert icon and Path(icon).read_text().startswith("<svg")


def test_the_demo_names_the_link_and_how_participants_are_assigned(
    bundle: Bundle, settings: object, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path  # type: ignore[attr-defined]  # the demo password file goes here
    study_on(bundle, slug="demo")
    out = io.StringIO()
    call_command("demo_setup", study="demo", stdout=out)
    text = out.getvalue()
    assert "Participant link: http://127.0.0.1:8000/s/demo/" in text
    assert "each new participant joins the condition with the fewest sessions" in text
