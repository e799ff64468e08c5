"""Visual heatmaps: size, colour scale, and that pixel columns really are time."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from explainer import heatmaps as hm
from explainer import preprocessing as pp

L = hm.LAYOUT


def decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB")).astype(int)


def plot_area(pixels: np.ndarray) -> np.ndarray:
    return pixels[L.y0 : L.y1, L.x0 : L.x1]


def burst(start_s: float, stop_s: float, freq_hz: float = 1000.0) -> np.ndarray:
    t = np.arange(pp.WINDOW) / pp.SAMPLE_RATE
    inside = (t >= start_s) & (t < stop_s)
    return (0.5 * np.sin(2 * np.pi * freq_hz * t) * inside).astype(np.float32)


def column_of(t_s: float) -> int:
    return L.x0 + int(round((t_s - L.t0_s) / (L.t1_s - L.t0_s) * L.plot_width))


@pytest.mark.parametrize("with_relevance", [True, False])
def test_every_image_has_the_web_page_size_of_the_layout(with_relevance):
    window = burst(0.3, 0.6)
    rel = window.astype(float) if with_relevance else None
    for png in (
        hm.render_waveform(window, rel),
        hm.render_spectrogram(
            pp.spectrogram_input(window), None if rel is None else np.ones((227, 227))
        ),
    ):
        pixels = decode(png)
        assert pixels.shape == (L.height_px, L.width_px, 3)
        assert hm.timeline()["width_px"] == L.width_px


def test_waveform_pixels_start_and_stop_at_the_columns_the_timeline_gives_for_those_times():
    pixels = plot_area(decode(hm.render_waveform(burst(0.25, 0.75), None)))
    # Silence is a one-pixel line at zero; the burst spans many rows.
    drawn = np.nonzero((pixels == hm.PLAIN_WAVE_RGB).all(axis=2).sum(axis=0) > 3)[0] + L.x0
    assert abs(drawn.min() - column_of(0.25)) <= 1
    assert abs(drawn.max() + 1 - column_of(0.75)) <= 1


def test_spectrogram_energy_sits_at_its_time_and_frequency():
    pixels = plot_area(
        decode(hm.render_spectrogram(pp.spectrogram_input(burst(0.4, 0.6, 1000.0)), None))
    )
    darkness = 255 - pixels[..., 0]
    row_hz = (L.plot_height - 0.5 - np.arange(L.plot_height)) / L.plot_height * 4000
    assert abs(row_hz[darkness.sum(axis=1).argmax()] - 1000) < 40
    columns = np.nonzero(darkness[darkness.sum(axis=1).argmax()] > 128)[0] + L.x0
    # The STFT smears about half a window (28 ms) either side of the burst.
    assert column_of(0.4 - 0.035) <= columns.min() <= column_of(0.4)
    assert column_of(0.6) <= columns.max() + 1 <= column_of(0.6 + 0.035)


def test_tick_marks_line_up_with_the_timeline_columns():
    pixels = decode(hm.render_waveform(burst(0.2, 0.8), None))
    below = pixels[L.y1 + 2 : L.y1 + 5]  # tick marks hang below the plot area and its frame
    for t in (0.0, 0.4, 1.0):
        x = column_of(t)
        assert below[:, x - 1 : x + 2].min() < 128, t  # a dark tick within a pixel of its column
    assert below[:, column_of(0.5)].min() > 200  # and none where there is no tick


def test_zero_relevance_takes_the_centre_colour_and_extremes_the_end_colours():
    window = burst(0.1, 0.9)
    rel = np.zeros(pp.WINDOW)
    rel[(np.arange(pp.WINDOW) > 2000) & (np.arange(pp.WINDOW) < 2400)] = 1.0
    rel[(np.arange(pp.WINDOW) > 6000) & (np.arange(pp.WINDOW) < 6400)] = -1.0
    lut = hm.colormap_lut("red-blue")
    area = plot_area(decode(hm.render_waveform(window, rel)))
    colours = {tuple(c) for c in area.reshape(-1, 3)}
    assert tuple(lut[255]) in colours and tuple(lut[128]) in colours
    # Columns hold 11 or 12 samples, so a full negative column sits within 1/12 of the end.
    column = {tuple(c) for c in area[:, column_of(0.775) - L.x0]}
    assert column & {tuple(c) for c in lut[:12]}


def test_the_colour_scale_is_symmetric_and_centred_on_zero():
    scaled, peak = hm.scale_relevance(np.array([-2.0, 0.0, 1.0]))
    assert peak == 2.0 and list(scaled) == [-1.0, 0.0, 0.5]
    assert list(hm._to_index(np.array([-1.0, 0.0, 1.0]))) == [0, 128, 255]
    assert hm.scale_relevance(np.zeros(4))[0].tolist() == [0.0] * 4


def test_a_colour_blind_safe_map_is_offered_and_used_when_asked():
    window = burst(0.3, 0.6)
    rel = window.astype(float)
    assert hm.COLOR_BLIND_SAFE in hm.COLORMAPS
    default = decode(hm.render_waveform(window, rel))
    safe = decode(hm.render_waveform(window, rel, colormap=hm.COLOR_BLIND_SAFE))
    assert not np.array_equal(default, safe)
    lut = hm.colormap_lut(hm.COLOR_BLIND_SAFE)
    area_colours = {tuple(c) for c in plot_area(safe).reshape(-1, 3)}
    assert tuple(lut[255]) in area_colours
    with pytest.raises(ValueError, match="purple-orange"):
        hm.render_waveform(window, rel, colormap="jet")


def test_relevance_over_a_spectrogram_is_coloured_where_it_is_and_grey_elsewhere():
    window = burst(0.2, 0.8, 500.0)
    rel = np.zeros((227, 227))
    rel[100:120, 100:120] = 1.0  # about 1.8-2.1 kHz, 0.45-0.53 s
    area = plot_area(decode(hm.render_spectrogram(pp.spectrogram_input(window), rel)))
    red = tuple(hm.colormap_lut("red-blue")[255])
    hot = np.nonzero((area == red).all(axis=2))
    row_hz = (L.plot_height - 0.5 - hot[0]) / L.plot_height * 4000
    t = (hot[1] + 0.5) / L.plot_width
    assert hot[0].size > 0
    assert 100 * 8000 / 455 - 20 <= row_hz.min() and row_hz.max() <= 120 * 8000 / 455 + 20
    assert (102 * 35 / 8000) - 0.01 <= t.min() and t.max() <= (121 * 35 / 8000) + 0.01
    others = np.delete(area.reshape(-1, 3), np.ravel_multi_index(hot, area.shape[:2]), axis=0)
    assert (others.max(axis=1) - others.min(axis=1) <= 1).all()  # grey: r = g = b


def test_rendering_is_deterministic_to_the_byte():
    window = burst(0.3, 0.6)
    rel = np.sin(np.arange(pp.WINDOW) / 300.0)
    assert hm.render_waveform(window, rel) == hm.render_waveform(window, rel)
    spec = pp.spectrogram_input(window)
    assert hm.render_spectrogram(spec, None) == hm.render_spectrogram(spec, None)


def test_a_silent_window_still_renders():
    pixels = decode(hm.render_waveform(np.zeros(pp.WINDOW, np.float32), np.zeros(pp.WINDOW)))
    assert pixels.shape == (L.height_px, L.width_px, 3)


def test_the_png_encoder_round_trips_pixels_exactly():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    assert np.array_equal(decode(hm.png_bytes(pixels)), pixels)
    with pytest.raises(ValueError, match="RGB"):
        hm.png_bytes(np.zeros((4, 4, 4), np.uint8))


def test_warmed_frames_let_a_worker_render_without_drawing_with_matplotlib(monkeypatch):
    import matplotlib.figure

    layout = hm.Layout(t1_s=0.999)  # a layout no other test has drawn, so nothing is cached
    hm.warm_frames("spectrogram", "red-blue", layout)

    def no_drawing(*args, **kwargs):
        raise AssertionError("the frame was drawn again")

    monkeypatch.setattr(matplotlib.figure, "Figure", no_drawing)
    spec = pp.spectrogram_input(burst(0.3, 0.6))
    relevance = np.ones_like(spec)
    for rel in (relevance, None):
        pixels = decode(hm.render_spectrogram(spec, rel, colormap="red-blue", layout=layout))
        assert pixels.shape == (layout.height_px, layout.width_px, 3)
