"""The participant's study survives what real sessions go through: reloads, closed tabs,
double clicks, retries, lost connections, a failed sound check, a declined consent."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from studyapp.models import AudioEvent, Participant, Response, Study
from tests.browser import driver
from tests.browser.conftest import screenshot


def _plain_study(site: Any, slug: str, **fields: Any) -> Study:
    return driver.make_study(
        site.bundle, slug, "visual", **{"n_trials": 3, "n_practice": 0, "n_catch": 0, **fields}
    )


def _begin(page: Page, site: Any, study: Study, pid: str) -> None:
    driver.start(page, site, study.slug, pid)
    driver.agree(page)
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")


def _answer_current(page: Page) -> None:
    trial = driver.current_trial(page)
    driver.listen(page)
    driver.answer(page, driver.right_answer(trial))
    driver.submit(page)


def test_failing_the_sound_check_ends_with_the_screen_out_code(site: Any, new_page: Any) -> None:
    study = _plain_study(
        site,
        "screen-fail",
        headphone_screen=True,
        screen_trials=2,
        screen_pass_threshold=2,
        screenout_url="https://app.prolific.com/submissions/complete?cc=SCR33N",
    )
    page, watch = new_page()
    driver.start(page, site, study.slug, "pid-fail")
    driver.agree(page)
    driver.set_volume(page)
    driver.sound_checks(page, correct=False)
    expect(page.locator("#screenout-code")).to_have_text("SCR33N")
    expect(page.locator("#redirect-link")).to_have_attribute("href", study.screenout_url)
    page.route(
        "https://app.prolific.com/**", lambda route: route.abort()
    )  # never leave the test machine
    screenshot(page, "screened-out")
    participant = Participant.objects.get(prolific_pid="pid-fail")
    assert participant.status == Participant.Status.SCREENED_OUT
    assert participant.screening_passed is False and participant.screening_score == 0
    answers = participant.screening["answers"]
    assert [a["correct"] for a in answers] == [False, False]
    assert all([e["event"] for e in a["events"]][-1] == "ended" for a in answers)
    assert not Response.objects.filter(trial__participant=participant).exists()
    assert watch.problems == []


def test_declining_consent_shows_the_no_consent_code(site: Any, new_page: Any) -> None:
    study = _plain_study(site, "decline")
    page, _ = new_page()
    driver.start(page, site, study.slug, "pid-decline")
    page.get_by_role("button", name="I do not agree").click()
    expect(page.locator("#noconsent-code")).to_have_text("N0C0NSENT")
    screenshot(page, "declined")
    participant = Participant.objects.get(prolific_pid="pid-decline")
    assert participant.status == Participant.Status.DECLINED and participant.consented_at is None


def test_the_recruiter_redirect_comes_only_after_the_last_answer_is_stored(
    site: Any, new_page: Any
) -> None:
    study = _plain_study(site, "redirect", n_trials=1)
    study.completion_url = f"{site.url}/?cc=C0MPL3TE"
    study.save()
    page, _ = new_page()
    _begin(page, site, study, "pid-redirect")
    _answer_current(page)
    expect(page.locator("#redirect-countdown")).to_contain_text("Taking you back")
    assert Response.objects.filter(trial__participant__prolific_pid="pid-redirect").count() == 1
    page.wait_for_url(f"{site.url}/?cc=C0MPL3TE", timeout=10_000)


def test_a_reload_keeps_what_was_heard_and_a_new_tab_resumes_at_the_first_unanswered_trial(
    site: Any, new_page: Any
) -> None:
    study = _plain_study(site, "reload")
    page, _ = new_page()
    _begin(page, site, study, "pid-reload")
    _answer_current(page)
    page.wait_for_url("**/trial/2/")
    driver.listen(page)
    page.reload()
    # The clip was heard before the reload: answering stays open, the replay count stays used.
    expect(page.locator("#status-original")).to_contain_text("Heard to the end")
    expect(page.locator("input[name=answer]").first).to_be_enabled()
    trial = driver.current_trial(page)
    driver.answer(page, driver.right_answer(trial))
    driver.submit(page)
    page.wait_for_url("**/trial/3/")
    events = list(AudioEvent.objects.filter(trial=trial).values_list("event", flat=True))
    assert events == ["play", "ended"]

    # Closing the tab and following the recruitment link again lands on trial 3.
    page.context.close()
    again, _ = new_page()
    again.goto(
        f"{site.url}/s/{study.slug}/?PROLIFIC_PID=pid-reload&STUDY_ID=study-1&SESSION_ID=other"
    )
    again.wait_for_url("**/trial/3/")
    assert Participant.objects.filter(prolific_pid="pid-reload").count() == 1
    _answer_current(again)
    expect(again.locator("#completion-code")).to_be_visible()
    assert Response.objects.filter(trial__participant__prolific_pid="pid-reload").count() == 3


def test_a_double_submission_is_stored_once(site: Any, new_page: Any) -> None:
    study = _plain_study(site, "double")
    page, _ = new_page()
    _begin(page, site, study, "pid-double")

    # The request reaches the server, its reply is lost, the page's retry sends it again.
    def deliver_twice(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        route.fetch()
        route.fulfill(response=route.fetch())

    page.route(re.compile(r".*/trial/1/$"), deliver_twice)
    _answer_current(page)
    page.wait_for_url("**/trial/2/")
    page.unroute(re.compile(r".*/trial/1/$"))

    # A double click sends one request.
    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if request.method == "POST" else None
    )
    trial = driver.current_trial(page)
    driver.listen(page)
    driver.answer(page, driver.right_answer(trial))
    page.locator("#submit-answer").dblclick()
    page.wait_for_url("**/trial/3/")
    assert len(posts) == 1

    participant = Participant.objects.get(prolific_pid="pid-double")
    stored = Response.objects.filter(trial__participant=participant)
    assert stored.count() == 2
    first = stored.get(trial__position=1)
    assert AudioEvent.objects.filter(trial=first.trial).count() == 2  # not logged twice


def test_an_answer_given_while_offline_is_sent_when_the_connection_returns(
    site: Any, new_page: Any
) -> None:
    study = _plain_study(site, "offline")
    page, _ = new_page()
    _begin(page, site, study, "pid-offline")
    trial = driver.current_trial(page)
    driver.listen(page)
    driver.answer(page, driver.right_answer(trial))
    page.context.set_offline(True)
    page.locator("#submit-answer").click()
    expect(page.locator("#send-status")).to_contain_text("Connection problem")
    screenshot(page, "trial-connection-lost", full_page=False)
    assert not Response.objects.filter(trial=trial).exists()
    page.context.set_offline(False)
    page.wait_for_url("**/trial/2/", timeout=10_000)
    expect(page.locator("#trial")).to_have_attribute("data-position", "2")  # swapped in
    assert Response.objects.filter(trial=trial).count() == 1


def test_a_closed_or_full_study_shows_a_friendly_page(site: Any, new_page: Any) -> None:
    closed = _plain_study(site, "closed", status=Study.Status.CLOSED)
    full = _plain_study(site, "full", target_per_condition=1)
    page, watch = new_page()
    response = page.goto(f"{site.url}/s/{closed.slug}/?PROLIFIC_PID=late")
    assert response is not None and response.status == 200
    expect(
        page.get_by_role("heading", name="This study is not taking participants right now")
    ).to_be_visible()
    screenshot(page, "unavailable-closed")
    _begin(page, site, full, "first")
    other, _ = new_page()
    other.goto(f"{site.url}/s/{full.slug}/?PROLIFIC_PID=second")
    other.get_by_role("button", name="Start").click()
    expect(other.get_by_text("Enough people have already taken part")).to_be_visible()
    screenshot(other, "unavailable-full")
    assert not Participant.objects.filter(prolific_pid__in=["late", "second"]).exists()
    # Left alone past the study's time limit, the session ends with a friendly page.
    Participant.objects.filter(prolific_pid="first").update(
        last_seen_at=timezone.now() - timedelta(hours=2)
    )
    page.reload()
    expect(page.get_by_role("heading", name="This session has ended")).to_be_visible()
    screenshot(page, "expired")
    assert Participant.objects.get(prolific_pid="first").status == Participant.Status.ABANDONED
