"""Inline SVG charts drawn in Python: no chart library, nothing fetched, prints as vectors.

Colours come from CSS classes (band-green, band-amber, band-red) defined in assets/scorecard.css, so the page
and the charts share one palette.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from sachsong.reports.scores import Thresholds


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def share_bar(share: float | None, band: str, thresholds: Thresholds, labelledby: str) -> str:
    """A horizontal 0–100% bar against the 100% target, with the amber and green thresholds marked."""
    width, height, top = 300, 26, 4
    bar_h = height - 2 * top
    parts = [
        f'<svg class="share-bar" viewBox="0 0 {width} {height}" width="100%" height="{height}" role="img" '
        f'aria-labelledby="{escape(labelledby)}" preserveAspectRatio="none">',
        f'<rect class="track" x="0" y="{top}" width="{width}" height="{bar_h}" rx="3"/>',
    ]
    if share is not None:
        parts.append(
            f'<rect class="fill band-{escape(band)}" x="0" y="{top}" width="{max(share, 0.0) * width:.1f}" '
            f'height="{bar_h}" rx="3"/>'
        )
    for value, css in ((thresholds.amber, "mark-amber"), (thresholds.green, "mark-green")):
        x = value * width
        parts.append(f'<line class="{css}" x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}"/>')
    parts.append(f'<line class="target" x1="{width - 1}" x2="{width - 1}" y1="0" y2="{height}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _floor_to(value: float, step: float) -> float:
    return math.floor(value / step) * step


def trend_chart(
    points: Sequence[tuple[str, float | None, str]], thresholds: Thresholds, labelledby: str
) -> str:
    """Line chart of one criterion over runs. points: (x label, share or None, band); None leaves a gap.

    The y axis starts just below the lowest share (or the amber threshold) so 97% and 100% look different.
    """
    width, height = 360, 170
    left, right, top, bottom = 40, 10, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    shares = [s for _, s, _ in points if s is not None]
    low = min([*shares, thresholds.amber]) if shares else thresholds.amber
    y_min = max(0.0, _floor_to(low - 0.02, 0.05))
    span = 1.0 - y_min or 1.0

    def y(share: float) -> float:
        return top + (1.0 - (share - y_min) / span) * plot_h

    def x(index: int) -> float:
        if len(points) == 1:
            return left + plot_w / 2
        return left + index * plot_w / (len(points) - 1)

    parts = [
        f'<svg class="trend" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{escape(labelledby)}">'
    ]
    # Band zones behind the line.
    zones = (
        (y_min, thresholds.amber, "red"),
        (thresholds.amber, thresholds.green, "amber"),
        (thresholds.green, 1.0, "green"),
    )
    for lower, upper, band in zones:
        lower, upper = max(lower, y_min), min(upper, 1.0)
        if upper > lower:
            parts.append(
                f'<rect class="zone zone-{band}" x="{left}" y="{y(upper):.1f}" width="{plot_w}" '
                f'height="{y(lower) - y(upper):.1f}"/>'
            )
    step = 0.05 if span <= 0.3 else 0.25
    tick = y_min
    while tick <= 1.0 + 1e-9:
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{left - 4}" y="{y(tick) + 3:.1f}" text-anchor="end">{tick * 100:.0f}%</text>'
        )
        tick += step
    parts.append(
        f'<line class="target" x1="{left}" x2="{left + plot_w}" y1="{y(1.0):.1f}" y2="{y(1.0):.1f}"/>'
    )
    # The line, broken where a run had nothing to score.
    segment: list[str] = []
    segments: list[list[str]] = []
    for index, (_, share, _) in enumerate(points):
        if share is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(index):.1f},{y(share):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline class="line" points="{" ".join(seg)}"/>')
    for index, (label, share, band) in enumerate(points):
        if share is None:
            continue
        parts.append(
            f'<circle class="dot band-{escape(band)}" cx="{x(index):.1f}" cy="{y(share):.1f}" r="4">'
            f"<title>{escape(label)}: {_pct(share)}</title></circle>"
        )
    # x labels: first and last run (and the middle one when there is room) keep the axis readable.
    label_indexes = sorted({0, len(points) - 1, (len(points) - 1) // 2}) if points else []
    if len(points) < 5:
        label_indexes = list(range(len(points)))
    for index in label_indexes:
        anchor = (
            "start"
            if index == 0 and len(points) > 1
            else "end"
            if index == len(points) - 1 and len(points) > 1
            else "middle"
        )
        parts.append(
            f'<text class="axis" x="{x(index):.1f}" y="{height - bottom + 16}" text-anchor="{anchor}">'
            f"{escape(points[index][0])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
