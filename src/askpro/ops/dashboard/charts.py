"""Server-rendered bar charts (SVG geometry for the template) and the ack latency p95.

No chart library and no JavaScript: the page computes rectangles, the template draws them
and puts the same numbers in a table beside the chart for screen readers and for reading.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape
from prometheus_client import REGISTRY

WIDTH = 720
HEIGHT = 160
# The routes whose latency is the provider's acknowledgement time.
WEBHOOK_ROUTES = ("/webhooks/retell", "/webhooks/calcom", "/webhooks/stripe")


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    y: float
    height: float
    value: int
    label: str
    series: int  # 0: the main series, 1: the overlaid one (failures, bookings)


@dataclass(frozen=True)
class BarChart:
    title: str
    labels: list[str]
    series_names: list[str]
    values: list[list[int]]
    bars: list[Bar]
    maximum: int
    width: int = WIDTH
    height: int = HEIGHT


def bar_chart(
    title: str,
    labels: Sequence[str],
    series_names: Sequence[str],
    values: Sequence[Sequence[int]],
) -> BarChart:
    """One bar per label for the first series, a narrower one inside it for the second."""
    maximum = max([1, *(value for series in values for value in series)])
    slot = WIDTH / max(1, len(labels))
    bars: list[Bar] = []
    for series_index, series in enumerate(values):
        inset = slot * (0.1 if series_index == 0 else 0.3)
        for index, value in enumerate(series):
            if value == 0:
                continue  # nothing to draw; the table beside the chart still shows the 0
            height = HEIGHT * value / maximum
            bars.append(
                Bar(
                    x=round(index * slot + inset, 2),
                    width=round(max(slot - 2 * inset, 1), 2),
                    y=round(HEIGHT - height, 2),
                    height=round(height, 2),
                    value=value,
                    label=labels[index],
                    series=series_index,
                )
            )
    return BarChart(
        title=title,
        labels=list(labels),
        series_names=list(series_names),
        values=[list(series) for series in values],
        bars=bars,
        maximum=maximum,
    )


def svg_bars(chart: BarChart, translate: Callable[[str], str]) -> Markup:
    """The chart's ``<rect>`` elements, built in one pass (a template loop escaping each
    number costs milliseconds per chart). Only the labels are text; they are escaped."""
    series_names = [translate(name) for name in chart.series_names]
    parts = [
        f'<rect x="{bar.x}" y="{bar.y}" width="{bar.width}" height="{bar.height}" '
        f'class="series-{bar.series}"><title>{escape(bar.label)}: {bar.value} '
        f"{escape(series_names[bar.series])}</title></rect>"
        for bar in chart.bars
    ]
    # Numbers are formatted floats and ints; the only text is escaped above.
    return Markup("".join(parts))  # noqa: S704


def histogram_quantile(buckets: Sequence[tuple[float, float]], quantile: float) -> float | None:
    """Prometheus' ``histogram_quantile`` on cumulative ``(upper bound, count)`` buckets."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = quantile * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound, count in buckets:
        if count >= rank:
            if math.isinf(upper_bound):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 0
            return lower_bound + (upper_bound - lower_bound) * share
        lower_bound, lower_count = upper_bound, count
    return lower_bound


def webhook_ack_p95_ms() -> float | None:
    """p95 of the webhook routes' latency as this process measured it (``None``: no data)."""
    cumulative: dict[float, float] = {}
    for metric in REGISTRY.collect():
        if metric.name != "askpro_http_request_seconds":
            continue
        for sample in metric.samples:
            if (
                sample.name.endswith("_bucket")
                and sample.labels.get("route") in WEBHOOK_ROUTES
                and sample.labels.get("method") == "POST"
            ):
                bound = float(sample.labels["le"])
                cumulative[bound] = cumulative.get(bound, 0.0) + sample.value
    seconds = histogram_quantile(sorted(cumulative.items()), 0.95)
    return round(seconds * 1000, 1) if seconds is not None else None
