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

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import repository
from askpro.booking.gateway import (
    BookingPush,
    CalendarBooking,
    CalendarGateway,
    CalendarRejected,
    CalendarSlotGone,
    CalendarUnavailable,
)
from askpro.booking.schemas import AppointmentStatus, HistoryKind, SyncState
from askpro.db import Database
from askpro.kit.time import utc_now
from askpro.models import Appointment, Branch, Company, Customer, Service
from askpro.observability import get_logger
from askpro.worker import enqueue

log = get_logger(__name__)

DEFAULT_BUDGET_SECONDS = 3.0
SYNC_TASK = "askpro.booking.sync_appointment"
INTERRUPTED = "sync attempt interrupted (budget exceeded); the job retries"
ACTOR = "calcom-sync"
CONFLICT_REASON = "calcom_conflict"


class Action(StrEnum):
    CREATE = "create"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"


PUSHED_KINDS = {
    Action.CREATE: HistoryKind.CALCOM_CREATED,
    Action.RESCHEDULE: HistoryKind.CALCOM_RESCHEDULED,
    Action.CANCEL: HistoryKind.CALCOM_CANCELLED,
}


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
    action: Action
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
    if appointment.calcom_sync_state != SyncState.PENDING:
        return None
    uid = appointment.calcom_booking_uid
    version = _version(appointment)
    if appointment.status == AppointmentStatus.BOOKED and uid is None:
        service = await session.get(Service, appointment.service_id)
        company = await session.get(Company, appointment.company_id)
        assert service is not None
        assert company is not None
        # The member's own calendar for the service, else the service's.
        event_type_id = await repository.event_type_for(
            session, appointment.staff_id, appointment.service_id
        )
        if event_type_id is None:
            return None
        customer = (
            await session.get(Customer, appointment.customer_id)
            if appointment.customer_id
            else None
        )
        branch = await session.get(Branch, appointment.branch_id) if appointment.branch_id else None
        push = BookingPush(
            appointment_id=appointment.id,
            event_type_id=event_type_id,
            start=appointment.starts_at,
            duration_minutes=service.duration_minutes,
            attendee_name=(customer.name if customer and customer.name else "Phone caller"),
            attendee_phone=customer.phone if customer else None,
            attendee_email=customer.email if customer else None,
            time_zone=(branch.time_zone if branch and branch.time_zone else company.time_zone),
            language=company.locale,
            retry=appointment.calcom_sync_error is not None,
        )
        return Planned(Action.CREATE, version, push, None, appointment.starts_at, None)
    if appointment.status == AppointmentStatus.BOOKED:
        return Planned(Action.RESCHEDULE, version, None, uid, appointment.starts_at, "rescheduled")
    if uid is not None:
        return Planned(
            Action.CANCEL,
            version,
            None,
            uid,
            appointment.starts_at,
            appointment.cancellation_reason,
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
    created: CalendarBooking | None = None
    try:
        if planned.action is Action.CREATE:
            assert planned.push is not None
            created = await gateway.create(planned.push)
            uid = created.uid
        elif planned.action is Action.RESCHEDULE:
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

    linked = created is not None and created.existing

    async def record(session: AsyncSession) -> tuple[SyncOutcome, bool]:
        appointment = await repository.locked(session, appointment_id)
        appointment.calcom_booking_uid = uid
        appointment.calcom_sync_error = None
        same = _version(appointment)[:2] == planned.version[:2]
        if same:
            appointment.calcom_sync_state = SyncState.SYNCED
        kind = HistoryKind.CALCOM_LINKED if linked else PUSHED_KINDS[planned.action]
        session.add(repository.history(appointment, kind, ACTOR, "system", uid=uid))
        if created is not None and created.host_user_id is not None:
            await follow_host(session, appointment, created.host_user_id)
        await session.flush()
        outcome = SyncOutcome.LINKED if linked else SyncOutcome.SYNCED
        return outcome, not same

    return await database.unit_of_work(record, name="booking.sync.record")


async def follow_host(session: AsyncSession, appointment: Appointment, host_user_id: int) -> None:
    """Cal.com assigned this host (round robin): record the appointment on the staff member
    the host maps to, when that is another qualified member who is free then."""
    mapped = await repository.staff_by_calcom_user(
        session, appointment.company_id, host_user_id, None
    )
    qualified = await repository.qualified_staff(
        session, appointment.company_id, appointment.service_id, branch_id=None, staff_id=None
    )
    qualified_ids = {staff.id for staff, _own in qualified}
    target = next((staff for staff in mapped if staff.id in qualified_ids), None)
    if target is None or target.id == appointment.staff_id:
        return
    previous = appointment.staff_id
    try:
        async with session.begin_nested():
            appointment.staff_id = target.id
            await session.flush()
    except IntegrityError as error:
        if not repository.is_overlap_violation(error):
            raise
        await session.refresh(appointment)
        appointment.calcom_sync_error = (
            f"Cal.com assigned host {host_user_id} ({target.name}), who has another "
            "appointment here then; kept on the original staff member"
        )
        log.error("booking.host_busy_locally", appointment_id=appointment.id, host=host_user_id)
        return
    session.add(
        repository.history(
            appointment,
            HistoryKind.STAFF_REASSIGNED,
            ACTOR,
            "system",
            staff_id={"from": previous, "to": target.id},
            host_user_id=host_user_id,
        )
    )


async def _record_error(
    database: Database, appointment_id: int, message: str, *, failed: bool = False
) -> None:
    async def work(session: AsyncSession) -> None:
        appointment = await repository.locked(session, appointment_id)
        appointment.calcom_sync_error = message[:500]
        if failed:
            appointment.calcom_sync_state = SyncState.FAILED
            # The history row is also what announces appointment.sync_failed (outbound).
            session.add(
                repository.history(
                    appointment, HistoryKind.SYNC_FAILED, ACTOR, "system", error=message[:500]
                )
            )

    await database.unit_of_work(work, name="booking.sync.error")


async def _record_conflict(
    database: Database, appointment_id: int, planned: Planned
) -> SyncOutcome:
    """The calendar says the time is taken: cancel locally with ``calcom_conflict``."""

    async def work(session: AsyncSession) -> None:
        appointment = await repository.locked(session, appointment_id)
        if _version(appointment)[:2] != planned.version[:2]:
            return  # changed meanwhile; the next round plans again
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancellation_reason = CONFLICT_REASON
        # A moved booking still exists at its old time in the calendar: cancel it there too.
        appointment.calcom_sync_state = (
            SyncState.PENDING if appointment.calcom_booking_uid else SyncState.FAILED
        )
        appointment.calcom_sync_error = "the calendar reported the time as taken"
        session.add(
            repository.history(
                appointment, HistoryKind.CANCELLED, ACTOR, "system", reason=CONFLICT_REASON
            )
        )
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
    return await repository.pending_sync_ids(
        session, older_than=utc_now() - older_than, limit=limit
    )
