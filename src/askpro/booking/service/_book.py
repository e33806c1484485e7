"""Book and hold (in ``_hold``): each one unit of work under per-staff advisory locks.

The exclusion constraint on the buffered range is the guarantee against double booking;
the advisory lock per (company, staff) serialises bookings of one staff member so the
check-then-insert inside the lock is exact and a losing request can be told so politely.
A booking goes to a member whose calendar offers the time and who is free locally, the
least booked that day first (then the lowest id; the insert hold and book share is in
``_hold``), and is pushed to that member's event type. Every change writes an
``appointment_events`` row in the same transaction; the Cal.com sync is an outbox (see
:mod:`askpro.booking.service._sync`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

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
from askpro.booking.service._check import BookRequest, context_of, with_alternatives
from askpro.booking.service._context import BookingContext, uses_calendar
from askpro.booking.service._hold import insert
from askpro.db import Database
from askpro.kit.time import utc_now
from askpro.models import Appointment

# Test seam for fault injection: called inside the booking transaction after the
# appointment row is flushed and before its history row is written.
after_insert_hook: Callable[[Appointment], Awaitable[None]] | None = None


async def book(
    database: Database,
    request: BookRequest,
    *,
    gateway: CalendarGateway | None,
    now: dt.datetime | None = None,
    sync_budget_seconds: float = _sync.DEFAULT_BUDGET_SECONDS,
) -> BookingResult:
    """Book ``request.start`` once. A repeat with the same idempotency key returns the first
    booking; a lost race answers ``slot_taken`` with up to 3 alternatives."""
    now = now or utc_now()
    start = request.start.astimezone(dt.UTC)
    context = await context_of(database, request)
    if isinstance(context, BookingResult):
        return context
    if request.idempotency_key:
        async with database.sessions() as session:
            replay = await _replay(session, request, context)
        if replay is not None:
            return replay
    offered = await verdict(context, gateway, start, now)
    if isinstance(offered, BookingResult):
        return await with_alternatives(
            database, context, gateway, offered, start, now, request.call_row_id
        )

    async def work(session: AsyncSession) -> tuple[BookingResult, int | None]:
        if request.idempotency_key:
            await locks.lock(session, "idempotency", request.company_id, request.idempotency_key)
            replay = await _replay(session, request, context)
            if replay is not None:
                return replay, None
        await locks.lock_staff(session, request.company_id, offered)
        await repository.expire_holds(session, offered, now)
        appointment = await _convert_own_hold(
            session, request, context, gateway, offered, start, now
        )
        kind = HistoryKind.BOOKED_FROM_HOLD
        if appointment is None:
            appointment = await insert(
                session, request, context, gateway, offered, start, now, AppointmentStatus.BOOKED
            )
            kind = HistoryKind.BOOKED
        if appointment is None:
            return BookingResult(
                Outcome.SLOT_TAKEN, context.time_zone, reason=Rule.STAFF_BOOKED
            ), None
        if request.call_row_id is not None:
            await repository.release_call_holds(session, request.call_row_id, keep=appointment.id)
        if after_insert_hook is not None:
            await after_insert_hook(appointment)
        session.add(
            repository.history(
                appointment,
                kind,
                request.actor,
                request.channel,
                start=appointment.starts_at,
                staff_id=appointment.staff_id,
                service_id=appointment.service_id,
                customer_id=appointment.customer_id,
            )
        )
        if appointment.calcom_sync_state == SyncState.PENDING:
            await _sync.defer(session, appointment.id, delay_seconds=sync_budget_seconds + 2)
        await session.flush()
        booked = BookingResult(
            Outcome.BOOKED, context.time_zone, await repository.view(session, appointment)
        )
        return booked, appointment.id

    result, appointment_id = await database.unit_of_work(work, name="booking.book")
    if result.outcome is Outcome.SLOT_TAKEN:
        return await with_alternatives(
            database, context, gateway, result, start, now, request.call_row_id
        )
    if (
        appointment_id is None
        or gateway is None
        or result.appointment is None
        or result.appointment.calcom_sync_state != SyncState.PENDING
    ):
        return result
    return await _after_sync(
        database, context, gateway, result, appointment_id, now, request, sync_budget_seconds
    )


async def _after_sync(
    database: Database,
    context: BookingContext,
    gateway: CalendarGateway,
    result: BookingResult,
    appointment_id: int,
    now: dt.datetime,
    request: BookRequest,
    budget: float,
) -> BookingResult:
    """Push to the calendar within the budget; turn its verdict into the caller's outcome."""
    pushed = await _sync.push_within_budget(database, gateway, appointment_id, budget)
    async with database.sessions() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        result.appointment = await repository.view(session, appointment)
    if pushed is _sync.SyncOutcome.CONFLICT:
        conflict = BookingResult(
            Outcome.SLOT_TAKEN, context.time_zone, result.appointment, reason=Rule.CALCOM_CONFLICT
        )
        return await with_alternatives(
            database, context, gateway, conflict, request.start, now, request.call_row_id
        )
    if pushed is _sync.SyncOutcome.LINKED:
        result.outcome = Outcome.ALREADY_BOOKED
        result.reason = Rule.CALCOM_EXISTING
    elif pushed is not _sync.SyncOutcome.SYNCED:
        result.outcome = Outcome.PENDING_CONFIRMATION
    return result


async def _replay(
    session: AsyncSession, request: BookRequest, context: BookingContext
) -> BookingResult | None:
    assert request.idempotency_key is not None
    existing = await repository.by_idempotency_key(
        session, request.company_id, request.idempotency_key
    )
    if existing is None:
        return None
    booked = existing.status == AppointmentStatus.BOOKED
    outcome = Outcome.BOOKED if booked else Outcome.CANCELLED
    if booked and existing.calcom_sync_state == SyncState.PENDING:
        outcome = Outcome.PENDING_CONFIRMATION
    view = await repository.view(session, existing)
    return BookingResult(outcome, context.time_zone, view, replayed=True)


async def _convert_own_hold(
    session: AsyncSession,
    request: BookRequest,
    context: BookingContext,
    gateway: CalendarGateway | None,
    offered: list[int],
    start: dt.datetime,
    now: dt.datetime,
) -> Appointment | None:
    if request.call_row_id is None:
        return None
    held = await repository.own_hold(
        session, request.call_row_id, context.service.id, start, offered, now
    )
    if held is None:
        return None
    held.status = AppointmentStatus.BOOKED
    held.hold_expires_at = None
    held.customer_id = request.customer_id or held.customer_id
    held.idempotency_key = request.idempotency_key
    held.notes = request.notes
    # A hold never syncs; its booking does.
    held.calcom_sync_state = (
        SyncState.PENDING
        if uses_calendar(context, held.staff_id, gateway)
        else SyncState.NOT_REQUIRED
    )
    await session.flush()
    return held
