"""The audible heatmap played back to the model (L-MAC) and BS.1770 loudness matching, on
real bundles of real (small) trained models and the demo corpus's espeak-ng speech."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal as sps

from contracts import bundle_format as bf
from explainer import audio_checks
from explainer import bundle as eb
from explainer.bundle.planning import RenderOptions
from explainer.cli import main
from explainer.faithfulness.playback import play_back
from explainer.selection import Design

pytestmark = pytest.mark.slow

PLAYBACK_KEYS = {"decision_kept", "avg_drop", "avg_increase", "avg_gain", "heard_probability"}
METHODS = ("lrp-epsilon-plus-flat", "gradient")


def build(run: Path, data: Path, out: Path, *, loudness: str, rate: int = 16000) -> dict:
    design = Design(n_decisions=4, practice=1, methods=METHODS)
    render = RenderOptions(playback_rate=rate, loudness_matching=loudness).as_dict()
    spec = eb.plan_bundle(run, data, design, seed=3, render=render)
    return eb.write_bundle(spec, out)["manifest"]


@pytest.fixture(scope="module")
def bs1770_bundle(trained_run, demo_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("playback") / "bs1770"
    build(trained_run, demo_corpus, out, loudness="bs1770")
    return out


@pytest.fixture(scope="module")
def alexnet_bundle(trained_alexnet_run, demo_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("playback") / "alexnet"
    build(trained_alexnet_run, demo_corpus, out, loudness="bs1770", rate=8000)
    return out


def reference_playback(run_dir: Path, data: Path, bundle: Path) -> list[dict]:
    """L-MAC's quantities written out plainly: one clip at a time, no batching."""
    import torch

    from explainer import preprocessing as pp
    from explainer.training import load_run

    run = load_run(run_dir)
    manifest = bf.read_manifest(bundle)
    out = []
    for stim in manifest["stimuli"]:
        window, _, _ = run.prepare(data / stim["source"]["recording"], stim["source"]["recording"])
        heard, rate = sf.read(bundle / stim["files"]["audible_heatmap"]["path"], dtype="float64")
        if rate != 8000:
            heard = sps.resample_poly(heard, 8000, rate)
        explained = run.classes.index(stim["predicted_label"])
        probabilities = []
        for signal in (window, heard[:8000]):
            x = torch.tensor(pp.model_input(signal, run.representation), dtype=torch.float32)
            with torch.no_grad():
                logits = run.model(x[None, None])[0].double()
            probabilities.append(torch.softmax(logits, dim=0).numpy())
        clip, on_heatmap = probabilities
        p, p_heard = clip[explained], on_heatmap[explained]
        drop = (p - p_heard) / p if p_heard < p else 0.0
        gain = (p_heard - p) / (1 - p) if p_heard > p else 0.0
        out.append(
            {
                "decision_kept": int(np.argmax(clip)) == int(np.argmax(on_heatmap)),
                "avg_drop": drop,
                "avg_increase": 1 if p_heard > p else 0,
                "avg_gain": gain,
                "heard_probability": p_heard,
            }
        )
    return out


def assert_agrees(values: list[dict], reference: list[dict]) -> None:
    assert len(values) == len(reference)
    for got, want in zip(values, reference, strict=True):
        # A manifest's stimuli also carry their deletion AOPCs (tests/explainer/faithfulness).
        assert PLAYBACK_KEYS <= set(got) <= PLAYBACK_KEYS | {"deletion_aopc", "random_aopc"}
        assert got["decision_kept"] == want["decision_kept"]
        assert got["avg_increase"] == want["avg_increase"]
        for key in ("avg_drop", "avg_gain", "heard_probability"):
            assert got[key] == pytest.approx(want[key], abs=2e-6), key


@pytest.mark.parametrize(
    ("run_fixture", "bundle_fixture"),
    [("trained_run", "bs1770_bundle"), ("trained_alexnet_run", "alexnet_bundle")],
)
def test_the_manifests_lmac_quantities_agree_with_a_plain_per_clip_reference(
    request, demo_corpus, run_fixture, bundle_fixture
):
    run_dir, bundle = request.getfixturevalue(run_fixture), request.getfixturevalue(bundle_fixture)
    manifest = bf.read_manifest(bundle)
    reference = reference_playback(run_dir, demo_corpus, bundle)
    assert_agrees([s["faithfulness"] for s in manifest["stimuli"]], reference)
    # Not every heatmap keeps the decision or lowers the probability: the test can fail.
    assert len({r["heard_probability"] for r in reference}) > 1


def test_one_batch_over_a_whole_bundle_gives_the_per_clip_values(
    trained_run, demo_corpus, bs1770_bundle
):
    from explainer.training import load_run

    run = load_run(trained_run)
    manifest = bf.read_manifest(bs1770_bundle)
    stimuli = manifest["stimuli"]
    windows = [
        run.prepare(demo_corpus / s["source"]["recording"], s["source"]["recording"])[0]
        for s in stimuli
    ]
    wavs = [(bs1770_bundle / s["files"]["audible_heatmap"]["path"]).read_bytes() for s in stimuli]
    targets = [run.classes.index(s["predicted_label"]) for s in stimuli]
    values = play_back(run, windows, wavs, targets)
    assert_agrees(values, reference_playback(trained_run, demo_corpus, bs1770_bundle))


def test_a_bundle_with_the_playback_has_its_fields_summary_and_provenance_and_validates(
    bs1770_bundle,
):
    manifest = bf.read_manifest(bs1770_bundle)
    assert eb.validate_bundle(bs1770_bundle) == []
    assert all(PLAYBACK_KEYS <= set(s["faithfulness"]) for s in manifest["stimuli"])
    playback = manifest["faithfulness"]["playback"]
    assert "resampled to the model's 8000 Hz" in playback["fed"]
    rows = {r["method"]: r for r in playback["summary"]}
    assert set(rows) == set(METHODS)
    for method, row in rows.items():
        main_stimuli = [
            s["faithfulness"]
            for s in manifest["stimuli"]
            if s["method"] == method and not s["practice"]
        ]
        assert row["n"] == len(main_stimuli) == 4
        kept = sum(v["decision_kept"] for v in main_stimuli) / len(main_stimuli)
        assert row["decision_kept"] == pytest.approx(kept)
        assert row["avg_drop"] == pytest.approx(np.mean([v["avg_drop"] for v in main_stimuli]))
    assert manifest["rendering"]["loudness_matching"] == "bs1770"
    assert manifest["audio"]["loudness_matching"] == "lufs"
    assert "BS.1770" in manifest["rendering"]["loudness"]["meter"]


def reference_lufs(x: np.ndarray, rate: int) -> float:
    """ITU-R BS.1770-4 integrated loudness with the standard's own 48 kHz filter
    coefficients (so the signal is first resampled to 48 kHz), written out plainly."""
    x = sps.resample_poly(x, 48000 // np.gcd(48000, rate), rate // np.gcd(48000, rate))
    shelf = ([1.53512485958697, -2.69169618940638, 1.19839281085285],
             [1.0, -1.69065929318241, 0.73248077421585])  # fmt: skip
    highpass = ([1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621])
    x = sps.lfilter(*highpass, sps.lfilter(*shelf, x))
    block, step = 19200, 4800  # 400 ms, 75 % overlap
    z = np.array([np.mean(x[i : i + block] ** 2) for i in range(0, len(x) - block + 1, step)])
    z = z[z > 10 ** ((-70 + 0.691) / 10)]  # the absolute gate, -70 LUFS
    relative = -0.691 + 10 * np.log10(z.mean()) - 10
    z = z[-0.691 + 10 * np.log10(z) > relative]
    return float(-0.691 + 10 * np.log10(z.mean()))


def pair_difference(bundle: Path, stim: dict, level) -> float:
    values = []
    for role in ("original_audio", "audible_heatmap"):
        samples, rate = sf.read(bundle / stim["files"][role]["path"], dtype="float64")
        values.append(level(samples, rate))
    return values[1] - values[0]


def test_bs1770_matching_gives_the_pairs_one_integrated_loudness_by_an_independent_meter(
    bs1770_bundle, alexnet_bundle, trained_run, demo_corpus, tmp_path
):
    differences = []
    for bundle in (bs1770_bundle, alexnet_bundle):
        for stim in bf.read_manifest(bundle)["stimuli"]:
            assert stim["audio_checks"]["loudness"]["method"] == "bs1770"
            # By the meter that matched them, up to 16-bit rounding.
            meter = pair_difference(bundle, stim, audio_checks.integrated_loudness)
            assert abs(meter) < 0.05, stim["id"]
            differences.append(abs(pair_difference(bundle, stim, reference_lufs)))
    # By the independent meter most pairs agree closely; a 1 s file has only seven
    # 400 ms blocks, so a block on the relative gate can move one by up to about 1 LU.
    assert np.median(differences) < 0.1 and np.mean(np.array(differences) < 0.3) >= 0.8
    assert max(differences) < 1.5
    # The RMS-matched bundle of the same decisions is further apart (the test can fail).
    rms_bundle = tmp_path / "rms"
    build(trained_run, demo_corpus, rms_bundle, loudness="rms")
    rms_differences = [
        abs(pair_difference(rms_bundle, s, reference_lufs))
        for s in bf.read_manifest(rms_bundle)["stimuli"]
    ]
    assert np.mean(rms_differences) > 2 * np.mean(differences[: len(rms_differences)])


def test_a_pair_too_short_or_silent_for_bs1770_falls_back_to_rms_and_says_so():
    rng = np.random.default_rng(0)
    short = rng.normal(0, 0.1, 2000)  # 0.25 s at 8 kHz: shorter than one 400 ms block
    matched = audio_checks.match_loudness(short, short * 0.5, method="bs1770", sample_rate=8000)
    record = matched.record
    assert record["method"] == "rms" and "400 ms" in record["fallback"]
    assert record["original"]["rms_dbfs"] == pytest.approx(record["audible"]["rms_dbfs"])
    long = rng.normal(0, 0.1, 8000)
    silent = audio_checks.match_loudness(long, np.zeros(8000), method="bs1770", sample_rate=8000)
    assert silent.record["method"] == "rms" and "fallback" in silent.record
    with pytest.raises(ValueError, match="sample rate"):
        audio_checks.match_loudness(long, long, method="bs1770")


def test_the_command_line_takes_loudness_and_prints_the_playback_summary_in_one_line(
    trained_run, demo_corpus, tmp_path, capsys
):
    out = tmp_path / "cli"
    args = ["bundle", "--run", str(trained_run), "--data", str(demo_corpus), "--out", str(out)]
    assert main([*args, "--n", "2", "--seed", "1", "--loudness", "bs1770"]) == 0
    lines = [
        line for line in capsys.readouterr().err.splitlines() if "played back to the model" in line
    ]
    assert len(lines) == 1 and "lrp-epsilon-plus-flat: decision kept" in lines[0]
    assert bf.read_manifest(out)["rendering"]["loudness_matching"] == "bs1770"
    with pytest.raises(SystemExit):
        main([*args, "--loudness", "lufs", "--overwrite"])


def test_manifests_without_the_new_fields_still_validate_and_bad_values_do_not(bs1770_bundle):
    manifest = json.loads((bs1770_bundle / bf.MANIFEST_NAME).read_text(encoding="utf-8"))
    old = copy.deepcopy(manifest)
    old.pop("faithfulness")
    for key in ("loudness_matching", "loudness"):
        old["rendering"].pop(key)
    for stim in old["stimuli"]:
        stim.pop("faithfulness")
    assert bf.validate_manifest(old) == []
    bad = copy.deepcopy(manifest)
    bad["stimuli"][0]["faithfulness"]["avg_drop"] = 1.5
    bad["stimuli"][1]["faithfulness"]["decision_kept"] = "yes"
    bad["rendering"]["loudness_matching"] = "peak"
    assert len(bf.validate_manifest(bad)) == 3


def test_the_report_names_pairs_that_fell_back_to_rms(bs1770_bundle, capsys):
    from explainer.bundle.cli import report_audible

    manifest = bf.read_manifest(bs1770_bundle)
    report_audible(manifest)
    assert "warning" not in capsys.readouterr().err
    manifest["stimuli"][2]["audio_checks"]["loudness"]["fallback"] = "rms: ..."
    report_audible(manifest)
    err = capsys.readouterr().err
    assert "1 pair(s) matched on RMS" in err and manifest["stimuli"][2]["id"] in err
