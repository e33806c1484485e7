"""Jobs of the booking feature: the Cal.com sync (retried with backoff) and periodic sweeps."""

from __future__ import annotations

import datetime as dt

from askpro.booking import service
from askpro.booking.gateway import gateway_for
from askpro.integrations.calcom.ratelimit import background_work
from askpro.kit.time import utc_now
from askpro.models import Appointment, Company
from askpro.observability import get_logger
from askpro.runtime import get_runtime
from askpro.worker import AlreadyEnqueued, enqueue, periodic, retry_policy, task

log = get_logger(__name__)


@task(service.SYNC_TASK, retry=retry_policy(max_attempts=12, base_seconds=2))
async def sync_appointment(appointment_id: int) -> str:
    """Push one appointment's pending change to Cal.com; raise to retry while it is down."""
    runtime = get_runtime()
    async with runtime.database.sessions() as session:
        appointment = await session.get(Appointment, appointment_id)
        company = await session.get(Company, appointment.company_id) if appointment else None
    if appointment is None or company is None:
        return "gone"
    gateway = gateway_for(company, runtime.settings, runtime.extras)
    if gateway is None:
        return "no calendar"
    with background_work():
        outcome = await service.push(runtime.database, gateway, appointment_id)
    if outcome is service.SyncOutcome.PENDING:
        raise service.SyncPending(f"appointment {appointment_id}: calendar unavailable")
    return outcome.value


@task("askpro.booking.resync_pending")
async def resync_pending(timestamp: int) -> int:
    """Re-defer syncs left pending (a job that ran out of retries, a lost enqueue)."""
    runtime = get_runtime()
    async with runtime.database.sessions() as session:
        ids = await service.pending_ids(session, older_than=dt.timedelta(minutes=5))
    deferred = 0
    # Deferred outside a transaction: a queueing-lock conflict must not abort anything.
    for appointment_id in ids:
        try:
            await enqueue(
                service.SYNC_TASK,
                lock=f"appointment-sync:{appointment_id}",
                queueing_lock=f"appointment-resync:{appointment_id}",
                appointment_id=appointment_id,
            )
            deferred += 1
        except AlreadyEnqueued:
            continue
    return deferred


@task("askpro.booking.expire_holds")
async def expire_holds(timestamp: int) -> int:
    """Cancel holds past their expiry (the booking transaction also ignores them)."""
    return await service.expire_holds(get_runtime().database, utc_now())


periodic(cron="*/5 * * * *", periodic_id="booking_resync_pending")(resync_pending)
periodic(cron="* * * * *", periodic_id="booking_expire_holds")(expire_holds)


@task("askpro.booking.prune_tool_answers")
async def prune_tool_answers(timestamp: int) -> int:
    """Forget stored agent tool answers after a week (Retell retries within minutes)."""
    from sqlalchemy import delete

    from askpro.models import ToolCallAnswer

    runtime = get_runtime()
    async with runtime.database.sessions() as session:
        result = await session.execute(
            delete(ToolCallAnswer)
            .where(ToolCallAnswer.created_at < utc_now() - dt.timedelta(days=7))
            .returning(ToolCallAnswer.id)
        )
        count = len(result.all())
        await session.commit()
    return count


periodic(cron="17 3 * * *", periodic_id="booking_prune_tool_answers")(prune_tool_answers)
