"""What the study page shows a researcher before and while recruiting (read only).

The links and codes a recruitment platform needs, the design in one sentence, and the
sessions a status change would affect: the study page's launch checklist and the
admin's confirmations read them here, so the words and numbers agree everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.urls import reverse

from studyapp.models import Participant, Study
from studyapp.selectors.assignment import study_arms
from studyapp.selectors.designs import design_baseline_task

# Prolific replaces these placeholders in the study URL with the participant's ids; the
# entry page stores them (studyapp.services.participants.RECRUITMENT_FIELDS).
PROLIFIC_QUERY = (
    "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
)
PROLIFIC_HOSTS = ("prolific.com", "prolific.co")
IN_PROGRESS = (Participant.Status.STARTED, Participant.Status.IN_PROGRESS)


@dataclass(frozen=True)
class LaunchItem:
    """One line of the checklist: a value to copy into the recruitment platform (empty = not set)."""

    key: str
    label: str
    value: str
    note: str = ""


def study_participant_link(*, study: Study, base_url: str) -> str:
    """The link every participant opens (``base_url`` is scheme and host, no trailing slash)."""
    return base_url + reverse("entry", args=[study.slug])


def study_launch_items(*, study: Study, base_url: str) -> list[LaunchItem]:
    """The participant link, the Prolific URL template and the six end codes and URLs."""
    link = study_participant_link(study=study, base_url=base_url)
    items = [
        LaunchItem(
            "link",
            "Participant link",
            link,
            "each new participant joins the group with the fewest sessions (ties broken at random)",
        ),
        LaunchItem(
            "prolific",
            "Prolific study URL",
            f"{link}?{PROLIFIC_QUERY}",
            "paste as the study URL in Prolific; it fills in the three ids",
        ),
    ]
    ends = (
        ("completion", "Completion", "shown (or redirected to) after the last trial"),
        ("screenout", "Screen-out", "for a participant who fails the headphone check"),
        ("noconsent", "No consent", "for a participant who declines consent"),
    )
    for key, label, note in ends:
        items.append(
            LaunchItem(f"{key}_code", f"{label} code", getattr(study, f"{key}_code"), note)
        )
        items.append(LaunchItem(f"{key}_url", f"{label} URL", getattr(study, f"{key}_url"), note))
    return items


def prolific_url_problem(*, url: str, code: str) -> str:
    """Why an end URL cannot work on Prolific (empty if it can, or is not a Prolific URL).

    Prolific recognises a finished submission by the ``cc`` parameter of its completion
    URL; without it, or with a code other than the study's, participants are not paid.
    """
    parts = urlsplit(url)
    if not url or not parts.hostname or not parts.hostname.endswith(PROLIFIC_HOSTS):
        return ""
    cc = parse_qs(parts.query).get("cc", [""])[0]
    if not cc:
        return "a Prolific URL needs the code as its cc parameter (…/submissions/complete?cc=CODE)"
    if code and cc != code:
        return f"the URL's code cc={cc} differs from the code {code} set beside it"
    return ""


def study_design_words(*, study: Study) -> str:
    """The design in one sentence, e.g. "between participants, 2 conditions, 20 trials each ..."."""
    arms = study_arms(study)
    widest = max((len(arm.cells) for arm in arms), default=0)
    names = [c.name for c in study.conditions.all()]
    how = "within participants" if widest > 1 else "between participants"
    parts = [
        study.get_design_display().split(" (")[0].split(":")[0].lower(),
        how,
        f"{len(names)} condition{'s' if len(names) != 1 else ''} ({', '.join(names)})",
        f"{study.n_trials} main trials each"
        + (f" after {study.n_practice} practice" if study.n_practice else "")
        + (f", {study.n_catch} catch trials" if study.n_catch else ""),
        f"task: {study.get_task_display().split(':')[0].lower()}",
    ]
    baseline = (study.bundle.manifest.get("heard_label_baseline") or {}).get(
        design_baseline_task(study)
    )
    if baseline and baseline.get("value") is not None:
        parts.append(f"heard-label baseline {baseline['value']:.2f}")
    if study.target_per_condition:
        basis = f" by {study.target_basis.rstrip('.')}" if study.target_basis else ""
        parts.append(
            f"{study.target_per_condition} participants per group planned "
            f"({study.target_per_condition * len(arms)} in all){basis}"
        )
    else:
        parts.append("no target number of participants set")
    return ", ".join(parts)


def study_test_groups(*, study: Study) -> list[str]:
    """The groups a test session can be started in (a condition, or a counterbalanced set)."""
    return [arm.label for arm in study_arms(study)]


def study_sessions_in_progress(*, study: Study) -> int:
    """Sessions started and not finished, pilot or not.

    Closing a study turns new arrivals away; these sessions may still finish.
    """
    return study.participants.filter(status__in=IN_PROGRESS).count()
