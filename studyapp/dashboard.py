"""The researcher dashboard's charts (its numbers: ``selectors.dashboard``)."""

from __future__ import annotations

from html import escape

from studyapp.selectors.dashboard import ConditionAccuracy, GroupStatus

STATUS_COLOURS = {  # colour-blind-safe (Okabe-Ito)
    "completed": "#009E73",
    "active": "#0072B2",
    "abandoned": "#E69F00",
    "screened_out": "#CC79A7",
    "declined": "#999999",
}
STATUS_LABELS = {
    "completed": "completed",
    "active": "active",
    "abandoned": "abandoned",
    "screened_out": "screened out",
    "declined": "declined",
}


# --------------------------------------------------------------------------- SVG charts
# Presentation attributes only (no style attributes), so the strict CSP holds.

_ROW, _LABEL_W, _BAR_W, _TOP = 30, 190, 420, 40


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def status_chart_svg(
    groups: list[GroupStatus], *, target: int = 0, title: str = "Sessions per group"
) -> str:
    """Stacked horizontal bars of session outcomes per arm, with the target as a dashed line."""
    scale_max = max([target, *(g.started for g in groups), 1])
    unit = _BAR_W / scale_max
    body = [f'<text x="0" y="18" font-weight="bold">{escape(title)}</text>']
    for i, group in enumerate(groups):
        y = _TOP + i * _ROW
        body.append(
            f'<text x="{_LABEL_W - 8}" y="{y + 17}" text-anchor="end">{escape(group.arm)}</text>'
        )
        x = float(_LABEL_W)
        for key, colour in STATUS_COLOURS.items():
            n = getattr(group, key)
            if n:
                body.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{n * unit:.1f}" height="{_ROW - 8}" fill="{colour}">'
                    f"<title>{escape(group.arm)}: {n} {STATUS_LABELS[key]}</title></rect>"
                )
                x += n * unit
        body.append(f'<text x="{x + 6:.1f}" y="{y + 17}">{group.started}</text>')
    bottom = _TOP + len(groups) * _ROW
    if target:
        tx = _LABEL_W + target * unit
        body.append(
            f'<line x1="{tx:.1f}" y1="{_TOP - 4}" x2="{tx:.1f}" y2="{bottom}" stroke="#000" '
            f'stroke-dasharray="4 3"><title>target {target} per group</title></line>'
        )
        body.append(
            f'<text x="{tx:.1f}" y="{_TOP - 8}" text-anchor="middle">target {target}</text>'
        )
    body += _legend(bottom + 16)
    return _svg(_LABEL_W + _BAR_W + 60, bottom + 40, body, title)


def _legend(y: int) -> list[str]:
    items, x = [], _LABEL_W
    for key, colour in STATUS_COLOURS.items():
        items.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        items.append(f'<text x="{x + 16}" y="{y}">{STATUS_LABELS[key]}</text>')
        x += 24 + 7 * len(STATUS_LABELS[key])
    return items


def accuracy_chart_svg(
    rows: list[ConditionAccuracy], *, title: str = "Accuracy so far (95% CI)"
) -> str:
    """Horizontal bars of accuracy per condition with Wilson intervals; chance is not drawn."""
    body = [f'<text x="0" y="18" font-weight="bold">{escape(title)}</text>']
    bottom = _TOP + len(rows) * _ROW
    for tick in (0, 0.25, 0.5, 0.75, 1.0):  # grid first, so the bars and intervals sit on top
        x = _LABEL_W + tick * _BAR_W
        body.append(f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{bottom}" stroke="#ccc"/>')
        body.append(f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{tick:.0%}</text>')
    for i, row in enumerate(rows):
        y = _TOP + i * _ROW
        body.append(
            f'<text x="{_LABEL_W - 8}" y="{y + 17}" text-anchor="end">{escape(row.condition)}</text>'
        )
        if row.n:
            body.append(
                f'<rect x="{_LABEL_W}" y="{y + 4}" width="{row.accuracy * _BAR_W:.1f}" height="{_ROW - 8}" '
                f'fill="#0072B2" fill-opacity="0.6"/>'
            )
            lo, hi = _LABEL_W + row.low * _BAR_W, _LABEL_W + row.high * _BAR_W
            body.append(
                f'<line x1="{lo:.1f}" y1="{y + 15}" x2="{hi:.1f}" y2="{y + 15}" stroke="#000" stroke-width="2"/>'
            )
        body.append(f'<text x="{_LABEL_W + _BAR_W + 16}" y="{y + 17}">{row.correct}/{row.n}</text>')
    return _svg(_LABEL_W + _BAR_W + 90, bottom + 24, body, title)
