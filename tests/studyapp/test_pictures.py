"""The axes the page draws around a picture's plot area (studyapp/views/pictures.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explainer import heatmaps
from studyapp.selectors.pictures import BundlePictures
from studyapp.views.pictures import picture_axes

TIMELINE = heatmaps.timeline()
WAVEFORM = BundlePictures("red-blue", heatmaps.COLORMAPS["red-blue"], "waveform", 8000)
SPECTROGRAM = BundlePictures("red-blue", heatmaps.COLORMAPS["red-blue"], "spectrogram", 8000)


def test_the_picture_is_the_timeline_s_plot_area_with_time_ticks_every_fifth_of_a_second() -> None:
    axes = picture_axes(TIMELINE, WAVEFORM, relevance=True)
    assert axes is not None
    assert axes["view"] == "80 16 720 234" and (axes["width"], axes["height"]) == (900, 300)
    assert axes["x_ticks"] == [
        (0.0, "0"),
        (20.0, "0.2"),
        (40.0, "0.4"),
        (60.0, "0.6"),
        (80.0, "0.8"),
        (100.0, "1"),
    ]
    assert [label for _, label in axes["bar"]["ticks"]] == ["+max", "0", "\u2212max"]
    assert [colour for _, colour in axes["bar"]["stops"]] == list(heatmaps.COLORMAPS["red-blue"])


def test_the_amplitude_ticks_sit_on_the_rows_the_explainer_draws_full_scale_on() -> None:
    axes = picture_axes(TIMELINE, WAVEFORM, relevance=False)
    assert axes is not None and axes["bar"] is None  # a plain waveform has no colour bar
    square = np.where(np.arange(8000) % 200 < 100, 1.0, -1.0)
    pixels = np.asarray(Image.open(io.BytesIO(heatmaps.render_waveform(square, None))))
    plot = pixels[TIMELINE["y0_px"] : TIMELINE["y1_px"], TIMELINE["x0_px"] : TIMELINE["x1_px"]]
    # Rows where the grey wave is drawn in some column (not the white ground or zero line).
    drawn = np.flatnonzero((plot.astype(int).sum(axis=2) < 3 * 200).any(axis=1))
    rows = TIMELINE["y1_px"] - TIMELINE["y0_px"]
    top, bottom = ((drawn[0] + 0.5) / rows * 100, (drawn[-1] + 0.5) / rows * 100)
    ticks = dict((label, at) for at, label in axes["y_ticks"])
    assert abs(ticks["1"] - top) < 0.01 and abs(ticks["\u22121"] - bottom) < 0.01


def test_a_spectrogram_has_frequency_ticks_to_the_nyquist_frequency_and_a_grey_db_bar() -> None:
    axes = picture_axes(TIMELINE, SPECTROGRAM, relevance=False)
    assert axes is not None and axes["y_title"] == "frequency (kHz)"
    assert axes["y_ticks"] == [(0.0, "4"), (50.0, "2"), (100.0, "0")]
    assert axes["bar"]["ticks"] == [(0.0, "0"), (50.0, "\u221240"), (100.0, "\u221280")]


def test_a_bundle_that_does_not_record_what_to_draw_keeps_its_whole_image() -> None:
    no_rows = {k: v for k, v in TIMELINE.items() if k not in {"y0_px", "y1_px"}}
    assert picture_axes(no_rows, WAVEFORM, relevance=True) is None
    assert picture_axes(None, WAVEFORM, relevance=True) is None
    no_colours = BundlePictures("", (), "waveform", 8000)
    assert picture_axes(TIMELINE, no_colours, relevance=True) is None
    assert picture_axes(TIMELINE, no_colours, relevance=False) is not None  # no bar needed
    assert picture_axes(TIMELINE, BundlePictures("", (), "", 0), relevance=False) is None


@pytest.mark.django_db
def test_the_picture_facts_are_read_from_the_stored_manifest_without_loading_it(
    tmp_path: Path, media_root: Path
) -> None:
    from studyapp.models import Bundle
    from studyapp.selectors.pictures import bundle_pictures
    from studyapp.services.bundles import bundle_import
    from tests.browser.realistic_bundle import write_realistic_bundle

    imported = bundle_import(bundle_dir=write_realistic_bundle(tmp_path / "b", n=4))
    deferred = Bundle.objects.defer("manifest").get(pk=imported.pk)
    assert bundle_pictures(deferred) == bundle_pictures(imported) == WAVEFORM
