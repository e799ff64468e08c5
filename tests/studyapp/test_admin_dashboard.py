"""The live dashboard: counts per group, completion time, accuracy only when asked, chart data, strict CSP."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studyapp.models import Participant, Response, Study
from studyapp.selectors.dashboard import wilson_interval
from studyapp.services.participants import participant_consent, participant_enroll
from tests.studyapp.research_helpers import bundle_with, complete, enrol, study_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_study(media_root: Path, tmp_path: Path) -> Study:
    """A live study with sessions in every state, plus one pilot session."""
    study = study_on(
        bundle_with(tmp_path),
        slug="busy",
        status=Study.Status.PILOT,
        target_per_condition=4,
        n_trials=3,
        time_limit_minutes=30,
    )
    complete(study, "pilot-1", accuracy=1.0)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE, live_since=timezone.now())
    study.refresh_from_db()
    for i, minutes in enumerate((10, 20, 40)):
        done = complete(study, f"done-{i}", accuracy=0.5, seed=i)
        Participant.objects.filter(pk=done.pk).update(
            completed_at=done.started_at + timedelta(minutes=minutes)
        )
    enrol(study, "active")
    gone = enrol(study, "gone")
    Participant.objects.filter(pk=gone.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=31)
    )
    out = enrol(study, "screened")
    Participant.objects.filter(pk=out.pk).update(status=Participant.Status.SCREENED_OUT)
    no, _ = participant_enroll(study=study, recruitment={"participant_label": "declined"})
    participant_consent(participant=no, agree=False)
    return study


def _dashboard(client: Client, study: Study, query: str = "") -> object:
    response = client.get(reverse("study-dashboard", args=[study.slug]) + query)
    assert response.status_code == 200
    return response


def test_the_dashboard_counts_sessions_per_group_by_outcome(
    admin_client: Client, busy_study: Study
) -> None:
    context = _dashboard(admin_client, busy_study).context
    groups = {g.arm: g for g in context["groups"]}
    assert set(groups) == {"visual", "audible"}
    live = Participant.objects.filter(study=busy_study, is_pilot=False)
    for name, group in groups.items():
        mine = live.filter(arm=name)
        assert group.started == mine.count()
        assert group.completed == mine.filter(status="completed").count()
        assert group.screened_out == mine.filter(status="screened_out").count()
        assert group.declined == mine.filter(status="declined").count()
    totals = context["totals"]
    assert (
        totals["started"],
        totals["completed"],
        totals["active"],
        totals["abandoned"],
        totals["screened_out"],
        totals["declined"],
    ) == (7, 3, 1, 1, 1, 1)
    assert context["median_minutes"] == pytest.approx(20.0)


def test_live_accuracy_stays_hidden_until_the_researcher_clicks_to_see_it(
    admin_client: Client, busy_study: Study
) -> None:
    page = _dashboard(admin_client, busy_study)
    assert page.context["accuracy"] is None and "Show accuracy so far" in page.content.decode()
    chart = reverse("study-chart", args=[busy_study.slug, "accuracy"])
    assert admin_client.get(chart).status_code == 404

    shown = _dashboard(admin_client, busy_study, "?phase=live&accuracy=show").context["accuracy"]
    answers = Response.objects.filter(
        trial__participant__study=busy_study, trial__participant__is_pilot=False, trial__kind="main"
    )
    assert sum(row.n for row in shown) == answers.count()
    assert sum(row.correct for row in shown) == answers.filter(answer_correct=True).count()
    for row in shown:
        assert (row.low, row.high) == pytest.approx(wilson_interval(row.correct, n=row.n))
    assert admin_client.get(chart + "?phase=live&accuracy=show").status_code == 200


def test_pilot_sessions_and_their_accuracy_are_shown_apart_without_a_click(
    admin_client: Client, busy_study: Study
) -> None:
    context = _dashboard(admin_client, busy_study, "?phase=pilot").context
    assert sum(g.started for g in context["groups"]) == 1
    assert context["accuracy"] and all(row.correct == row.n for row in context["accuracy"])


def test_the_status_chart_sends_one_bar_segment_per_outcome_and_the_target(
    admin_client: Client, busy_study: Study
) -> None:
    response = admin_client.get(reverse("study-chart", args=[busy_study.slug, "status"]))
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    chart = response.json()
    groups = {g.arm: g for g in _dashboard(admin_client, busy_study).context["groups"]}
    assert (chart["kind"], chart["target"]) == ("status", 4)
    assert [o["key"] for o in chart["outcomes"]] == [
        "completed",
        "active",
        "abandoned",
        "screened_out",
        "declined",
    ]
    for sent in chart["groups"]:
        group = groups[sent["label"]]
        assert sent["started"] == group.started
        assert sent["counts"] == {k: getattr(group, k) for k in sent["counts"]}


def test_the_accuracy_chart_sends_each_condition_with_its_interval(
    admin_client: Client, busy_study: Study
) -> None:
    url = reverse("study-chart", args=[busy_study.slug, "accuracy"]) + "?phase=pilot"
    chart = admin_client.get(url).json()
    shown = _dashboard(admin_client, busy_study, "?phase=pilot").context["accuracy"]
    assert chart["kind"] == "accuracy"
    assert [(r["label"], r["n"], r["correct"]) for r in chart["rows"]] == [
        (row.condition, row.n, row.correct) for row in shown
    ]
    assert [(r["low"], r["high"]) for r in chart["rows"]] == [(row.low, row.high) for row in shown]


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (score, no correction).
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
     (1, 29, 0.0061, 0.1718), (29, 29, 0.8830, 1.0)],
)  # fmt: skip
def test_the_dashboard_wilson_interval_matches_published_values(
    k: int, n: int, low: float, high: float
) -> None:
    assert wilson_interval(k, n=n) == pytest.approx((low, high), abs=5e-5)


def test_the_dashboard_wilson_interval_agrees_with_statsmodels() -> None:
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    for k, n in [(0, 1), (3, 7), (50, 100), (199, 200), (12, 12)]:
        expected = proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
        assert wilson_interval(k, n=n) == pytest.approx(expected, abs=1e-12)


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.style_attrs = 0
        self.inline_scripts = 0
        self.external: list[str] = []  # scripts, styles and images fetched from another host

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        self.style_attrs += "style" in names
        self.inline_scripts += tag == "script" and "src" not in names
        for name, value in attrs:
            if tag in ("script", "link", "img") and name in ("src", "href") and value:
                if value.startswith(("//", "http:", "https:")):
                    self.external.append(value)


def test_the_dashboard_page_obeys_the_strict_csp(admin_client: Client, busy_study: Study) -> None:
    response = _dashboard(admin_client, busy_study, "?accuracy=show")
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "script-src 'self'" in policy
    finder = _InlineFinder()
    finder.feed(response.content.decode())
    assert (finder.style_attrs, finder.inline_scripts, finder.external) == (0, 0, [])


def test_the_dashboard_needs_a_staff_login(client: Client, busy_study: Study) -> None:
    response = client.get(reverse("study-dashboard", args=[busy_study.slug]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get(reverse("study-chart", args=[busy_study.slug, "status"])).status_code == 302


def test_the_study_page_links_to_dashboard_export_preview_and_duplicate(
    admin_client: Client, busy_study: Study
) -> None:
    page = admin_client.get(
        reverse("admin:studyapp_study_change", args=[busy_study.pk])
    ).content.decode()
    for url in (
        reverse("study-dashboard", args=[busy_study.slug]),
        reverse("preview_index", args=[busy_study.slug]),
        reverse("admin:studyapp_study_export", args=[busy_study.pk]),
        reverse("admin:studyapp_study_duplicate", args=[busy_study.pk]),
    ):
        assert url in page
    assert admin_client.get(reverse("preview_index", args=[busy_study.slug])).status_code == 200
