"""``python -m explainer bundle`` end to end on a real (small) trained run and the demo corpus."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from contracts import bundle_format as bf
from explainer import audio_checks
from explainer import bundle as eb
from explainer.cli import main
from explainer.errors import UserError
from explainer.selection import Design

METHODS = ("lrp-epsilon-plus-flat", "gradient")


def make_bundle(
    run: Path,
    data: Path,
    out: Path,
    *,
    workers: int = 1,
    n: int = 6,
    practice: int = 1,
    methods: tuple[str, ...] = METHODS,
    seed: int = 7,
) -> dict:
    design = Design(n_decisions=n, practice=practice, methods=methods)
    spec = eb.plan_bundle(run, data, design, seed=seed)
    return eb.write_bundle(spec, out, workers=workers)


@pytest.fixture(scope="module")
def bundle_dir(
    trained_run: Path, demo_corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "b"
    make_bundle(trained_run, demo_corpus, out)
    return out


@pytest.fixture(scope="module")
def manifest(bundle_dir: Path) -> dict:
    return bf.read_manifest(bundle_dir)


def test_the_bundle_passes_its_own_and_the_contracts_checks(bundle_dir, manifest):
    assert bf.validate_manifest(manifest) == []
    assert bf.check_bundle_files(bundle_dir, manifest) == []
    assert eb.validate_bundle(bundle_dir) == []
    assert not list(bundle_dir.parent.glob(".b.tmp-*"))


def test_every_decision_is_explained_with_every_method_and_practice_is_flagged(manifest):
    main_ids = [s for s in manifest["stimuli"] if not s["practice"]]
    practice = [s for s in manifest["stimuli"] if s["practice"]]
    assert len(main_ids) == 6 * len(METHODS) and len(practice) == 1 * len(METHODS)
    by_recording: dict[str, set[str]] = {}
    for stim in manifest["stimuli"]:
        by_recording.setdefault(stim["source"]["recording"], set()).add(stim["method"])
    assert all(methods == set(METHODS) for methods in by_recording.values())
    assert set(manifest["methods"]) == set(METHODS)
    assert manifest["methods"]["lrp-epsilon-plus-flat"]["params"]["implementation"] == "fast"


def test_stimuli_are_real_decisions_of_the_model_on_held_out_speakers(
    trained_run, demo_corpus, manifest
):
    import torch

    from explainer.training import load_run

    run = load_run(trained_run)
    assert manifest["model"]["weights_sha256"] == run.weights_sha256
    for stim in manifest["stimuli"]:
        assert stim["source"]["speaker"] in run.test_speakers
        _, model_input, offset = run.prepare(
            demo_corpus / stim["source"]["recording"], stim["source"]["recording"]
        )
        assert offset == stim["source"]["offset_samples"]
        with torch.no_grad():
            logits = run.model(torch.from_numpy(model_input)[None, None])
        assert run.classes[int(logits.argmax())] == stim["predicted_label"]
        assert stim["scores"] == pytest.approx(
            torch.softmax(logits.double(), 1)[0].tolist(), abs=1e-5
        )
        assert stim["correct"] == (stim["true_label"] == stim["predicted_label"])


def test_the_selection_is_recorded_with_its_design_and_cells(manifest):
    selection = manifest["selection"]
    assert selection["seed"] == 7
    assert selection["design"]["n_decisions"] == 6 and selection["design"]["methods"] == list(
        METHODS
    )
    assert sum(cell["requested"] for cell in selection["cells"]) == 6
    assert sum(cell["selected"] for cell in selection["cells"]) + len(selection["shortfall"]) >= 6
    assert selection["n_decisions"] == 6


def test_files_are_named_by_their_content_hash(bundle_dir, manifest):
    for stim in manifest["stimuli"]:
        for entry in stim["files"].values():
            assert (
                entry["path"]
                == f"files/{bf.sha256_file(bundle_dir / entry['path'])}{Path(entry['path']).suffix}"
            )


def test_original_and_audible_heatmap_are_equally_loud_and_within_limits(bundle_dir, manifest):
    for stim in manifest["stimuli"]:
        levels = []
        for role in ("original_audio", "audible_heatmap"):
            samples, rate = sf.read(bundle_dir / stim["files"][role]["path"])
            assert rate == manifest["audio"]["sample_rate"] and samples.shape == (8000,)
            assert np.abs(samples).max() < 1.0
            levels.append(audio_checks.dbfs(audio_checks.rms(samples)))
        assert abs(levels[0] - levels[1]) < 0.1
        assert stim["audio_checks"]["loudness"]["method"] == "rms"


def test_images_have_the_size_and_playhead_span_the_manifest_states(bundle_dir, manifest):
    from PIL import Image

    for stim in manifest["stimuli"]:
        timeline = stim["timeline"]
        assert (timeline["t0_s"], timeline["t1_s"]) == (0.0, 1.0)
        for role in ("visual_heatmap", "plain_image"):
            with Image.open(bundle_dir / stim["files"][role]["path"]) as image:
                assert image.size == (timeline["width_px"], timeline["height_px"])
    plain = {
        s["source"]["recording"]: s["files"]["plain_image"]["sha256"] for s in manifest["stimuli"]
    }
    assert all(
        s["files"]["plain_image"]["sha256"] == plain[s["source"]["recording"]]
        for s in manifest["stimuli"]
    )


def test_a_rerun_gives_a_byte_identical_manifest_with_one_or_two_workers(
    trained_run, demo_corpus, bundle_dir, tmp_path
):
    make_bundle(trained_run, demo_corpus, tmp_path / "again", workers=2)
    assert (tmp_path / "again" / "manifest.json").read_bytes() == (
        bundle_dir / "manifest.json"
    ).read_bytes()
    assert not re.search(
        r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}", (bundle_dir / "manifest.json").read_text()
    )  # no time stamps


def test_chunks_rendered_separately_assemble_into_the_same_manifest(
    trained_run, demo_corpus, manifest, tmp_path
):
    from explainer.rendering import render_chunk

    spec = eb.plan_bundle(
        trained_run, demo_corpus, Design(n_decisions=6, practice=1, methods=METHODS), seed=7
    )
    spec = json.loads(json.dumps(spec))  # what a job queue would carry
    work = tmp_path / "work"
    (work / "files").mkdir(parents=True)
    records = [
        r for chunk in reversed(spec["chunks"]) for r in render_chunk(spec, chunk, work)["records"]
    ]
    with pytest.raises(UserError, match="not rendered"):
        eb.assemble_manifest(spec, records[1:])
    assert eb.finalize_bundle(spec, records, work, tmp_path / "done") == manifest
    assert not work.exists() and eb.validate_bundle(tmp_path / "done") == []


def test_a_failed_run_leaves_nothing_half_written(trained_run, demo_corpus, tmp_path, monkeypatch):
    from explainer import rendering

    calls = {"n": 0}
    real = rendering.render_stimulus

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise rendering.StimulusError("stimulus x: audible heatmap: silent")
        return real(*args, **kwargs)

    monkeypatch.setattr(rendering, "render_stimulus", failing)
    with pytest.raises(rendering.StimulusError):
        make_bundle(trained_run, demo_corpus, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_bundle_is_replaced_only_when_asked(
    trained_run, demo_corpus, bundle_dir, tmp_path
):
    target = tmp_path / "copy"
    shutil.copytree(bundle_dir, target)
    with pytest.raises(UserError, match="already exists"):
        make_bundle(trained_run, demo_corpus, target, n=2, practice=0)
    design = Design(n_decisions=2, methods=("gradient",))
    eb.write_bundle(
        eb.plan_bundle(trained_run, demo_corpus, design, seed=1), target, overwrite=True
    )
    assert len(bf.read_manifest(target)["stimuli"]) == 2
    assert eb.validate_bundle(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]


def _rewrite(bundle: Path, edit) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    edit(manifest)
    (bundle / "manifest.json").write_text(bf.dumps_manifest(manifest))


def test_validate_lists_every_problem_it_finds(bundle_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(bundle_dir, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    first, second = manifest["stimuli"][0], manifest["stimuli"][1]
    (broken / first["files"]["visual_heatmap"]["path"]).unlink()  # missing image
    wav = broken / second["files"]["original_audio"]["path"]
    data = bytearray(wav.read_bytes())
    data[8000] ^= 0xFF  # one sample changed: checksum mismatch
    wav.write_bytes(bytes(data))
    (broken / "files" / "stray.png").write_bytes(b"x")  # unreferenced file
    silent = audio_checks.wav_bytes(np.zeros(8000), 8000)
    quieter_samples, _ = sf.read(
        broken / manifest["stimuli"][4]["files"]["audible_heatmap"]["path"]
    )
    quieter = audio_checks.wav_bytes(quieter_samples * 0.5, 8000)  # 6 dB below its original

    def replace_audible(m: dict, index: int, data: bytes) -> None:
        rel = f"files/{bf.sha256_bytes(data)}.wav"
        (broken / rel).write_bytes(data)
        m["stimuli"][index]["files"]["audible_heatmap"] = {
            "path": rel,
            "sha256": bf.sha256_bytes(data),
            "media_type": "audio/wav",
        }

    def edit(m: dict) -> None:
        replace_audible(m, 2, silent)
        replace_audible(m, 4, quieter)
        m["stimuli"][3]["timeline"]["x1_px"] = 5000

    _rewrite(broken, edit)
    problems = eb.validate_bundle(broken)
    text = "\n".join(problems)
    assert "file is missing" in text
    assert "checksum mismatch" in text
    assert "stray.png" in text and "not named by the manifest" in text
    assert "silent" in text
    assert "louder than the original" in text  # loudness no longer matched
    assert "timeline" in text
    assert len(problems) >= 7


def test_validate_reports_a_schema_violation_and_a_missing_manifest(bundle_dir, tmp_path):
    broken = tmp_path / "schema"
    shutil.copytree(bundle_dir, broken)
    _rewrite(
        broken,
        lambda m: m["stimuli"][0].update(correct=not m["stimuli"][0]["correct"], method="nope"),
    )
    problems = eb.validate_bundle(broken)
    assert any("'correct' disagrees" in p for p in problems) and any(
        "not declared" in p for p in problems
    )
    assert "no manifest.json" in eb.validate_bundle(tmp_path / "nothing")[0]


def test_the_command_line_writes_validates_and_fails_clearly(
    trained_run, demo_corpus, bundle_dir, tmp_path, capsys
):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "bundle",
                "--run",
                str(trained_run),
                "--data",
                str(demo_corpus),
                "--out",
                str(out),
                "--n",
                "2",
                "--seed",
                "3",
                "--methods",
                "gradient-x-input",
                "--playback-rate",
                "16000",
                "--colormap",
                "purple-orange",
                "--shortfall",
                "fill",
            ]
        )
        == 0
    )
    assert main(["bundle", "--validate", str(out)]) == 0
    assert "valid bundle" in capsys.readouterr().out
    written = bf.read_manifest(out)
    assert (
        written["audio"]["sample_rate"] == 16000
        and written["rendering"]["visual"]["colour_blind_safe"]
    )
    assert sf.info(out / written["stimuli"][0]["files"]["audible_heatmap"]["path"]).frames == 16000
    assert main(["bundle", "--validate", str(tmp_path / "missing")]) == 1
    assert (
        main(
            [
                "bundle",
                "--run",
                str(trained_run),
                "--data",
                str(demo_corpus),
                "--out",
                str(tmp_path / "x"),
                "--methods",
                "lrp-nonsense",
            ]
        )
        == 2
    )
    assert "unknown explanation method 'lrp-nonsense'" in capsys.readouterr().err
    assert main(["bundle", "--run", str(trained_run), "--out", str(tmp_path / "y")]) == 2
    assert "--data" in capsys.readouterr().err
    assert (
        main(
            [
                "bundle",
                "--run",
                str(trained_run),
                "--data",
                str(demo_corpus),
                "--out",
                str(tmp_path / "z"),
                "--param",
                "gradient.epsilon=1",
            ]
        )
        == 2
    )
    assert not (tmp_path / "x").exists() and not (tmp_path / "z").exists()


def test_an_alexnet_bundle_with_an_lrp_and_a_baseline_method_validates(
    trained_alexnet_run, demo_corpus, tmp_path
):
    out = tmp_path / "alex"
    result = make_bundle(
        trained_alexnet_run,
        demo_corpus,
        out,
        n=2,
        practice=0,
        methods=("lrp-epsilon-gamma-box", "occlusion"),
    )
    manifest = result["manifest"]
    assert manifest["model"]["input"] == "spectrogram"
    assert "STFT" in manifest["rendering"]["audible"]["method"]
    assert eb.validate_bundle(out) == []


def test_validate_accepts_a_bundle_made_elsewhere_without_the_optional_fields(tmp_path):
    from tests.synthetic_bundle import write_synthetic_bundle

    other = write_synthetic_bundle(tmp_path / "other", n=4)
    assert eb.validate_bundle(other) == []
    _rewrite(other, lambda m: [s.pop("timeline", None) for s in m["stimuli"]])
    assert eb.validate_bundle(other) == []
