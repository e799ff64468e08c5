"""Visual heatmaps: the waveform or spectrogram with relevance as colour, sized for a web page.

Every image has the same layout (:data:`LAYOUT`): a plot area whose pixel columns
``x0 .. x1`` span the audio file from its first to its last sample (0 to 1 s), so a web
page can draw a playhead over it (:func:`timeline`). Axes, labels and the colour bar are
drawn once per style with matplotlib (Agg) and kept; each stimulus only fills the plot
area with NumPy and composites the kept frame over it, which keeps rendering a small
share of bundle time.

Colour scale: relevance is divided by its largest absolute value in the image, so the
colour bar runs from -1 (most negative) through 0 (centre colour) to +1 (most
positive). Two diverging maps are offered: ``red-blue`` (the LRP convention, red =
evidence for the explained class) and ``purple-orange`` (colour-blind safe: it stays
distinguishable for protan-, deutan- and tritanopia and in greyscale).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np

SAMPLE_RATE = 8000  # Hz, the model's rate
WINDOW_S = 1.0  # seconds shown: the whole model input window

COLORMAPS: dict[str, tuple[str, ...]] = {
    # ColorBrewer RdBu (reversed) and PuOr end points, with a light grey centre so a
    # waveform with zero relevance stays visible on white.
    "red-blue": ("#2166ac", "#67a9cf", "#c4c4c4", "#ef8a62", "#b2182b"),
    "purple-orange": ("#542788", "#998ec3", "#c4c4c4", "#f1a340", "#b35806"),
}
COLOR_BLIND_SAFE = "purple-orange"
PLAIN_WAVE_RGB = (80, 80, 80)
PNG_COMPRESS_LEVEL = 1  # zlib level: with the "up" filter, files about as small as Pillow's
SPECTROGRAM_FLOOR_DB = -80.0


@dataclass(frozen=True)
class Layout:
    """Pixel geometry shared by every image of a bundle (origin top left, y down).

    The plot area covers columns ``x0 <= x < x1`` and rows ``y0 <= y < y1``; column
    ``x0`` starts at ``t0_s`` and column ``x1 - 1`` ends at ``t1_s``.
    """

    width_px: int = 900
    height_px: int = 300
    x0: int = 80
    x1: int = 800
    y0: int = 16
    y1: int = 250
    bar_x0: int = 818
    bar_x1: int = 832
    t0_s: float = 0.0
    t1_s: float = WINDOW_S

    @property
    def plot_width(self) -> int:
        return self.x1 - self.x0

    @property
    def plot_height(self) -> int:
        return self.y1 - self.y0


LAYOUT = Layout()


def timeline(layout: Layout = LAYOUT) -> dict[str, Any]:
    """Where time runs in the image, for a synchronised playhead (the manifest's ``timeline``).

    Returns
    -------
    dict
        ``x0_px`` / ``x1_px``: pixel columns (left edges, from the image's left) at
        ``t0_s`` / ``t1_s`` seconds of the audio; ``width_px`` / ``height_px``: image size;
        the plot area covers rows ``y0_px`` up to (not including) ``y1_px``.
    """
    return {
        "x0_px": layout.x0,
        "x1_px": layout.x1,
        "y0_px": layout.y0,
        "y1_px": layout.y1,
        "width_px": layout.width_px,
        "height_px": layout.height_px,
        "t0_s": layout.t0_s,
        "t1_s": layout.t1_s,
    }


def colormap_lut(name: str) -> np.ndarray:
    """256 x 3 uint8 lookup table of a diverging map; index 128 is zero relevance."""
    return _lut(_check_colormap(name))


def _check_colormap(name: str) -> str:
    if name not in COLORMAPS:
        raise ValueError(f"unknown colour map {name!r}; choose one of {', '.join(COLORMAPS)}")
    return name


@cache
def _lut(name: str) -> np.ndarray:
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list(name, COLORMAPS[name], N=256)
    return np.round(cmap(np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def _to_index(values: np.ndarray) -> np.ndarray:
    """Map [-1, 1] to lookup-table indices 0..255 (0 -> 128 exactly)."""
    return np.clip(np.round(values * 127.5 + 127.5), 0, 255).astype(np.intp)


def scale_relevance(relevance: np.ndarray) -> tuple[np.ndarray, float]:
    """Relevance divided by its largest absolute value (all zeros stay zeros)."""
    relevance = np.asarray(relevance, dtype=np.float64)
    peak = float(np.max(np.abs(relevance))) if relevance.size else 0.0
    return (relevance / peak if peak > 0 else np.zeros_like(relevance)), peak


# --- the waveform model -----------------------------------------------------------------


def column_bounds(n_samples: int, layout: Layout = LAYOUT) -> np.ndarray:
    """Sample index where each plot column starts, plus the end: shape ``(plot_width + 1,)``."""
    return np.round(np.linspace(0, n_samples, layout.plot_width + 1)).astype(np.intp)


def waveform_columns(
    window: np.ndarray, relevance: np.ndarray | None, layout: Layout = LAYOUT
) -> dict[str, np.ndarray]:
    """Per plot column: lowest and highest sample (normalised to a peak of 1) and summed relevance.

    Neighbouring columns overlap by one sample, so the drawn wave has no gaps.
    """
    window = np.asarray(window, dtype=np.float64)
    peak = float(np.max(np.abs(window))) or 1.0
    wave = window / peak
    bounds = column_bounds(wave.shape[0], layout)
    starts = np.minimum(bounds[:-1], wave.shape[0] - 1)
    low, high = np.minimum.reduceat(wave, starts), np.maximum.reduceat(wave, starts)
    before = wave[np.maximum(starts - 1, 0)]
    low, high = np.minimum(low, before), np.maximum(high, before)
    out = {"low": low, "high": high}
    if relevance is not None:
        out["relevance"] = np.add.reduceat(np.asarray(relevance, dtype=np.float64), starts)
    return out


def render_waveform(
    window: np.ndarray,
    relevance: np.ndarray | None,
    *,
    colormap: str = "red-blue",
    layout: Layout = LAYOUT,
) -> bytes:
    """PNG of the waveform, coloured by relevance (or plain grey when ``relevance`` is None).

    Parameters
    ----------
    window : numpy.ndarray
        ``(8000,)`` samples at 8 kHz: the model's input window (clip inside silence).
    relevance : numpy.ndarray or None
        ``(8000,)`` relevance per sample; each pixel column shows the sum over its samples.
    colormap : str
        A key of :data:`COLORMAPS`.

    Returns
    -------
    bytes
        PNG, ``layout.width_px`` x ``layout.height_px`` RGB.
    """
    cols = waveform_columns(window, relevance, layout)
    h = layout.plot_height
    row_of = lambda v: np.clip(np.round((1 - v) / 2 * (h - 1)), 0, h - 1).astype(np.intp)  # noqa: E731
    tops, bottoms = row_of(cols["high"]), row_of(cols["low"]) + 1
    if relevance is None:
        colours = np.broadcast_to(np.array(PLAIN_WAVE_RGB, np.uint8), (layout.plot_width, 3))
    else:
        colours = colormap_lut(colormap)[_to_index(scale_relevance(cols["relevance"])[0])]
    area = _waveform_background(layout).copy()
    # One slice per column: several times faster than a masked select over the area.
    for column, (top, bottom) in enumerate(zip(tops.tolist(), bottoms.tolist(), strict=True)):
        area[top:bottom, column] = colours[column]
    style = ("waveform", None if relevance is None else colormap)
    return _compose(area, style, layout)


@lru_cache(maxsize=4)
def _waveform_background(layout: Layout) -> np.ndarray:
    """White plot area with a faint line at zero amplitude."""
    area = np.full((layout.plot_height, layout.plot_width, 3), 255, np.uint8)
    area[layout.plot_height // 2] = 200
    return area


# --- the spectrogram model -----------------------------------------------------------------


@lru_cache(maxsize=8)
def _spectrogram_index(
    layout: Layout, n_freq: int, n_frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each plot row and column: the frequency bin and kept STFT frame it shows.

    Columns are placed by the frame's centre time (frame f of the zero-padded STFT
    centres on sample ``f * hop``), so the image lines up with the audio; columns with
    no kept frame (the first few ms) are marked invalid.
    """
    from explainer import preprocessing as pp

    t = layout.t0_s + (np.arange(layout.plot_width) + 0.5) / layout.plot_width * (
        layout.t1_s - layout.t0_s
    )
    frame = np.round(t * pp.SAMPLE_RATE / pp.HOP).astype(np.intp) - pp.FRAME_SLICE.start
    valid = (frame >= 0) & (frame < n_frames)
    freq = (
        (layout.plot_height - 0.5 - np.arange(layout.plot_height))
        / layout.plot_height
        * (pp.SAMPLE_RATE / 2)
    )
    bins = np.clip(np.round(freq / (pp.SAMPLE_RATE / pp.NPERSEG)).astype(np.intp), 0, n_freq - 1)
    return bins, np.clip(frame, 0, n_frames - 1), valid


def spectrogram_pixels(image: np.ndarray, layout: Layout = LAYOUT) -> tuple[np.ndarray, np.ndarray]:
    """Resample a ``(freq, frames)`` array onto the plot area (nearest bin and frame)."""
    bins, frames, valid = _spectrogram_index(layout, image.shape[0], image.shape[1])
    return np.asarray(image)[bins[:, None], frames[None, :]], valid


def render_spectrogram(
    spectrogram_db: np.ndarray,
    relevance: np.ndarray | None,
    *,
    colormap: str = "red-blue",
    layout: Layout = LAYOUT,
) -> bytes:
    """PNG of the spectrogram in grey, with relevance laid over it in colour.

    Parameters
    ----------
    spectrogram_db : numpy.ndarray
        ``(227, 227)`` AlexNet input: dB re maximum (0 to -80), rows frequency bins 0..226
        (17.6 Hz apart), columns STFT frames 2..228 (4.375 ms apart).
    relevance : numpy.ndarray or None
        ``(227, 227)`` relevance per bin; None renders the plain spectrogram (the "none"
        condition), with a dB colour bar.
    colormap : str
        A key of :data:`COLORMAPS`.

    Returns
    -------
    bytes
        PNG. Colour opacity grows with |relevance| (the square root of its scaled value),
        so the spectrogram shows through where relevance is small.
    """
    spec, valid = spectrogram_pixels(np.asarray(spectrogram_db, dtype=np.float32), layout)
    grey = np.clip(255 * spec / SPECTROGRAM_FLOOR_DB, 0, 255)[..., None]  # 0 dB black, floor white
    if relevance is None:
        area = np.broadcast_to(grey, (*grey.shape[:2], 3))
    else:
        scaled, _ = scale_relevance(relevance)
        rel, _ = spectrogram_pixels(scaled.astype(np.float32), layout)
        alpha = np.sqrt(np.abs(rel))[..., None]
        area = grey + alpha * (colormap_lut(colormap)[_to_index(rel)] - grey)
    area = np.where(valid[None, :, None], area, np.float32(255))
    area = (area + 0.5).astype(np.uint8)
    style = ("spectrogram", None if relevance is None else colormap)
    return _compose(area, style, layout)


# --- the frame drawn once per style, and PNG output ------------------------------------------


def _compose(area: np.ndarray, style: tuple[str, str | None], layout: Layout) -> bytes:
    canvas = _frame(style, layout).copy()
    canvas[layout.y0 : layout.y1, layout.x0 : layout.x1] = area
    return png_bytes(canvas)


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 RGB array as PNG: deterministic bytes, no metadata.

    Written directly (every row with the PNG "up" filter, zlib level 1) because that
    is several times faster than Pillow's adaptive filtering for these images and the
    files are about as small; any PNG decoder reads them.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width, channels = pixels.shape
    if channels != 3:
        raise ValueError(f"expected RGB pixels (H, W, 3), got shape {pixels.shape}")
    rows = pixels.reshape(height, width * 3)
    filtered = np.empty((height, width * 3 + 1), np.uint8)
    filtered[:, 0] = 2  # filter type "up": each byte minus the byte above it
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # uint8 arithmetic wraps, as PNG wants
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), PNG_COMPRESS_LEVEL)),
            _png_chunk(b"IEND", b""),
        ]
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def warm_frames(kind: str, colormap: str, layout: Layout = LAYOUT) -> None:
    """Draw and cache the frames of one kind of image, with and without a colour bar.

    The frame (axes, ticks, labels, colour bar) is drawn with matplotlib once per
    style and process; a worker calls this before its first stimulus so that the
    first render does not pay for importing and drawing with matplotlib.

    Parameters
    ----------
    kind : "waveform" or "spectrogram".
    colormap : name of the colour map of the relevance images (see ``colormap_lut``).
    layout : image geometry (pixels, seconds shown).
    """
    for style in ((kind, colormap), (kind, None)):
        _frame(style, layout)


@lru_cache(maxsize=16)
def _frame(style: tuple[str, str | None], layout: Layout) -> np.ndarray:
    """Axes, ticks, labels and colour bar on white, drawn with matplotlib: ``(H, W, 3)`` uint8.

    The axes box is one pixel larger than the plot area on every side, so its frame
    lines sit outside the area each stimulus fills in; the limits are widened by the
    same pixel so tick marks stay where the area's time and value scales put them.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kind, colormap = style
    dpi = 100
    fig = Figure(figsize=(layout.width_px / dpi, layout.height_px / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes(_axes_box(layout, layout.x0 - 1, layout.x1 + 1, pad_rows=1))
    px_t = (layout.t1_s - layout.t0_s) / layout.plot_width
    ax.set_xlim(layout.t0_s - px_t, layout.t1_s + px_t)
    ax.set_xlabel("time (s)", fontsize=9)
    ax.tick_params(labelsize=8)
    if kind == "waveform":
        px_v = 2 / (layout.plot_height - 1)  # rows are centred on values from 1 to -1
        ax.set_ylim(-1 - 1.5 * px_v, 1 + 1.5 * px_v)
        ax.set_ylabel("amplitude\n(peak = 1)", fontsize=9)
    else:
        px_f = SAMPLE_RATE / 2 / layout.plot_height
        ax.set_ylim(-px_f, SAMPLE_RATE / 2 + px_f)
        ax.set_ylabel("frequency (Hz)", fontsize=9)
    if colormap is not None or kind == "spectrogram":
        _colour_bar(fig, layout, kind, colormap)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _axes_box(layout: Layout, x_start: int, x_end: int, pad_rows: int = 0) -> list[float]:
    w, h = layout.width_px, layout.height_px
    bottom = layout.y1 + pad_rows
    return [
        x_start / w,
        1 - bottom / h,
        (x_end - x_start) / w,
        (layout.plot_height + 2 * pad_rows) / h,
    ]


def _colour_bar(fig: Any, layout: Layout, kind: str, colormap: str | None) -> None:
    from matplotlib.colors import LinearSegmentedColormap

    bar = fig.add_axes(_axes_box(layout, layout.bar_x0, layout.bar_x1))
    gradient = np.linspace(1, 0, 256)[:, None]
    bar.tick_params(labelsize=8, left=False, labelleft=False, right=True, labelright=True)
    bar.set_xticks([])
    if colormap is None:  # plain spectrogram: the grey dB scale
        bar.imshow(gradient, aspect="auto", cmap="gray_r", extent=(0, 1, SPECTROGRAM_FLOOR_DB, 0))
        bar.set_ylabel("level (dB re max)", fontsize=8)
        bar.yaxis.set_label_position("right")
        return
    cmap = LinearSegmentedColormap.from_list(colormap, COLORMAPS[colormap], N=256)
    bar.imshow(gradient, aspect="auto", cmap=cmap, extent=(0, 1, -1, 1))
    bar.set_yticks([-1, 0, 1], ["−max", "0", "+max"])
    bar.set_ylabel("relevance", fontsize=8)
    bar.yaxis.set_label_position("right")
