"""Book, hold, reschedule and cancel: each one unit of work under per-staff advisory locks.

The exclusion constraint on the buffered range is the guarantee against double booking;
the advisory lock per (company, staff) serialises bookings of one staff member so the
check-then-insert inside the lock is exact and a losing request can be told so politely.
Every change writes an ``appointment_events`` row in the same transaction. The Cal.com
sync is an outbox: the job is deferred inside the booking transaction and also tried once
right after the commit, within a budget (see :mod:`askpro.booking.sync`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import locks, sync
from askpro.booking.availability import (
    BookingContext,
    ContextError,
    alternatives,
    busy_ranges,
    calendar_starts,
    earliest_start,
    latest_start,
    load_context,
)
from askpro.booking.gateway import CalendarGateway, CalendarUnavailable
from askpro.booking.outcomes import BookingResult, Outcome
from askpro.booking.records import Actor, history, is_overlap_violation, view
from askpro.db import Database
from askpro.kit.time import utc_now, zone
from askpro.models import Appointment
from askpro.observability import get_logger

log = get_logger(__name__)

HOLD_MINUTES = 5

# Test seam for fault injection: called inside the booking transaction after the
# appointment row is flushed and before its history row is written.
after_insert_hook: Callable[[Appointment], Awaitable[None]] | None = None


@dataclass(frozen=True)
class BookRequest:
    company_id: int
    service_id: int
    start: dt.datetime
    branch_id: int | None = None
    staff_id: int | None = None
    customer_id: int | None = None
    call_row_id: int | None = None
    idempotency_key: str | None = None
    notes: str | None = None
    source: str = "api"  # phone | api
    actor: str = "system"
    channel: str = "api"


async def expire_holds(session: AsyncSession, staff_ids: list[int], now: dt.datetime) -> int:
    """Expired holds never block: turn them into cancelled rows before deciding anything."""
    result = await session.execute(
        update(Appointment)
        .where(
            Appointment.staff_id.in_(staff_ids),
            Appointment.status == "held",
            Appointment.hold_expires_at <= now,
        )
        .values(status="cancelled", cancellation_reason="hold_expired")
        .returning(Appointment.id)
    )
    return len(result.all())


async def release_call_holds(
    session: AsyncSession, call_row_id: int, *, keep: int | None = None
) -> None:
    query = update(Appointment).where(
        Appointment.call_id == call_row_id, Appointment.status == "held"
    )
    if keep is not None:
        query = query.where(Appointment.id != keep)
    await session.execute(query.values(status="cancelled", cancellation_reason="hold_released"))


def sync_state_for(context: BookingContext, gateway: CalendarGateway | None) -> str:
    if gateway is None or context.service.calcom_event_type_id is None:
        return "not_required"
    return "pending"


async def precheck(
    context: BookingContext,
    gateway: CalendarGateway | None,
    start: dt.datetime,
    now: dt.datetime,
) -> BookingResult | None:
    """Notice, horizon and opening hours: answers that need no lock."""
    if start < earliest_start(context, now):
        return BookingResult(Outcome.TOO_SOON, context.time_zone)
    if start > latest_start(context, now):
        return BookingResult(Outcome.OUTSIDE_HOURS, context.time_zone, reason="beyond_horizon")
    tz = zone(context.time_zone)
    local_day = start.astimezone(tz).date()
    day_start = dt.datetime.combine(local_day, dt.time(0), tz).astimezone(dt.UTC)
    day_end = dt.datetime.combine(local_day + dt.timedelta(days=1), dt.time(0), tz).astimezone(
        dt.UTC
    )
    try:
        starts = await calendar_starts(context, gateway, day_start, day_end)
    except CalendarUnavailable:
        return None  # book locally; the sync tells us later if the calendar disagrees
    if start in starts:
        return None
    if starts and starts[0] <= start <= starts[-1]:
        return BookingResult(Outcome.SLOT_TAKEN, context.time_zone, reason="not_offered")
    return BookingResult(Outcome.OUTSIDE_HOURS, context.time_zone)


async def book(
    database: Database,
    request: BookRequest,
    *,
    gateway: CalendarGateway | None,
    now: dt.datetime | None = None,
    sync_budget_seconds: float = sync.DEFAULT_BUDGET_SECONDS,
) -> BookingResult:
    """Book ``request.start`` once. A repeat with the same idempotency key returns the first
    booking; a lost race answers ``slot_taken`` with up to 3 alternatives."""
    now = now or utc_now()
    start = request.start.astimezone(dt.UTC)
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
        if request.idempotency_key:
            replay = await _replay(session, request)
            if replay is not None:
                return replay
        early = await precheck(context, gateway, start, now)
    if early is not None:
        return await _with_alternatives(database, context, gateway, early, start, now, request)
    actor = Actor(request.actor, request.channel)
    sync_state = sync_state_for(context, gateway)

    async def work(session: AsyncSession) -> tuple[BookingResult, int | None]:
        if request.idempotency_key:
            await locks.lock(session, "idempotency", request.company_id, request.idempotency_key)
            replay = await _replay(session, request)
            if replay is not None:
                return replay, None
        staff_ids = context.staff_ids
        await locks.lock_staff(session, request.company_id, staff_ids)
        await expire_holds(session, staff_ids, now)
        appointment = await _convert_own_hold(session, request, context, start, now, sync_state)
        if appointment is None:
            appointment = await _insert(session, request, context, start, now, sync_state)
            kind = "booked"
        else:
            kind = "booked_from_hold"
        if appointment is None:
            return BookingResult(Outcome.SLOT_TAKEN, context.time_zone), None
        if request.call_row_id is not None:
            await release_call_holds(session, request.call_row_id, keep=appointment.id)
        if after_insert_hook is not None:
            await after_insert_hook(appointment)
        session.add(
            history(
                appointment,
                kind,
                actor,
                start=appointment.starts_at,
                staff_id=appointment.staff_id,
                service_id=appointment.service_id,
                customer_id=appointment.customer_id,
            )
        )
        if appointment.calcom_sync_state == "pending":
            await sync.defer(session, appointment.id, delay_seconds=sync_budget_seconds + 2)
        await session.flush()
        return BookingResult(
            Outcome.BOOKED, context.time_zone, await view(session, appointment)
        ), appointment.id

    result, appointment_id = await database.unit_of_work(work, name="booking.book")
    if result.outcome is Outcome.SLOT_TAKEN:
        return await _with_alternatives(database, context, gateway, result, start, now, request)
    if appointment_id is None or gateway is None or sync_state != "pending":
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
    pushed = await sync.push_within_budget(database, gateway, appointment_id, budget)
    async with database.sessions() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        result.appointment = await view(session, appointment)
    if pushed is sync.SyncOutcome.CONFLICT:
        conflict = BookingResult(
            Outcome.SLOT_TAKEN, context.time_zone, result.appointment, reason="calcom_conflict"
        )
        return await _with_alternatives(
            database, context, gateway, conflict, request.start, now, request
        )
    if pushed is sync.SyncOutcome.LINKED:
        result.outcome = Outcome.ALREADY_BOOKED
        result.reason = "calcom_existing"
    elif pushed is not sync.SyncOutcome.SYNCED:
        result.outcome = Outcome.PENDING_CONFIRMATION
    return result


async def _with_alternatives(
    database: Database,
    context: BookingContext,
    gateway: CalendarGateway | None,
    result: BookingResult,
    start: dt.datetime,
    now: dt.datetime,
    request: BookRequest,
) -> BookingResult:
    if result.outcome in (Outcome.SLOT_TAKEN, Outcome.TOO_SOON, Outcome.OUTSIDE_HOURS):
        async with database.sessions() as session:
            result.alternatives = await alternatives(
                session, context, gateway, start, now=now, ignore_call_id=request.call_row_id
            )
    return result


async def _replay(session: AsyncSession, request: BookRequest) -> BookingResult | None:
    existing = (
        await session.execute(
            select(Appointment).where(
                Appointment.company_id == request.company_id,
                Appointment.idempotency_key == request.idempotency_key,
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        return None
    outcome = Outcome.BOOKED if existing.status == "booked" else Outcome.CANCELLED
    if existing.status == "booked" and existing.calcom_sync_state == "pending":
        outcome = Outcome.PENDING_CONFIRMATION
    context_zone = await _zone_of(session, existing)
    return BookingResult(outcome, context_zone, await view(session, existing), replayed=True)


async def _zone_of(session: AsyncSession, appointment: Appointment) -> str:
    context = await load_context(
        session, appointment.company_id, appointment.service_id, branch_id=appointment.branch_id
    )
    return context.time_zone


async def _convert_own_hold(
    session: AsyncSession,
    request: BookRequest,
    context: BookingContext,
    start: dt.datetime,
    now: dt.datetime,
    sync_state: str,
) -> Appointment | None:
    if request.call_row_id is None:
        return None
    held = (
        await session.execute(
            select(Appointment)
            .where(
                Appointment.call_id == request.call_row_id,
                Appointment.status == "held",
                Appointment.service_id == context.service.id,
                Appointment.starts_at == start,
                Appointment.staff_id.in_(context.staff_ids),
                Appointment.hold_expires_at > now,
            )
            .with_for_update()
            .limit(1)
        )
    ).scalar_one_or_none()
    if held is None:
        return None
    held.status = "booked"
    held.hold_expires_at = None
    held.customer_id = request.customer_id or held.customer_id
    held.idempotency_key = request.idempotency_key
    held.notes = request.notes
    held.calcom_sync_state = sync_state  # a hold never syncs; its booking does
    await session.flush()
    return held


async def _insert(
    session: AsyncSession,
    request: BookRequest,
    context: BookingContext,
    start: dt.datetime,
    now: dt.datetime,
    sync_state: str,
    *,
    status: str = "booked",
    hold_minutes: int = HOLD_MINUTES,
) -> Appointment | None:
    """Insert into the first candidate staff member who is free; ``None`` if nobody is."""
    blocks_from, ends_at, blocks_until = context.blocked_range(start)
    busy = await busy_ranges(
        session,
        context.staff_ids,
        blocks_from,
        blocks_until,
        now=now,
        ignore_call_id=request.call_row_id,
    )
    if request.call_row_id is not None and status == "booked":
        # The call's own holds may overlap this booking; they are superseded now.
        await release_call_holds(session, request.call_row_id)
    for staff_id in context.staff_ids:
        if busy.get(staff_id):
            continue
        appointment = Appointment(
            company_id=request.company_id,
            branch_id=context.branch.id if context.branch else request.branch_id,
            staff_id=staff_id,
            service_id=context.service.id,
            customer_id=request.customer_id,
            call_id=request.call_row_id,
            starts_at=start,
            ends_at=ends_at,
            blocks_from=blocks_from,
            blocks_until=blocks_until,
            status=status,
            hold_expires_at=now + dt.timedelta(minutes=hold_minutes) if status == "held" else None,
            calcom_sync_state="not_required" if status == "held" else sync_state,
            idempotency_key=request.idempotency_key if status == "booked" else None,
            source=request.source,
            notes=request.notes,
        )
        try:
            async with session.begin_nested():
                session.add(appointment)
                await session.flush()
        except IntegrityError as error:
            if not is_overlap_violation(error):
                raise
            # Someone who did not take our lock (a calendar webhook) got there first.
            log.info("booking.overlap_rejected", staff_id=staff_id, start=start.isoformat())
            continue
        return appointment
    return None
