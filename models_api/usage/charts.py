"""Charts drawn on the server as inline SVG: no chart library, no CDN, nothing to load, so
they render in any browser with no network. Each chart is an accessible image (`role`,
`aria-label`, a `<title>`) and every bar or point carries a `<title>` tooltip."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 760, 230
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 14, 40


@dataclass(frozen=True)
class Series:
    label: str
    value: Callable[[dict], float | None]
    color: str


def nice_ceiling(value: float) -> float:
    """The smallest 1/2/2.5/5 × 10^n at least `value` (a readable top of the y axis)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude


def format_number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if value >= 1_000:
        return f"{value / 1_000:.3g}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def _time_label(moment: datetime, step_seconds: int) -> str:
    if step_seconds < 3600:
        return moment.strftime("%H:%M")
    return moment.strftime("%b %d %H:%M") if step_seconds < 86400 else moment.strftime("%b %d")


def _frame(title: str, top: float, unit: str, points: Sequence[dict], step_seconds: int):
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for index in range(5):
        value = top * index / 4
        y = TOP + plot_height - plot_height * index / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{escape(format_number(value))}{escape(unit)}</text>"
        )
    count = len(points)
    label_every = max(1, math.ceil(count / 6))
    for index in range(0, count, label_every):
        x = LEFT + plot_width * (index + 0.5) / count
        label = _time_label(points[index]["time"], step_seconds)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" class="tick">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_height}" '
        f'y2="{TOP + plot_height}" class="axis"/>'
    )
    return parts, plot_width, plot_height


def _legend(series: Sequence[Series]) -> str:
    items, x = [], LEFT
    for entry in series:
        items.append(
            f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{entry.color}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 5}" class="legend">{escape(entry.label)}</text>'
        )
        x += 24 + 7 * len(entry.label)
    return "".join(items)


def stacked_bars(
    points: Sequence[dict],
    series: Sequence[Series],
    *,
    title: str,
    step_seconds: int,
    unit: str = "",
) -> SafeString:
    """One bar per time step, its segments stacked in `series` order."""
    totals = [sum(entry.value(point) or 0 for entry in series) for point in points]
    top = nice_ceiling(max(totals, default=0))
    parts, plot_width, plot_height = _frame(title, top, unit, points, step_seconds)
    count = max(1, len(points))
    slot = plot_width / count
    bar_width = max(1.0, slot * 0.8)
    for index, point in enumerate(points):
        base = TOP + plot_height
        x = LEFT + slot * index + (slot - bar_width) / 2
        label = _time_label(point["time"], step_seconds)
        for entry in series:
            value = entry.value(point) or 0
            if not value:
                continue
            height = plot_height * value / top
            base -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_width:.1f}" '
                f'height="{height:.1f}" fill="{entry.color}">'
                f"<title>{escape(label)} · {escape(entry.label)}: "
                f"{escape(format_number(value))}{escape(unit)}</title></rect>"
            )
    parts.append(_legend(series))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every interpolated text is escaped


def lines(
    points: Sequence[dict],
    series: Sequence[Series],
    *,
    title: str,
    step_seconds: int,
    unit: str = "",
) -> SafeString:
    """One polyline per series; steps without a value (no calls) break the line."""
    values = [entry.value(point) for entry in series for point in points]
    top = nice_ceiling(max((v for v in values if v is not None), default=0))
    parts, plot_width, plot_height = _frame(title, top, unit, points, step_seconds)
    count = max(1, len(points))
    for entry in series:
        segments, current = [], []
        for index, point in enumerate(points):
            value = entry.value(point)
            if value is None:
                if current:
                    segments.append(current)
                current = []
                continue
            x = LEFT + plot_width * (index + 0.5) / count
            y = TOP + plot_height - plot_height * value / top
            current.append((x, y, point, value))
        if current:
            segments.append(current)
        for segment in segments:
            coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in segment)
            parts.append(
                f'<polyline points="{coordinates}" fill="none" stroke="{entry.color}" '
                'stroke-width="2" stroke-linejoin="round"/>'
            )
            for x, y, point, value in segment:
                label = _time_label(point["time"], step_seconds)
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{entry.color}">'
                    f"<title>{escape(label)} · {escape(entry.label)}: "
                    f"{escape(format_number(value))}{escape(unit)}</title></circle>"
                )
    parts.append(_legend(series))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every interpolated text is escaped


# --- the console's charts --------------------------------------------------------------------

OK, CLIENT_ERROR, SERVER_ERROR = "#1f9d55", "#e3a008", "#d64545"
P50, P90, P99, AVERAGE = "#3b82f6", "#8b5cf6", "#d64545", "#6b7280"
INPUT, OUTPUT, TOTAL = "#0ea5e9", "#f97316", "#6b7280"


def usage_charts(result: dict) -> dict[str, SafeString]:
    """The three charts of a Metrics tab / Usage page from `metrics.usage_metrics`."""
    points, step = result["series"], result["stepSeconds"]
    return {
        "requests": stacked_bars(
            points,
            [
                Series("2xx", lambda p: p["requests2xx"], OK),
                Series("4xx", lambda p: p["requests4xx"], CLIENT_ERROR),
                Series("5xx", lambda p: p["requests5xx"], SERVER_ERROR),
            ],
            title="Requests by status class",
            step_seconds=step,
        ),
        "latency": lines(
            points,
            [
                Series("p50", lambda p: p["latencyMs"]["p50"], P50),
                Series("p90", lambda p: p["latencyMs"]["p90"], P90),
                Series("p99", lambda p: p["latencyMs"]["p99"], P99),
                Series("avg", lambda p: p["latencyMs"]["avg"], AVERAGE),
            ],
            title="Latency (ms)",
            step_seconds=step,
            unit=" ms",
        ),
        "tokens": lines(
            points,
            [
                Series("input", lambda p: p["tokens"]["input"], INPUT),
                Series("output", lambda p: p["tokens"]["output"], OUTPUT),
                Series("total", lambda p: p["tokens"]["total"], TOTAL),
            ],
            title="Tokens",
            step_seconds=step,
        ),
    }
