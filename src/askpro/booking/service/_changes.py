"""Reschedule and cancel: units of work under the same per-staff locks as booking."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import locks, repository
from askpro.booking.gateway import CalendarGateway
from askpro.booking.schemas import (
    AppointmentStatus,
    BookingResult,
    HistoryKind,
    Outcome,
    Rule,
    SyncState,
)
from askpro.booking.service import _sync
from askpro.booking.service._availability import verdict
from askpro.booking.service._check import with_alternatives
from askpro.booking.service._context import load_context
from askpro.db import Database
from askpro.kit.time import utc_now
from askpro.models import Appointment

DEFAULT_CANCEL_REASON = "cancelled_by_customer"


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
    appointment = await repository.get_appointment(
        session, change.company_id, change.appointment_id
    )
    if appointment is None or appointment.status == AppointmentStatus.HELD:
        return None
    if change.customer_id is not None and appointment.customer_id != change.customer_id:
        return None
    return appointment


async def cancel(
    database: Database,
    change: ChangeRequest,
    *,
    gateway: CalendarGateway | None,
    sync_budget_seconds: float = _sync.DEFAULT_BUDGET_SECONDS,
) -> BookingResult:
    """Cancel an appointment; cancelling a cancelled one again is a success."""

    async def work(session: AsyncSession) -> tuple[BookingResult, bool]:
        appointment = await _load_for_change(session, change)
        if appointment is None:
            return BookingResult(Outcome.NOT_FOUND), False
        await locks.lock_staff(session, change.company_id, [appointment.staff_id])
        await session.refresh(appointment, with_for_update=True)
        zone = (await load_context(session, change.company_id, appointment.service_id)).time_zone
        if appointment.status != AppointmentStatus.BOOKED:
            result = BookingResult(
                Outcome.CANCELLED, zone, await repository.view(session, appointment)
            )
            result.replayed = True
            return result, False
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancellation_reason = (change.reason or DEFAULT_CANCEL_REASON)[:200]
        pending = appointment.calcom_booking_uid is not None
        if pending:
            appointment.calcom_sync_state = SyncState.PENDING
            await _sync.defer(session, appointment.id, delay_seconds=sync_budget_seconds + 2)
        elif appointment.calcom_sync_state == SyncState.PENDING:
            appointment.calcom_sync_state = SyncState.NOT_REQUIRED  # never reached the calendar
        session.add(
            repository.history(
                appointment,
                HistoryKind.CANCELLED,
                change.actor,
                change.channel,
                reason=appointment.cancellation_reason,
            )
        )
        await session.flush()
        view = await repository.view(session, appointment)
        return BookingResult(Outcome.CANCELLED, zone, view), pending

    result, pending = await database.unit_of_work(work, name="booking.cancel")
    if pending and gateway is not None and result.appointment is not None:
        await _sync.push_within_budget(
            database, gateway, result.appointment.id, sync_budget_seconds
        )
    return result


async def reschedule(
    database: Database,
    change: ChangeRequest,
    new_start: dt.datetime,
    *,
    gateway: CalendarGateway | None,
    now: dt.datetime | None = None,
    call_row_id: int | None = None,
    sync_budget_seconds: float = _sync.DEFAULT_BUDGET_SECONDS,
) -> BookingResult:
    """Move an appointment atomically (same member): the new range is checked under the
    constraint and the old one released in the same transaction (same row, new times)."""
    now = now or utc_now()
    new_start = new_start.astimezone(dt.UTC)
    async with database.sessions() as session:
        appointment = await _load_for_change(session, change)
        if appointment is None or appointment.status != AppointmentStatus.BOOKED:
            return BookingResult(Outcome.NOT_FOUND)
        context = await load_context(
            session,
            change.company_id,
            appointment.service_id,
            branch_id=appointment.branch_id,
            staff_id=appointment.staff_id,
        )
    offered = await verdict(context, gateway, new_start, now)
    if isinstance(offered, BookingResult):
        return await with_alternatives(
            database, context, gateway, offered, new_start, now, call_row_id
        )

    async def work(session: AsyncSession) -> BookingResult:
        await locks.lock_staff(session, change.company_id, [appointment.staff_id])
        await repository.expire_holds(session, [appointment.staff_id], now)
        row = await _load_for_change(session, change)
        if row is None or row.status != AppointmentStatus.BOOKED:
            return BookingResult(Outcome.NOT_FOUND, context.time_zone)
        blocks_from, ends_at, blocks_until = context.blocked_range(new_start)
        busy = await repository.busy_ranges(
            session,
            [row.staff_id],
            blocks_from,
            blocks_until,
            now=now,
            ignore_call_id=call_row_id,
            ignore_appointment_id=row.id,
        )
        if busy:
            return BookingResult(Outcome.SLOT_TAKEN, context.time_zone, reason=Rule.STAFF_BOOKED)
        if call_row_id is not None:
            await repository.release_call_holds(session, call_row_id)
        old_start = row.starts_at
        try:
            async with session.begin_nested():
                row.starts_at, row.ends_at = new_start, ends_at
                row.blocks_from, row.blocks_until = blocks_from, blocks_until
                if row.calcom_booking_uid is not None:
                    row.calcom_sync_state = SyncState.PENDING
                await session.flush()
        except IntegrityError as error:
            if not repository.is_overlap_violation(error):
                raise
            await session.refresh(row)
            return BookingResult(Outcome.SLOT_TAKEN, context.time_zone, reason=Rule.STAFF_BOOKED)
        session.add(
            repository.history(
                row,
                HistoryKind.RESCHEDULED,
                change.actor,
                change.channel,
                start={"from": old_start.isoformat(), "to": new_start.isoformat()},
            )
        )
        if row.calcom_sync_state == SyncState.PENDING:
            await _sync.defer(session, row.id, delay_seconds=sync_budget_seconds + 2)
        await session.flush()
        return BookingResult(
            Outcome.RESCHEDULED, context.time_zone, await repository.view(session, row)
        )

    result = await database.unit_of_work(work, name="booking.reschedule")
    if result.outcome is Outcome.SLOT_TAKEN:
        return await with_alternatives(
            database, context, gateway, result, new_start, now, call_row_id
        )
    if (
        result.outcome is Outcome.RESCHEDULED
        and gateway is not None
        and result.appointment is not None
        and result.appointment.calcom_sync_state == SyncState.PENDING
    ):
        pushed = await _sync.push_within_budget(
            database, gateway, result.appointment.id, sync_budget_seconds
        )
        async with database.sessions() as session:
            row = await session.get(Appointment, result.appointment.id)
            assert row is not None
            result.appointment = await repository.view(session, row)
        if pushed is _sync.SyncOutcome.CONFLICT:
            result.outcome, result.reason = Outcome.SLOT_TAKEN, Rule.CALCOM_CONFLICT
            return await with_alternatives(
                database, context, gateway, result, new_start, now, call_row_id
            )
        if pushed is not _sync.SyncOutcome.SYNCED:
            result.reason = Rule.CONFIRMATION_PENDING
    return result
