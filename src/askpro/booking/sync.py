"""The Cal.com sync outbox: push local booking changes to the calendar, never the reverse.

A booking change commits locally first and defers a sync job in the same transaction
(the outbox). Right after the commit the change is pushed once within a budget, because
the caller is waiting; when that does not finish, the job does it later and retries with
backoff while the calendar is down. A sync failure never rolls back the local booking.

What is pushed follows from the row: booked without uid → create; booked with uid and
``pending`` → reschedule; not live with uid and ``pending`` → cancel.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.gateway import (
    BookingPush,
    CalendarGateway,
    CalendarRejected,
    CalendarSlotGone,
    CalendarUnavailable,
)
from askpro.db import Database
from askpro.kit.time import utc_now
from askpro.models import Appointment, AppointmentEvent, Branch, Company, Customer, Service
from askpro.observability import get_logger
from askpro.worker import enqueue

log = get_logger(__name__)

DEFAULT_BUDGET_SECONDS = 3.0
SYNC_TASK = "askpro.booking.sync_appointment"
INTERRUPTED = "sync attempt interrupted (budget exceeded); the job retries"


class SyncOutcome(StrEnum):
    SYNCED = "synced"
    LINKED = "linked"  # the calendar already had this booking: linked, not created twice
    CONFLICT = "conflict"  # the calendar refused: the slot is gone there
    PENDING = "pending"  # calendar unreachable: the job retries
    FAILED = "failed"  # the calendar rejected the change for another reason
    NOTHING = "nothing"  # nothing to push


class SyncPending(Exception):
    """Raised by the job so the queue retries it with backoff."""


@dataclass(frozen=True)
class Planned:
    action: str  # create | reschedule | cancel
    version: tuple[str, dt.datetime, str | None]
    push: BookingPush | None
    uid: str | None
    start: dt.datetime
    reason: str | None


async def defer(session: AsyncSession, appointment_id: int, *, delay_seconds: float) -> None:
    """Defer the sync job inside the caller's transaction (gone again on rollback)."""
    await enqueue(
        SYNC_TASK,
        session=session,
        lock=f"appointment-sync:{appointment_id}",
        schedule_in_seconds=delay_seconds,
        appointment_id=appointment_id,
    )


def _version(appointment: Appointment) -> tuple[str, dt.datetime, str | None]:
    return (appointment.status, appointment.starts_at, appointment.calcom_booking_uid)


async def plan(session: AsyncSession, appointment: Appointment) -> Planned | None:
    if appointment.calcom_sync_state != "pending":
        return None
    uid = appointment.calcom_booking_uid
    version = _version(appointment)
    if appointment.status == "booked" and uid is None:
        service = await session.get(Service, appointment.service_id)
        company = await session.get(Company, appointment.company_id)
        assert service is not None
        assert company is not None
        if service.calcom_event_type_id is None:
            return None
        customer = (
            await session.get(Customer, appointment.customer_id)
            if appointment.customer_id
            else None
        )
        branch = await session.get(Branch, appointment.branch_id) if appointment.branch_id else None
        push = BookingPush(
            appointment_id=appointment.id,
            event_type_id=service.calcom_event_type_id,
            start=appointment.starts_at,
            duration_minutes=service.duration_minutes,
            attendee_name=(customer.name if customer and customer.name else "Phone caller"),
            attendee_phone=customer.phone if customer else None,
            attendee_email=customer.email if customer else None,
            time_zone=(branch.time_zone if branch and branch.time_zone else company.time_zone),
            language=company.locale,
            retry=appointment.calcom_sync_error is not None,
        )
        return Planned("create", version, push, None, appointment.starts_at, None)
    if appointment.status == "booked":
        return Planned("reschedule", version, None, uid, appointment.starts_at, "rescheduled")
    if uid is not None:
        return Planned(
            "cancel", version, None, uid, appointment.starts_at, appointment.cancellation_reason
        )
    return None


async def push(database: Database, gateway: CalendarGateway, appointment_id: int) -> SyncOutcome:
    """Push the appointment's pending change; repeat while it changed under us."""
    outcome = SyncOutcome.NOTHING
    for _ in range(3):
        async with database.sessions() as session:
            appointment = await session.get(Appointment, appointment_id)
            planned = None if appointment is None else await plan(session, appointment)
        if planned is None:
            return outcome
        outcome, again = await _push_once(database, gateway, appointment_id, planned)
        if not again:
            return outcome
    return outcome


async def _push_once(
    database: Database, gateway: CalendarGateway, appointment_id: int, planned: Planned
) -> tuple[SyncOutcome, bool]:
    uid: str | None = None
    linked = False
    try:
        if planned.action == "create":
            assert planned.push is not None
            created = await gateway.create(planned.push)
            uid, linked = created.uid, created.existing
        elif planned.action == "reschedule":
            assert planned.uid is not None
            uid = await gateway.reschedule(planned.uid, planned.start, planned.reason)
        else:
            assert planned.uid is not None
            await gateway.cancel(planned.uid, planned.reason)
            uid = planned.uid
    except CalendarUnavailable as error:
        await _record_error(database, appointment_id, f"calendar unavailable: {error}")
        return SyncOutcome.PENDING, False
    except CalendarSlotGone:
        return await _record_conflict(database, appointment_id, planned), True
    except CalendarRejected as error:  # visible, not retried blindly
        log.warning("booking.sync_failed", appointment_id=appointment_id, error=str(error))
        await _record_error(database, appointment_id, f"calendar rejected: {error}", failed=True)
        return SyncOutcome.FAILED, False

    async def record(session: AsyncSession) -> tuple[SyncOutcome, bool]:
        appointment = await _locked(session, appointment_id)
        appointment.calcom_booking_uid = uid
        appointment.calcom_sync_error = None
        same = _version(appointment)[:2] == planned.version[:2]
        if same:
            appointment.calcom_sync_state = "synced"
        kind = "calcom_linked" if linked else f"calcom_{planned.action}d"
        session.add(_event(appointment, kind, uid=uid))
        await session.flush()
        outcome = SyncOutcome.LINKED if linked else SyncOutcome.SYNCED
        return outcome, not same

    return await database.unit_of_work(record, name="booking.sync.record")


async def _locked(session: AsyncSession, appointment_id: int) -> Appointment:
    appointment = (
        await session.execute(
            select(Appointment).where(Appointment.id == appointment_id).with_for_update()
        )
    ).scalar_one()
    return appointment


def _event(appointment: Appointment, kind: str, **changes: object) -> AppointmentEvent:
    return AppointmentEvent(
        company_id=appointment.company_id,
        appointment_id=appointment.id,
        kind=kind,
        actor="calcom-sync",
        channel="system",
        changes=dict(changes),
    )


async def _record_error(
    database: Database, appointment_id: int, message: str, *, failed: bool = False
) -> None:
    async def work(session: AsyncSession) -> None:
        appointment = await _locked(session, appointment_id)
        appointment.calcom_sync_error = message[:500]
        if failed:
            appointment.calcom_sync_state = "failed"
            # The history row is also what announces appointment.sync_failed (outbound).
            session.add(_event(appointment, "sync_failed", error=message[:500]))

    await database.unit_of_work(work, name="booking.sync.error")


async def _record_conflict(
    database: Database, appointment_id: int, planned: Planned
) -> SyncOutcome:
    """The calendar says the time is taken: cancel locally with ``calcom_conflict``."""

    async def work(session: AsyncSession) -> None:
        appointment = await _locked(session, appointment_id)
        if _version(appointment)[:2] != planned.version[:2]:
            return  # changed meanwhile; the next round plans again
        appointment.status = "cancelled"
        appointment.cancellation_reason = "calcom_conflict"
        # A moved booking still exists at its old time in the calendar: cancel it there too.
        appointment.calcom_sync_state = "pending" if appointment.calcom_booking_uid else "failed"
        appointment.calcom_sync_error = "the calendar reported the time as taken"
        session.add(_event(appointment, "cancelled", reason="calcom_conflict"))
        log.warning("booking.calcom_conflict", appointment_id=appointment_id)

    await database.unit_of_work(work, name="booking.sync.conflict")
    return SyncOutcome.CONFLICT


async def push_within_budget(
    database: Database, gateway: CalendarGateway, appointment_id: int, budget_seconds: float
) -> SyncOutcome:
    """One push while the caller waits; past the budget the deferred job takes over."""
    try:
        return await asyncio.wait_for(push(database, gateway, appointment_id), budget_seconds)
    except TimeoutError:
        # The request may have reached the calendar: make the job look before creating.
        await _record_error(database, appointment_id, INTERRUPTED)
        return SyncOutcome.PENDING


async def pending_ids(
    session: AsyncSession, *, older_than: dt.timedelta, limit: int = 500
) -> list[int]:
    result = await session.execute(
        select(Appointment.id)
        .where(
            Appointment.calcom_sync_state == "pending",
            Appointment.updated_at < utc_now() - older_than,
        )
        .order_by(Appointment.id)
        .limit(limit)
    )
    return list(result.scalars().all())
