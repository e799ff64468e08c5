"""The researcher dashboard's charts as data the browser draws (its numbers: ``selectors.dashboard``).

The page's script (``static/studyapp/dashboard-charts.js``) fetches one of these as
JSON and draws it as SVG, so the server never writes markup by hand and the chart
needs no inline script or style.
"""

from __future__ import annotations

import math
from typing import Any

from studyapp.selectors.dashboard import ConditionAccuracy, GroupStatus

# Outcomes in the order the bars stack them, with colour-blind-safe colours (Okabe-Ito).
OUTCOMES = (
    ("completed", "completed", "#009E73"),
    ("active", "active", "#0072B2"),
    ("abandoned", "abandoned", "#E69F00"),
    ("screened_out", "screened out", "#CC79A7"),
    ("declined", "declined", "#999999"),
)


def status_chart(
    groups: list[GroupStatus], *, target: int = 0, title: str = "Sessions per group"
) -> dict[str, Any]:
    """Stacked bars of session outcomes per arm, with the target per group (0: none)."""
    return {
        "kind": "status",
        "title": title,
        "target": target,
        "outcomes": [{"key": k, "label": label, "colour": c} for k, label, c in OUTCOMES],
        "groups": [
            {
                "label": group.arm,
                "started": group.started,
                "counts": {key: getattr(group, key) for key, _, _ in OUTCOMES},
            }
            for group in groups
        ],
    }


def accuracy_chart(
    rows: list[ConditionAccuracy], *, title: str = "Accuracy so far (95% CI)"
) -> dict[str, Any]:
    """Bars of accuracy per condition with their Wilson intervals (None where there are no answers)."""
    return {
        "kind": "accuracy",
        "title": title,
        "rows": [
            {
                "label": row.condition,
                "n": row.n,
                "correct": row.correct,
                **{k: _number(getattr(row, k)) for k in ("accuracy", "low", "high")},
            }
            for row in rows
        ],
    }


def _number(value: float) -> float | None:
    # JSON has no NaN: a condition without answers has no accuracy.
    return None if math.isnan(value) else value
