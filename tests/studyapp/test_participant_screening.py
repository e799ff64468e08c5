"""The Huggins-pitch headphone screen: the stimulus itself, the scoring, and its pages."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from django.test import Client
from django.urls import reverse

from studyapp.models import Bundle, Participant, Study
from studyapp.selectors.screening import HugginsDesign, screening_plan
from studyapp.services.screening import (
    ScreeningAnswer,
    ScreeningRejected,
    huggins_interval,
    huggins_trial,
    screening_answer_record,
    screening_calibrated,
    screening_sound_path,
)
from studyapp.services.studies import study_create
from tests.studyapp.participant_helpers import (
    consented,
    fresh_rate_limits,  # noqa: F401  (autouse fixture)
)

DESIGN = HugginsDesign()
NO_RAMP = replace(DESIGN, ramp_s=0.0)


def band(design: HugginsDesign, n: int) -> tuple[np.ndarray, np.ndarray]:
    freqs = np.fft.rfftfreq(n, 1 / design.sample_rate)
    inside = (freqs >= design.centre_hz * (1 - design.band_fraction)) & (
        freqs <= design.centre_hz * (1 + design.band_fraction)
    )
    return inside, (freqs > 100) & (freqs < 5000) & ~inside


def test_the_huggins_interval_gives_each_ear_the_same_spectrum_but_inverts_the_band_between_ears() -> (
    None
):
    stereo = huggins_interval(np.random.default_rng(1), design=NO_RAMP, dichotic=True)
    left, right = np.fft.rfft(stereo[:, 0]), np.fft.rfft(stereo[:, 1])
    inside, outside = band(NO_RAMP, len(stereo))
    # No cue in either ear alone: identical magnitude spectra.
    np.testing.assert_allclose(np.abs(right), np.abs(left), rtol=1e-9, atol=1e-9)
    # Between the ears: in phase outside the band, opposite phase inside it.
    cross = left * np.conj(right)
    assert np.all(cross[outside].real > 0) and np.all(cross[inside].real < 0)
    assert inside.sum() > 50  # the band is about 72 Hz wide: many FFT bins


def test_mixed_in_the_air_the_band_cancels_which_is_why_loudspeakers_fail() -> None:
    stereo = huggins_interval(np.random.default_rng(2), design=NO_RAMP, dichotic=True)
    mixed = np.abs(np.fft.rfft(stereo.sum(axis=1))) ** 2
    inside, outside = band(NO_RAMP, len(stereo))
    assert mixed[inside].mean() < 1e-12 * mixed[outside].mean()


def test_the_other_intervals_are_the_same_noise_in_both_ears_at_the_set_level() -> None:
    diotic = huggins_interval(np.random.default_rng(3), design=DESIGN, dichotic=False)
    np.testing.assert_array_equal(diotic[:, 0], diotic[:, 1])
    middle = diotic[2000:-2000, 0]  # away from the ramps
    assert abs(np.sqrt(np.mean(middle**2)) - DESIGN.rms) < 0.05 * DESIGN.rms


@pytest.mark.parametrize("target", [1, 2, 3])
def test_a_trial_holds_three_intervals_with_the_tone_only_in_the_target(target: int) -> None:
    signal = huggins_trial(np.random.default_rng(4), design=DESIGN, target=target)
    rate = DESIGN.sample_rate
    assert signal.shape == (round(DESIGN.total_s * rate), 2)
    for number, (start, end) in enumerate(DESIGN.interval_bounds_s(), start=1):
        part = signal[round(start * rate) : round(end * rate)]
        assert np.abs(part).max() > 0
        assert np.array_equal(part[:, 0], part[:, 1]) == (number != target)
    gap = signal[
        round(DESIGN.interval_bounds_s()[0][1] * rate) + 5 : round(
            DESIGN.interval_bounds_s()[1][0] * rate
        )
        - 5
    ]
    assert not gap.any()
    with pytest.raises(ValueError, match="target interval"):
        huggins_trial(np.random.default_rng(4), design=DESIGN, target=4)


def test_pool_files_are_made_once_as_16_bit_stereo_wav(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    path = screening_sound_path(target=2, variant=1)
    stamp = path.stat().st_mtime_ns
    assert screening_sound_path(target=2, variant=1) == path and path.stat().st_mtime_ns == stamp
    info = sf.info(str(path))
    assert (info.channels, info.samplerate, info.subtype) == (2, 44_100, "PCM_16")
    assert abs(info.duration - DESIGN.total_s) < 1e-3
    data, _ = sf.read(str(path))
    assert np.abs(data).max() < 0.5  # quiet enough that the calibration sets a comfortable level
    assert not list(tmp_path.rglob("*.part"))


def test_each_participants_targets_follow_their_seed_and_are_spread_over_the_three_intervals() -> (
    None
):
    assert screening_plan(seed=7, n_trials=6) == screening_plan(seed=7, n_trials=6)
    assert screening_plan(seed=7, n_trials=6) != screening_plan(seed=8, n_trials=6)
    counts = Counter(
        t for seed in range(500) for t in screening_plan(seed=seed, n_trials=6)["targets"]
    )
    assert set(counts) == {1, 2, 3} and all(900 <= c <= 1100 for c in counts.values())


# --- scoring and pages ---------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


def screen_study(bundle: Bundle, **fields: Any) -> Study:
    return study_create(
        slug="screen",
        title="Screen",
        bundle=bundle,
        status=Study.Status.LIVE,
        consent_text="C.",
        conditions=[("visual", "visual", "")],
        **{"headphone_screen": True, "screen_trials": 3, "screen_pass_threshold": 2, **fields},
    )


def heard(answer: int, key: str) -> ScreeningAnswer:
    events = (
        {"media": "screening", "event": "play", "client_ms": 10.0, "media_time_s": 0.0},
        {"media": "screening", "event": "ended", "client_ms": 4100.0, "media_time_s": 4.0},
    )
    return ScreeningAnswer(answer=answer, submission_key=key, rt_ms=900.0, events=events)


def calibrated(study: Study, label: str) -> Participant:
    participant = consented(study, label)
    return screening_calibrated(participant=participant, plays=2)


@pytestmark_db
@pytest.mark.parametrize(("n_right", "passed"), [(3, True), (2, True), (1, False), (0, False)])
def test_the_screen_is_passed_at_the_threshold_and_failing_screens_out(
    bundle: Bundle, n_right: int, passed: bool
) -> None:
    participant = calibrated(screen_study(bundle), "p")
    targets = participant.screening["targets"]
    for number, target in enumerate(targets, start=1):
        answer = target if number <= n_right else target % 3 + 1
        assert screening_answer_record(
            participant=participant, number=number, answer=heard(answer, f"key-{number:06d}")
        )
    participant.refresh_from_db()
    assert participant.screening_score == n_right and participant.screening_passed is passed
    assert participant.status == ("in_progress" if passed else "screened_out")
    assert participant.screening["calibration"]["plays"] == 2
    assert [a["correct"] for a in participant.screening["answers"]] == [
        n <= n_right for n in (1, 2, 3)
    ]


@pytestmark_db
def test_a_repeated_screening_answer_is_stored_once_and_a_changed_one_refused(
    bundle: Bundle,
) -> None:
    participant = calibrated(screen_study(bundle), "p")
    assert (
        screening_answer_record(participant=participant, number=1, answer=heard(1, "key-000001"))
        is True
    )
    assert (
        screening_answer_record(participant=participant, number=1, answer=heard(1, "key-000001"))
        is False
    )
    with pytest.raises(ScreeningRejected, match="already been answered"):
        screening_answer_record(participant=participant, number=1, answer=heard(2, "key-000002"))
    assert len(Participant.objects.get(pk=participant.pk).screening["answers"]) == 1


@pytestmark_db
def test_screening_answers_must_follow_the_rules(bundle: Bundle) -> None:
    study = screen_study(bundle)
    uncalibrated = consented(study, "u")
    with pytest.raises(ScreeningRejected, match="in order"):
        screening_answer_record(participant=uncalibrated, number=1, answer=heard(1, "key-000001"))
    participant = calibrated(study, "p")
    with pytest.raises(ScreeningRejected, match="in order"):
        screening_answer_record(participant=participant, number=2, answer=heard(1, "key-000001"))
    with pytest.raises(ScreeningRejected, match="not heard to the end"):
        screening_answer_record(
            participant=participant, number=1, answer=ScreeningAnswer(1, "key-000001")
        )
    replayed = heard(1, "key-000001")
    replayed = replace(
        replayed,
        events=replayed.events
        + ({"media": "screening", "event": "replay", "client_ms": 5000.0, "media_time_s": 0.0},),
    )
    with pytest.raises(ScreeningRejected, match="only once"):
        screening_answer_record(participant=participant, number=1, answer=replayed)
    with pytest.raises(ScreeningRejected, match="1, 2 or 3"):
        screening_answer_record(participant=participant, number=1, answer=heard(4, "key-000001"))


@pytestmark_db
def test_the_site_serves_only_the_current_sound_check_under_a_url_that_hides_the_answer(
    bundle: Bundle, client: Client
) -> None:
    participant = calibrated(screen_study(bundle), "p")
    page = client.get(reverse("screening", args=[participant.token, 1])).content.decode()
    sound_url = reverse("screening_sound", args=[participant.token, 1])
    assert sound_url in page and sound_url.endswith("/sound-check/1/sound.wav")
    reply = client.get(sound_url)
    assert reply["Content-Type"] == "audio/wav"
    data, rate = sf.read(io.BytesIO(b"".join(reply.streaming_content)))
    assert data.shape[1] == 2 and rate == 44_100
    assert client.get(reverse("screening_sound", args=[participant.token, 2])).status_code == 404
    assert client.get(reverse("calibration_sound", args=[participant.token])).status_code == 200


@pytestmark_db
def test_a_study_without_a_screen_serves_no_screening_sounds_and_skips_its_pages(
    bundle: Bundle, client: Client
) -> None:
    study = screen_study(bundle, headphone_screen=False)
    participant = consented(study, "p")
    assert client.get(reverse("calibration_sound", args=[participant.token])).status_code == 404
    assert client.get(reverse("calibration", args=[participant.token])).url == reverse(
        "instructions", args=[participant.token]
    )
    assert client.get(reverse("screening", args=[participant.token, 1])).status_code == 302
