"""Prometheus metrics of the Cal.com client (names start with ``askpro_calcom_``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "askpro_calcom_requests_total",
    "Requests sent to Cal.com by endpoint and outcome (HTTP status or error kind).",
    ["endpoint", "status"],
)
REQUEST_SECONDS = Histogram(
    "askpro_calcom_request_seconds",
    "Latency of single Cal.com requests by endpoint.",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RETRIES = Counter(
    "askpro_calcom_retries_total",
    "Retries of Cal.com calls by endpoint and reason.",
    ["endpoint", "reason"],
)
CACHE = Counter(
    "askpro_calcom_cache_total",
    "Cache lookups of Cal.com data by kind (slots, event_types, schedules) and result.",
    ["kind", "result"],
)
BREAKER_STATE = Gauge(
    "askpro_calcom_breaker_state",
    "Circuit breaker per Cal.com base URL: 0 closed, 1 half-open, 2 open.",
    ["base_url"],
)
BREAKER_REJECTIONS = Counter(
    "askpro_calcom_breaker_rejections_total",
    "Calls failed fast because the breaker was open.",
    ["base_url"],
)
RATE_LIMIT_WAIT_SECONDS = Histogram(
    "askpro_calcom_rate_limit_wait_seconds",
    "Time callers waited for the client-side rate limiter.",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RATE_LIMITED = Counter(
    "askpro_calcom_rate_limited_total",
    "Calls refused because the rate budget would not free up before the deadline.",
    ["source"],
)
RECONCILE_STOPPED = Counter(
    "askpro_calcom_reconcile_stopped_total",
    "Reconciliation runs that stopped before Cal.com said there were no more pages.",
    ["reason"],
)
