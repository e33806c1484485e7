"""Webhook jobs: process one event (locked per entity), sweep lost enqueues, prune old bodies."""

from __future__ import annotations

import random
import time

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from askpro import worker
from askpro.config import Settings
from askpro.models import WebhookEvent
from askpro.observability import get_logger
from askpro.runtime import get_runtime
from askpro.webhooks import metrics, repository
from askpro.webhooks.ingest import PROCESS_TASK, queueing_lock
from askpro.webhooks.providers import RetryOrdering, get_provider
from askpro.webhooks.registry import handlers_for, load_handler_modules
from askpro.worker import RetryLater

log = get_logger(__name__)

MAX_ERROR_LENGTH = 4000
SWEEP_BATCH = 500
PRUNE_BATCH = 1000


def stepped_aside_lock(event_id: int) -> str:
    return f"webhook-retry:{event_id}"


def retry_delay(attempt: int, settings: Settings) -> float:
    """Seconds before attempt ``attempt + 1``: base · factor^(attempt-1), ± jitter."""
    nominal = settings.webhook_retry_base_seconds * settings.webhook_retry_factor ** (attempt - 1)
    jitter = settings.webhook_retry_jitter
    return nominal * random.uniform(1 - jitter, 1 + jitter)


# The job decides: ``RetryLater`` carries the delay (the inbox row counts attempts). Any
# other exception happened outside the handlers (the database went away while the attempt
# was being recorded): retry with a capped backoff so the event is not lost.
WEBHOOK_RETRY = worker.retry_when_asked(max_attempts=30, base_seconds=5, max_seconds=600)


@worker.task(PROCESS_TASK, retry=WEBHOOK_RETRY)
async def process_webhook_event(event_id: int) -> str:
    """One attempt at one event; the outcome is recorded on its row."""
    runtime = get_runtime()
    load_handler_modules()
    database = runtime.database
    started = time.perf_counter()
    # One statement, committed on its own (the attempt counts even if this process dies).
    async with database.autocommit_sessions() as session:
        event = await repository.start_attempt(session, event_id)
    if event is None:  # already settled (a duplicate job from the sweeper or a replay)
        log.info("webhook.process_skipped", webhook_event_id=event_id)
        return "skipped"
    with structlog.contextvars.bound_contextvars(
        webhook_event_id=event.id, provider=event.provider, event_type=event.event_type
    ):
        handlers = handlers_for(event.provider, event.event_type)
        outcome = "processed" if handlers else "ignored"
        steps_aside = get_provider(event.provider).retry_ordering is RetryOrdering.STEPS_ASIDE
        entity_key = event.entity_key

        async def run_handlers(session: AsyncSession) -> None:
            if steps_aside and entity_key is not None and handlers:
                # A retry that stepped aside no longer holds the queue's entity lock: this
                # keeps its entity's events one at a time all the same.
                await repository.lock_entity(session, entity_key)
            for handler in handlers:
                await handler(session, event)
            await repository.finish(session, event.id, outcome)

        try:
            await database.unit_of_work(run_handlers, name="webhooks.process")
        except Exception as error:  # noqa: BLE001 - every handler failure is recorded
            return await _record_failure(event, error, runtime.settings, started)
        _observe(event, outcome, started)
        log.info("webhook.processed", outcome=outcome, attempt=event.attempts)
        return outcome


async def _record_failure(
    event: WebhookEvent, error: Exception, settings: Settings, started: float
) -> str:
    reason = f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]
    dead = event.attempts >= settings.webhook_max_attempts
    status = "dead" if dead else "failed"
    async with get_runtime().database.autocommit_sessions() as session:
        await repository.finish(session, event.id, status, reason)
    _observe(event, status, started)
    if dead:
        log.error("webhook.dead", attempt=event.attempts, error=reason)
        return status
    delay = retry_delay(event.attempts, settings)
    log.warning("webhook.failed", attempt=event.attempts, retry_in_s=round(delay, 3), error=reason)
    steps_aside = get_provider(event.provider).retry_ordering is RetryOrdering.STEPS_ASIDE
    own_lock = stepped_aside_lock(event.id) if steps_aside and event.entity_key else None
    raise RetryLater(delay, reason, own_lock) from error


def _observe(event: WebhookEvent, outcome: str, started: float) -> None:
    metrics.PROCESSED.labels(event.provider, event.event_type, outcome).inc()
    metrics.PROCESSING_SECONDS.labels(event.provider, outcome).observe(
        time.perf_counter() - started
    )


async def enqueue_processing(
    session: AsyncSession, event_id: int, entity_key: str | None, correlation_id: str | None
) -> bool:
    """Defer the processing job unless one is already waiting; False when one was."""
    try:
        async with session.begin_nested():  # a refused enqueue must not abort the caller
            await worker.enqueue(
                PROCESS_TASK,
                session=session,
                lock=entity_key,
                queueing_lock=queueing_lock(event_id),
                correlation_id=correlation_id,
                event_id=event_id,
            )
    except worker.AlreadyEnqueued:
        return False
    return True


@worker.task("askpro.webhooks.sweep")
async def sweep_received(timestamp: int) -> int:
    """Re-enqueue rows left in ``received`` (a lost enqueue never loses an event)."""
    runtime = get_runtime()
    async with runtime.database.sessions() as session:
        rows = await repository.stuck_in_received(
            session, runtime.settings.webhook_sweep_after_seconds, SWEEP_BATCH
        )
        requeued = 0
        for event_id, entity_key, correlation_id in rows:
            requeued += await enqueue_processing(session, event_id, entity_key, correlation_id)
        counts = await repository.count_by_status(session)
        await session.commit()
    for status in ("received", "processing", "processed", "failed", "dead", "ignored"):
        metrics.EVENTS_BY_STATUS.labels(status).set(counts.get(status, 0))
    if requeued:
        log.warning("webhook.sweeper_requeued", count=requeued)
    return requeued


@worker.task("askpro.webhooks.prune_bodies")
async def prune_bodies(timestamp: int) -> int:
    """Drop raw bodies older than ASKPRO_WEBHOOK_RETENTION_DAYS; the rows stay."""
    runtime = get_runtime()
    total = 0
    while True:
        async with runtime.database.sessions() as session:
            pruned = await repository.prune_bodies(
                session, runtime.settings.webhook_retention_days, PRUNE_BATCH
            )
            await session.commit()
        total += pruned
        if pruned < PRUNE_BATCH:
            break
    if total:
        log.info("webhook.bodies_pruned", count=total)
    return total


worker.periodic(cron="* * * * *", periodic_id="webhooks_sweep")(sweep_received)
worker.periodic(cron="17 3 * * *", periodic_id="webhooks_prune_bodies")(prune_bodies)
