"""A trial's picture as the page draws it: the image's plot area, with axes in the page's own type.

The bundle's images carry axes drawn into their pixels (``explainer.heatmaps``): 8-9 pt
text on a 900 px image, which a 390 px phone shows about 4 CSS px high. Scaling the
image cannot fix that for every screen, so the page shows only the image's plot area
(the rectangle the manifest's ``timeline`` names: columns ``x0_px .. x1_px``, rows
``y0_px .. y1_px``) and draws the axes, ticks and colour bar itself in SVG whose text
has the page's CSS size (``.picture`` in style.css). Everything drawn comes from what
the manifest records: the time span (``timeline``), what the picture shows
(``model.input``, ``audio.sample_rate``) and the colour map's colours
(``rendering.visual.colormap_colours``). A bundle that does not record them keeps its
whole image, axes in the pixels, as before.

Tick positions follow the image's own scales: columns ``x0 .. x1`` span ``t0_s .. t1_s``;
waveform rows are centred on amplitudes from +1 (top) to -1 (bottom); spectrogram rows
on frequencies from the Nyquist frequency (top) down to 0 Hz.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.template.loader import render_to_string

from studyapp.models import MediaFile, Stimulus, Study
from studyapp.selectors.pictures import BundlePictures, bundle_pictures
from studyapp.views.common import heatmap_colours

TIME_STEP_S = 0.2
SPECTROGRAM_FLOOR_DB = -80  # the plain spectrogram's grey scale: 0 dB black, -80 dB white
PLOT_KEYS = ("x0_px", "x1_px", "y0_px", "y1_px", "width_px", "height_px", "t0_s", "t1_s")


def trial_picture(
    study: Study, stimulus: Stimulus, *, relevance: bool, name: str = ""
) -> dict[str, Any]:
    """What ``_picture.html`` draws: the stimulus's explanation (``relevance``) or its plain
    picture, its text alternative, and the axes the page draws (None: the whole image).

    ``name`` tells two explanations of one trial apart ("first", "second").
    """
    image: MediaFile = stimulus.visual_heatmap if relevance else stimulus.plain_image
    if relevance:
        colours = heatmap_colours(study)
        alt = (
            f"{name.capitalize() + ' explanation' if name else 'Explanation'}: the recording's"
            " sound wave, coloured by how much each moment counted for the model's decision"
            f" ({colours['for']}: for it, {colours['against']}: against it)."
        )
    else:
        alt = "The recording's sound wave."
    plot = _plot_key(stimulus.timeline)
    pictures = bundle_pictures(study.bundle)
    axes = _axes(plot, pictures, relevance) if plot else None
    html = _axes_html(plot, pictures, relevance, name or "main") if axes else ""
    return {"image": image, "alt": alt, "axes": axes, "axes_html": html}


def _plot_key(timeline: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """The timeline's plot numbers as a hashable key (empty where it lacks one of them)."""
    if not timeline or any(not isinstance(timeline.get(k), int | float) for k in PLOT_KEYS):
        return ()
    return tuple((k, timeline[k]) for k in PLOT_KEYS)


@lru_cache(maxsize=64)
def _axes(plot: tuple[tuple[str, Any], ...], pictures: BundlePictures, relevance: bool) -> Any:
    return picture_axes(dict(plot), pictures, relevance=relevance)


@lru_cache(maxsize=64)
def _axes_html(
    plot: tuple[tuple[str, Any], ...], pictures: BundlePictures, relevance: bool, bar_id: str
) -> str:
    # Every picture of a bundle has the same axes: rendered once, they cost a trial page
    # nothing (rendering them each time took about 1.2 ms of the page's CPU, measured).
    context = {"axes": _axes(plot, pictures, relevance), "bar_id": bar_id}
    return render_to_string("studyapp/_picture_axes.html", context)


def picture_axes(
    timeline: dict[str, Any] | None, pictures: BundlePictures, *, relevance: bool
) -> dict[str, Any] | None:
    """The plot area and the axes the page draws around it; None keeps the whole image.

    Returns
    -------
    dict or None
        ``view``: the SVG viewBox (the plot area in image pixels); ``x_ticks`` /
        ``y_ticks``: ``(percent, label)`` from the plot's left / top edge; ``x_title``,
        ``y_title``; ``bar``: the colour bar (``stops``: ``(percent, colour)`` from the
        bottom, ``ticks``, ``title``) or None.
    """
    if not timeline or not _plot_key(timeline):
        return None
    height = int(timeline["y1_px"]) - int(timeline["y0_px"])
    if height <= 0 or pictures.input not in {"waveform", "spectrogram"}:
        return None
    if relevance and len(pictures.colours) < 2:  # the colour bar's colours are not recorded
        return None
    x0, y0, x1 = int(timeline["x0_px"]), int(timeline["y0_px"]), int(timeline["x1_px"])
    return {
        "view": f"{x0} {y0} {x1 - x0} {height}",
        "width": int(timeline["width_px"]),
        "height": int(timeline["height_px"]),
        "x_ticks": _time_ticks(float(timeline["t0_s"]), float(timeline["t1_s"])),
        "x_title": "time (s)",
        **_value_axis(pictures, height),
        "bar": _bar(pictures, relevance=relevance),
    }


def _time_ticks(t0: float, t1: float) -> list[tuple[float, str]]:
    first = int(-(-t0 // TIME_STEP_S))
    times = [k * TIME_STEP_S for k in range(first, int(t1 / TIME_STEP_S + 1e-9) + 1)]
    return [(_pct((t - t0) / (t1 - t0)), f"{round(t, 3):g}") for t in times]


def _value_axis(pictures: BundlePictures, rows: int) -> dict[str, Any]:
    if pictures.input == "waveform":
        # Row r is centred on amplitude 1 - 2r / (rows - 1).
        at = {1: 0, 0: (rows - 1) / 2, -1: rows - 1}
        ticks = [(_pct((row + 0.5) / rows), _signed(v)) for v, row in at.items()]
        return {"y_ticks": ticks, "y_title": "amplitude (peak = 1)"}
    nyquist = pictures.sample_rate / 2 or 4000
    ticks = [(_pct(1 - hz / nyquist), f"{hz / 1000:g}") for hz in (nyquist, nyquist / 2, 0)]
    return {"y_ticks": ticks, "y_title": "frequency (kHz)"}


def _bar(pictures: BundlePictures, *, relevance: bool) -> dict[str, Any] | None:
    """The colour bar: relevance in the map's colours, dB in grey, none (plain waveform)."""
    if relevance:
        colours = pictures.colours
        stops = [(_pct(i / (len(colours) - 1)), c) for i, c in enumerate(colours)]
        ticks = [(0.0, "+max"), (50.0, "0"), (100.0, "\u2212max")]
        return {"stops": stops, "ticks": ticks, "title": "relevance"}
    if pictures.input == "waveform":
        return None
    ticks = [(_pct(db / SPECTROGRAM_FLOOR_DB), _signed(db)) for db in (0, -40, -80)]
    return {
        "stops": [(0.0, "#ffffff"), (100.0, "#000000")],
        "ticks": ticks,
        "title": "level (dB re max)",
    }


def _pct(fraction: float) -> float:
    return round(100 * fraction, 3)


def _signed(value: float) -> str:
    return f"{value:g}".replace("-", "\u2212")  # a real minus sign, as the image's axes have
