"""Prometheus metrics of the webhook hub."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Outcomes at the door: accepted, duplicate, rejected_signature, too_large, malformed, failed.
RECEIVED = Counter(
    "askpro_webhooks_received_total",
    "Webhook deliveries by provider, event type (`-` before verification) and outcome.",
    ["provider", "event_type", "outcome"],
)
ACK_SECONDS = Histogram(
    "askpro_webhook_ack_seconds",
    "Time from request to acknowledgement (verify, store, enqueue, commit).",
    ["provider", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
# Outcomes of a processing attempt: processed, ignored, failed, dead, skipped.
PROCESSED = Counter(
    "askpro_webhooks_processed_total",
    "Processing attempts by provider, event type and outcome.",
    ["provider", "event_type", "outcome"],
)
PROCESSING_SECONDS = Histogram(
    "askpro_webhook_processing_seconds",
    "Duration of one processing attempt (handlers and bookkeeping).",
    ["provider", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS_BY_STATUS = Gauge(
    "askpro_webhook_events",
    "Inbox rows per status (refreshed by the sweeper every minute).",
    ["status"],
)
