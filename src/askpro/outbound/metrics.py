"""Prometheus metrics of outbound deliveries."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Outcomes of one attempt: delivered, failed (will retry), gave_up, gone, refused.
ATTEMPTS = Counter(
    "askpro_outbound_attempts_total",
    "Outbound webhook delivery attempts by event type and outcome.",
    ["event_type", "outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "askpro_outbound_attempt_seconds",
    "Duration of one outbound delivery attempt (resolve, connect, send, read the answer).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
