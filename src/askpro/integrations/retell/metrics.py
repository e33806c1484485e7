"""Prometheus metrics of the phone agent."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

INBOUND_ANSWERS = Counter(
    "askpro_retell_inbound_answers_total",
    "Inbound-call answers by result (answered, unknown_number, take_message).",
    ["result"],
)
TOOL_CALLS = Counter(
    "askpro_retell_tool_calls_total", "Agent tool calls by tool and outcome.", ["tool", "outcome"]
)
TOOL_SECONDS = Histogram(
    "askpro_retell_tool_seconds",
    "Time to answer an agent tool call.",
    ["tool"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TOOL_REPLAYS = Counter(
    "askpro_retell_tool_replays_total",
    "Repeated tool calls answered from the stored answer.",
    ["tool"],
)
