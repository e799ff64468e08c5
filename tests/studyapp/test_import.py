"""Bundle import: validate everything before writing, write atomically, store media once by content hash."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from django.core.management import call_command
from django.core.management.base import CommandError

from contracts.bundle_format import BundleError, content_file_name, sha256_bytes, write_manifest
from contracts.bundle_media import LOUDNESS_TOLERANCE_DB
from studyapp.models import Bundle, ImportJob, MediaFile, Stimulus, Study
from studyapp.services import bundles as bundles_service
from studyapp.services.bundles import bundle_import, bundle_import_archive
from studyapp.services.jobs import import_job_run
from tests.studyapp.research_helpers import METHODS, bundle_folder, zip_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A private copy of a small synthetic bundle, free to break."""
    return Path(shutil.copytree(bundle_folder(n=12), tmp_path / "bundle"))


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def _replace(folder: Path, stimulus: int, role: str, data: bytes, suffix: str) -> None:
    """Put new content in for one file of one stimulus, with a manifest that matches it."""
    manifest = _manifest(folder)
    sha = sha256_bytes(data)
    rel = content_file_name(sha, suffix)
    (folder / rel).write_bytes(data)
    manifest["stimuli"][stimulus]["files"][role].update(path=rel, sha256=sha)
    write_manifest(folder, manifest)


def _wav(signal: np.ndarray, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _tone(seconds: float = 1.0, rate: int = 8000, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * 300 * t) * np.hanning(len(t))


def _nothing_written(media_root: Path) -> None:
    assert (
        not Bundle.objects.exists()
        and not Stimulus.objects.exists()
        and not MediaFile.objects.exists()
    )
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


def test_media_are_stored_once_by_content_hash(
    media_root: Path, folder: Path, tmp_path: Path
) -> None:
    first = bundle_import(bundle_dir=folder)
    n_files = MediaFile.objects.count()
    assert n_files == 4 * 12
    for media in MediaFile.objects.all():
        stored = media_root / media.path
        assert stored.is_file() and media.path.startswith(f"{media.sha256[:2]}/{media.sha256}")
        assert sha256_bytes(stored.read_bytes()) == media.sha256
    other = Path(shutil.copytree(folder, tmp_path / "other"))
    manifest = _manifest(other)
    manifest["generator"]["version"] = "1"  # a second bundle sharing every file with the first
    write_manifest(other, manifest)
    second = bundle_import(bundle_dir=other)
    assert second.pk != first.pk and MediaFile.objects.count() == n_files
    assert sum(1 for p in media_root.rglob("*") if p.is_file()) == n_files
    assert bundle_import(bundle_dir=folder).pk == first.pk, (
        "re-importing the same manifest changes nothing"
    )


def test_a_broken_bundle_is_refused_with_every_problem_and_nothing_written(
    media_root: Path, folder: Path
) -> None:
    _replace(folder, 0, "original_audio", _wav(_tone(rate=16000), rate=16000), ".wav")
    _replace(folder, 1, "original_audio", _wav(_tone(seconds=12.0)), ".wav")
    _replace(folder, 2, "audible_heatmap", _wav(np.zeros(8000)), ".wav")
    _replace(folder, 3, "visual_heatmap", b"\x89PNG\r\n\x1a\nbroken", ".png")
    _replace(folder, 4, "audible_heatmap", _wav(_tone(amplitude=0.03)), ".wav")
    manifest = _manifest(folder)
    (folder / manifest["stimuli"][5]["files"]["plain_image"]["path"]).write_bytes(b"tampered")
    (folder / manifest["stimuli"][6]["files"]["original_audio"]["path"]).unlink()
    with pytest.raises(BundleError) as info:
        bundle_import(bundle_dir=folder)
    text = "\n".join(info.value.problems)
    for expected in (
        "sample rate 16000 Hz, the manifest says 8000 Hz",
        "duration 12.000 s outside",
        "silent",
        "image cannot be decoded",
        "louder than the original",
        "checksum mismatch",
        "file is missing",
    ):
        assert expected in text, f"{expected!r} not reported:\n{text}"
    _nothing_written(media_root)


@pytest.mark.parametrize(
    ("gain_db", "accepted"),
    [(0.8 * LOUDNESS_TOLERANCE_DB, True), (1.6 * LOUDNESS_TOLERANCE_DB, False)],
)
def test_loudness_matching_is_checked_within_the_tolerance(
    media_root: Path, folder: Path, gain_db: float, accepted: bool
) -> None:
    manifest = _manifest(folder)
    original, _ = sf.read(folder / manifest["stimuli"][0]["files"]["original_audio"]["path"])
    _replace(folder, 0, "audible_heatmap", _wav(original * 10 ** (gain_db / 20)), ".wav")
    if accepted:
        assert bundle_import(bundle_dir=folder).stimuli.count() == 12
    else:
        with pytest.raises(BundleError, match="louder than the original"):
            bundle_import(bundle_dir=folder)


def test_a_failure_while_writing_rolls_back_rows_and_removes_new_media_files(
    media_root: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_store = bundles_service._store
    calls = {"n": 0}

    def failing_store(*args: Any, **kwargs: Any) -> MediaFile:
        calls["n"] += 1
        if calls["n"] == 20:
            raise OSError("disk full")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(bundles_service, "_store", failing_store)
    with pytest.raises(OSError, match="disk full"):
        bundle_import(bundle_dir=folder)
    _nothing_written(media_root)


def test_a_zipped_bundle_imports_like_its_folder_and_leaves_no_scratch_files(
    media_root: Path, folder: Path, tmp_path: Path, settings: Any
) -> None:
    bundle = bundle_import_archive(archive=zip_folder(folder, tmp_path / "b.zip", top="my-bundle"))
    assert bundle.stimuli.count() == 12
    assert not any(Path(settings.UPLOAD_ROOT).iterdir())


def test_the_import_command_accepts_a_zip_and_creates_a_crossed_study(
    media_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = zip_folder(bundle_folder(n=30, methods=METHODS), tmp_path / "b.zip")
    call_command(
        "import_bundle",
        str(archive),
        study="cmd",
        modalities="visual,audible",
        methods=",".join(METHODS),
        status="draft",
        trials=8,
    )
    study = Study.objects.get(slug="cmd")
    assert study.conditions.count() == 4 and study.status == "draft"
    assert "visual-lrp-epsilon-plus-flat" in capsys.readouterr().out
    assert archive.exists(), "a file the researcher pointed at is never deleted"


def test_the_import_command_names_a_path_that_is_neither_folder_nor_zip(
    db: None, tmp_path: Path
) -> None:
    (tmp_path / "bundle.tar").write_bytes(b"x")
    with pytest.raises(CommandError, match="neither a bundle folder nor a .zip archive"):
        call_command("import_bundle", str(tmp_path / "bundle.tar"))


def test_an_import_job_is_claimed_once_even_if_its_task_runs_twice(
    media_root: Path, folder: Path
) -> None:
    job = ImportJob.objects.create(source=str(folder))
    first = import_job_run(job_id=job.pk)
    assert first is not None and first.status == ImportJob.Status.SUCCEEDED
    assert import_job_run(job_id=job.pk) is None
    assert Bundle.objects.count() == 1


def test_importing_an_identical_bundle_again_says_nothing_new_was_stored(
    media_root: Path, folder: Path
) -> None:
    first = import_job_run(job_id=ImportJob.objects.create(source=str(folder)).pk)
    assert first is not None and first.message.startswith("imported ")
    again = import_job_run(job_id=ImportJob.objects.create(source=str(folder)).pk)
    assert again is not None and again.status == ImportJob.Status.SUCCEEDED
    assert "was already imported on" in again.message
    assert "nothing new was stored" in again.message and "imported " not in again.message[:9]
    assert again.bundle_id == first.bundle_id and Bundle.objects.count() == 1
