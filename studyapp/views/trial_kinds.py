"""Which template partial draws each kind of trial inside the trial runner: the one place to add one.

The runner (``studyapp/trial.html`` and ``static/studyapp/trial.js``) draws the first
trial of a visit with the page and every later one in place, from the HTML the answer's
reply carries; both render :data:`TRIAL_SECTION`: the ``<section id="trial">`` with the
attributes the runner reads, the heading, the answer form, and, included from the
partial named here, the trial kind's players and pictures. A player is a button
``play-<media>`` with an ``<audio data-media="<media>">`` (the runner plays, logs and
preloads every one of them).
"""

from __future__ import annotations

from studyapp.models import Trial

TRIAL_SECTION = "studyapp/_trial_section.html"

# Presentation name -> template partial.
TRIAL_PARTIALS: dict[str, str] = {
    "single": "studyapp/_trial_single.html",  # one explanation (and learning-then-test trials)
    "pair": "studyapp/_trial_pair.html",  # two explanations side by side (cue detection, preference)
}


def trial_presentation(trial: Trial) -> str:
    """The presentation a trial is drawn with (a key of :data:`TRIAL_PARTIALS`)."""
    return "pair" if trial.partner_id else "single"


def trial_partial(trial: Trial) -> str:
    return TRIAL_PARTIALS[trial_presentation(trial)]
