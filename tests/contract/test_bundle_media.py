"""The bundle contract's media rule, and that the explainer and the study site apply the same one."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from contracts import bundle_format as bf
from contracts import bundle_media as bm
from tests.synthetic_bundle import write_synthetic_bundle

RATE = 8000


def tone(seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * 300 * t) * np.hanning(len(t))


def problems_of(path: Path, signal: np.ndarray, **write: object) -> list[str]:
    sf.write(path, signal, RATE, **write)
    return bm.read_wav(path, expected_rate=RATE, max_duration_s=1.0, label=path.name)[0]


def test_a_good_wav_passes_and_each_fault_is_named(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "good.wav", tone(), subtype="PCM_16") == []
    assert "mono" in problems_of(tmp_path / "stereo.wav", np.zeros((RATE, 2)) + 0.1)[0]
    assert any(
        "duration 2.000 s outside (0, 1.0] s" in p
        for p in problems_of(tmp_path / "long.wav", tone(2.0))
    )
    assert any(
        "clips" in p for p in problems_of(tmp_path / "c.wav", np.ones(RATE), subtype="PCM_16")
    )
    assert any("silent" in p for p in problems_of(tmp_path / "s.wav", tone(amplitude=1e-4)))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav file")
    assert (
        "cannot decode"
        in bm.read_wav(junk, expected_rate=RATE, max_duration_s=1.0, label="j")[0][0]
    )
    sf.write(tmp_path / "fast.wav", tone(), 16000)
    found = bm.read_wav(tmp_path / "fast.wav", expected_rate=RATE, max_duration_s=1.0, label="f")[0]
    assert found == ["f: sample rate 16000 Hz, the manifest says 8000 Hz"]


def test_loudness_is_checked_for_rms_matching_only_and_within_the_tolerance() -> None:
    within, beyond = 0.9 * bm.LOUDNESS_TOLERANCE_DB, 1.1 * bm.LOUDNESS_TOLERANCE_DB
    assert bm.loudness_problem("s", -26.0, -26.0 + within, matching="rms") is None
    assert "+0.55 dB louder" in (
        bm.loudness_problem("s", -26.0, -26.0 + beyond, matching="rms") or ""
    )
    assert bm.loudness_problem("s", -26.0, -20.0, matching="lufs") is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "gain_db", [0.0, 0.7 * bm.LOUDNESS_TOLERANCE_DB, 1.4 * bm.LOUDNESS_TOLERANCE_DB, 60.0]
)
def test_the_explainer_and_the_study_site_agree_on_every_bundle(
    tmp_path: Path, gain_db: float
) -> None:
    """A pair off by less than the tolerance passes both; off by more, or clipped, fails both."""
    from explainer.bundle import validate_bundle
    from studyapp.services.bundle_checks import media_problems

    folder = write_synthetic_bundle(tmp_path / "bundle", n=2, n_practice=0)
    manifest = bf.read_manifest(folder)
    entry = manifest["stimuli"][0]["files"]["audible_heatmap"]
    samples, _ = sf.read(folder / entry["path"])
    louder = tmp_path / "louder.wav"
    sf.write(louder, np.clip(samples * 10 ** (gain_db / 20), -1, 1), RATE, subtype="PCM_16")
    data = louder.read_bytes()
    rel = bf.content_file_name(bf.sha256_bytes(data), ".wav")
    (folder / entry["path"]).unlink()
    shutil.move(louder, folder / rel)
    entry.update(path=rel, sha256=bf.sha256_bytes(data))
    bf.write_manifest(folder, manifest)
    explainer_says = [p for p in validate_bundle(folder) if "audible" in p or "louder" in p]
    site_says = media_problems(folder, manifest=manifest)[0]
    assert bool(explainer_says) == bool(site_says) == (gain_db > bm.LOUDNESS_TOLERANCE_DB)
