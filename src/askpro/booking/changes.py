"""Hold, reschedule and cancel: units of work under the same per-staff locks as booking."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import locks, sync
from askpro.booking.availability import ContextError, busy_ranges, load_context
from askpro.booking.gateway import CalendarGateway
from askpro.booking.outcomes import BookingResult, Outcome
from askpro.booking.records import Actor, history, is_overlap_violation, view
from askpro.booking.service import (
    HOLD_MINUTES,
    BookRequest,
    _insert,
    _with_alternatives,
    expire_holds,
    precheck,
    release_call_holds,
)
from askpro.db import Database
from askpro.kit.time import utc_now
from askpro.models import Appointment


async def hold(
    database: Database,
    request: BookRequest,
    *,
    gateway: CalendarGateway | None,
    now: dt.datetime | None = None,
    hold_minutes: int = HOLD_MINUTES,
) -> BookingResult:
    """Hold ``request.start`` for the call while the caller confirms (``available``).

    A call holds at most one slot: a new hold releases its earlier ones. Holding the same
    slot again extends the hold.
    """
    now = now or utc_now()
    start = request.start.astimezone(dt.UTC)
    if request.call_row_id is None:
        raise ValueError("a hold belongs to a call")
    async with database.sessions() as session:
        try:
            context = await load_context(
                session,
                request.company_id,
                request.service_id,
                branch_id=request.branch_id,
                staff_id=request.staff_id,
            )
        except ContextError as error:
            return BookingResult(Outcome.NOT_FOUND, reason=str(error))
    early = await precheck(context, gateway, start, now)
    if early is not None:
        return await _with_alternatives(database, context, gateway, early, start, now, request)

    async def work(session: AsyncSession) -> BookingResult:
        await locks.lock_staff(session, request.company_id, context.staff_ids)
        await expire_holds(session, context.staff_ids, now)
        existing = (
            await session.execute(
                select(Appointment).where(
                    Appointment.call_id == request.call_row_id,
                    Appointment.status == "held",
                    Appointment.starts_at == start,
                    Appointment.service_id == context.service.id,
                    Appointment.staff_id.in_(context.staff_ids),
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            existing.hold_expires_at = now + dt.timedelta(minutes=hold_minutes)
            await release_call_holds(session, request.call_row_id or 0, keep=existing.id)
            await session.flush()
            return BookingResult(
                Outcome.AVAILABLE, context.time_zone, await view(session, existing)
            )
        await release_call_holds(session, request.call_row_id or 0)
        held = await _insert(
            session,
            request,
            context,
            start,
            now,
            "not_required",
            status="held",
            hold_minutes=hold_minutes,
        )
        if held is None:
            return BookingResult(Outcome.SLOT_TAKEN, context.time_zone)
        session.add(history(held, "held", Actor(request.actor, request.channel), start=start))
        await session.flush()
        return BookingResult(Outcome.AVAILABLE, context.time_zone, await view(session, held))

    result = await database.unit_of_work(work, name="booking.hold")
    if result.outcome is Outcome.SLOT_TAKEN:
        return await _with_alternatives(database, context, gateway, result, start, now, request)
    return result


@dataclass(frozen=True)
class ChangeRequest:
    company_id: int
    appointment_id: int
    actor: str = "system"
    channel: str = "api"
    # Only for the agent: the appointment must belong to this customer.
    customer_id: int | None = None
    reason: str | None = None


async def _load_for_change(session: AsyncSession, change: ChangeRequest) -> Appointment | None:
    appointment = (
        await session.execute(
            select(Appointment).where(
                Appointment.company_id == change.company_id,
                Appointment.id == change.appointment_id,
            )
        )
    ).scalar_one_or_none()
    if appointment is None or appointment.status == "held":
        return None
    if change.customer_id is not None and appointment.customer_id != change.customer_id:
        return None
    return appointment


async def cancel(
    database: Database,
    change: ChangeRequest,
    *,
    gateway: CalendarGateway | None,
    sync_budget_seconds: float = sync.DEFAULT_BUDGET_SECONDS,
) -> BookingResult:
    """Cancel an appointment; cancelling a cancelled one again is a success."""

    async def work(session: AsyncSession) -> tuple[BookingResult, bool]:
        appointment = await _load_for_change(session, change)
        if appointment is None:
            return BookingResult(Outcome.NOT_FOUND), False
        await locks.lock_staff(session, change.company_id, [appointment.staff_id])
        await session.refresh(appointment, with_for_update=True)
        zone = (await load_context(session, change.company_id, appointment.service_id)).time_zone
        if appointment.status != "booked":
            result = BookingResult(Outcome.CANCELLED, zone, await view(session, appointment))
            result.replayed = True
            return result, False
        appointment.status = "cancelled"
        appointment.cancellation_reason = change.reason or "cancelled_by_customer"
        pending = appointment.calcom_booking_uid is not None
        if pending:
            appointment.calcom_sync_state = "pending"
            await sync.defer(session, appointment.id, delay_seconds=sync_budget_seconds + 2)
        elif appointment.calcom_sync_state == "pending":
            appointment.calcom_sync_state = "not_required"  # never reached the calendar
        session.add(
            history(
                appointment,
                "cancelled",
                Actor(change.actor, change.channel),
                reason=appointment.cancellation_reason,
            )
        )
        await session.flush()
        return BookingResult(Outcome.CANCELLED, zone, await view(session, appointment)), pending

    result, pending = await database.unit_of_work(work, name="booking.cancel")
    if pending and gateway is not None and result.appointment is not None:
        await sync.push_within_budget(database, gateway, result.appointment.id, sync_budget_seconds)
    return result


async def reschedule(
    database: Database,
    change: ChangeRequest,
    new_start: dt.datetime,
    *,
    gateway: CalendarGateway | None,
    now: dt.datetime | None = None,
    call_row_id: int | None = None,
    sync_budget_seconds: float = sync.DEFAULT_BUDGET_SECONDS,
) -> BookingResult:
    """Move an appointment atomically: the new range is checked under the constraint and
    the old one released in the same transaction (same row, new times)."""
    now = now or utc_now()
    new_start = new_start.astimezone(dt.UTC)
    async with database.sessions() as session:
        appointment = await _load_for_change(session, change)
        if appointment is None or appointment.status != "booked":
            return BookingResult(Outcome.NOT_FOUND)
        context = await load_context(
            session,
            change.company_id,
            appointment.service_id,
            branch_id=appointment.branch_id,
            staff_id=appointment.staff_id,
        )
    request = BookRequest(
        company_id=change.company_id,
        service_id=appointment.service_id,
        start=new_start,
        call_row_id=call_row_id,
    )
    early = await precheck(context, gateway, new_start, now)
    if early is not None:
        return await _with_alternatives(database, context, gateway, early, new_start, now, request)

    async def work(session: AsyncSession) -> BookingResult:
        await locks.lock_staff(session, change.company_id, [appointment.staff_id])
        await expire_holds(session, [appointment.staff_id], now)
        row = await _load_for_change(session, change)
        if row is None or row.status != "booked":
            return BookingResult(Outcome.NOT_FOUND, context.time_zone)
        blocks_from, ends_at, blocks_until = context.blocked_range(new_start)
        busy = await busy_ranges(
            session,
            [row.staff_id],
            blocks_from,
            blocks_until,
            now=now,
            ignore_call_id=call_row_id,
            ignore_appointment_id=row.id,
        )
        if busy:
            return BookingResult(Outcome.SLOT_TAKEN, context.time_zone)
        if call_row_id is not None:
            await release_call_holds(session, call_row_id)
        old_start = row.starts_at
        try:
            async with session.begin_nested():
                row.starts_at, row.ends_at = new_start, ends_at
                row.blocks_from, row.blocks_until = blocks_from, blocks_until
                if row.calcom_booking_uid is not None:
                    row.calcom_sync_state = "pending"
                await session.flush()
        except IntegrityError as error:
            if not is_overlap_violation(error):
                raise
            await session.refresh(row)
            return BookingResult(Outcome.SLOT_TAKEN, context.time_zone)
        session.add(
            history(
                row,
                "rescheduled",
                Actor(change.actor, change.channel),
                start={"from": old_start.isoformat(), "to": new_start.isoformat()},
            )
        )
        if row.calcom_sync_state == "pending":
            await sync.defer(session, row.id, delay_seconds=sync_budget_seconds + 2)
        await session.flush()
        return BookingResult(Outcome.RESCHEDULED, context.time_zone, await view(session, row))

    result = await database.unit_of_work(work, name="booking.reschedule")
    if result.outcome is Outcome.SLOT_TAKEN:
        return await _with_alternatives(database, context, gateway, result, new_start, now, request)
    if (
        result.outcome is Outcome.RESCHEDULED
        and gateway is not None
        and result.appointment is not None
        and result.appointment.calcom_sync_state == "pending"
    ):
        pushed = await sync.push_within_budget(
            database, gateway, result.appointment.id, sync_budget_seconds
        )
        async with database.sessions() as session:
            row = await session.get(Appointment, result.appointment.id)
            assert row is not None
            result.appointment = await view(session, row)
        if pushed is sync.SyncOutcome.CONFLICT:
            result.outcome, result.reason = Outcome.SLOT_TAKEN, "calcom_conflict"
            return await _with_alternatives(
                database, context, gateway, result, new_start, now, request
            )
        if pushed is not sync.SyncOutcome.SYNCED:
            result.reason = "confirmation_pending"
    return result
