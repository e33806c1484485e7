"""Book and hold: each one unit of work under per-staff advisory locks.

The exclusion constraint on the buffered range is the guarantee against double booking;
the advisory lock per (company, staff) serialises bookings of one staff member so the
check-then-insert inside the lock is exact and a losing request can be told so politely.
A booking goes to a member whose calendar offers the time and who is free locally, the
least booked that day first (then the lowest id), and is pushed to that member's event
type. Every change writes an ``appointment_events`` row in the same transaction; the
Cal.com sync is an outbox (see :mod:`askpro.booking.service._sync`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import locks, repository
from askpro.booking.gateway import CalendarGateway
from askpro.booking.schemas import (
    AppointmentSource,
    AppointmentStatus,
    BookingResult,
    HistoryKind,
    Outcome,
    Rule,
    Slot,
    SyncState,
)
from askpro.booking.service import _sync
from askpro.booking.service._availability import alternatives, free_at, verdict
from askpro.booking.service._context import (
    BookingContext,
    ContextError,
    day_window,
    load_context,
    uses_calendar,
)
from askpro.db import Database
from askpro.kit.time import utc_now
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
    source: AppointmentSource = AppointmentSource.API
    actor: str = "system"
    channel: str = "api"


async def _context_of(database: Database, request: BookRequest) -> BookingContext | BookingResult:
    async with database.sessions() as session:
        try:
            return await load_context(
                session,
                request.company_id,
                request.service_id,
                branch_id=request.branch_id,
                staff_id=request.staff_id,
            )
        except ContextError as error:
            return BookingResult(Outcome.NOT_FOUND, reason=str(error))


async def with_alternatives(
    database: Database,
    context: BookingContext,
    gateway: CalendarGateway | None,
    result: BookingResult,
    start: dt.datetime,
    now: dt.datetime,
    call_row_id: int | None,
) -> BookingResult:
    if result.outcome in (Outcome.SLOT_TAKEN, Outcome.TOO_SOON, Outcome.OUTSIDE_HOURS):
        async with database.sessions() as session:
            result.alternatives = await alternatives(
                session, context, gateway, start, now=now, ignore_call_id=call_row_id
            )
    return result


async def check_time(
    database: Database,
    request: BookRequest,
    *,
    gateway: CalendarGateway | None,
    now: dt.datetime | None = None,
    context: BookingContext | None = None,
) -> BookingResult:
    """Is ``request.start`` bookable now (calendar and local book)? Writes nothing."""
    now = now or utc_now()
    start = request.start.astimezone(dt.UTC)
    loaded = context or await _context_of(database, request)
    if isinstance(loaded, BookingResult):
        return loaded
    offered = await verdict(loaded, gateway, start, now)
    if isinstance(offered, BookingResult):
        return await with_alternatives(
            database, loaded, gateway, offered, start, now, request.call_row_id
        )
    blocks_from, ends, blocks_until = loaded.blocked_range(start)
    async with database.sessions() as session:
        busy = await repository.busy_ranges(
            session, offered, blocks_from, blocks_until, now=now, ignore_call_id=request.call_row_id
        )
    free = free_at(loaded, start, offered, busy)
    if not free:
        taken = BookingResult(Outcome.SLOT_TAKEN, loaded.time_zone, reason=Rule.STAFF_BOOKED)
        return await with_alternatives(
            database, loaded, gateway, taken, start, now, request.call_row_id
        )
    result = BookingResult(Outcome.AVAILABLE, loaded.time_zone)
    result.alternatives = [Slot(start, ends, free)]
    return result


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
    context = await _context_of(database, request)
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


async def _least_booked_first(
    session: AsyncSession, context: BookingContext, staff_ids: list[int], start: dt.datetime
) -> list[int]:
    """Spread the day's bookings: the member with the fewest that day first, then by id."""
    if len(staff_ids) < 2:
        return staff_ids
    day_start, day_end = day_window(start, context.time_zone)
    counts = await repository.booked_counts(session, staff_ids, day_start, day_end)
    return sorted(staff_ids, key=lambda staff_id: (counts.get(staff_id, 0), staff_id))


async def insert(
    session: AsyncSession,
    request: BookRequest,
    context: BookingContext,
    gateway: CalendarGateway | None,
    offered: list[int],
    start: dt.datetime,
    now: dt.datetime,
    status: AppointmentStatus,
    *,
    hold_minutes: int = HOLD_MINUTES,
) -> Appointment | None:
    """Insert for a member in ``offered`` who is free locally; ``None`` if nobody is."""
    blocks_from, ends_at, blocks_until = context.blocked_range(start)
    busy = await repository.busy_ranges(
        session, offered, blocks_from, blocks_until, now=now, ignore_call_id=request.call_row_id
    )
    if request.call_row_id is not None and status == AppointmentStatus.BOOKED:
        # The call's own holds may overlap this booking; they are superseded now.
        await repository.release_call_holds(session, request.call_row_id)
    free = [staff_id for staff_id in offered if not busy.get(staff_id)]
    for staff_id in await _least_booked_first(session, context, free, start):
        held = status == AppointmentStatus.HELD
        sync_state = (
            SyncState.PENDING
            if not held and uses_calendar(context, staff_id, gateway)
            else SyncState.NOT_REQUIRED
        )
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
            hold_expires_at=now + dt.timedelta(minutes=hold_minutes) if held else None,
            calcom_sync_state=sync_state,
            idempotency_key=None if held else request.idempotency_key,
            source=request.source,
            notes=request.notes,
        )
        try:
            async with session.begin_nested():
                session.add(appointment)
                await session.flush()
        except IntegrityError as error:
            if not repository.is_overlap_violation(error):
                raise
            # Someone who did not take our lock (a calendar webhook) got there first.
            log.info("booking.overlap_rejected", staff_id=staff_id, start=start.isoformat())
            continue
        return appointment
    return None


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
    call_row_id = request.call_row_id
    if call_row_id is None:
        raise ValueError("a hold belongs to a call")
    context = await _context_of(database, request)
    if isinstance(context, BookingResult):
        return context
    offered = await verdict(context, gateway, start, now)
    if isinstance(offered, BookingResult):
        return await with_alternatives(database, context, gateway, offered, start, now, call_row_id)

    async def work(session: AsyncSession) -> BookingResult:
        await locks.lock_staff(session, request.company_id, offered)
        await repository.expire_holds(session, offered, now)
        existing = await repository.own_hold(
            session, call_row_id, context.service.id, start, offered, now
        )
        if existing is not None:
            existing.hold_expires_at = now + dt.timedelta(minutes=hold_minutes)
            await repository.release_call_holds(session, call_row_id, keep=existing.id)
            await session.flush()
            view = await repository.view(session, existing)
            return BookingResult(Outcome.AVAILABLE, context.time_zone, view)
        await repository.release_call_holds(session, call_row_id)
        held = await insert(
            session,
            request,
            context,
            gateway,
            offered,
            start,
            now,
            AppointmentStatus.HELD,
            hold_minutes=hold_minutes,
        )
        if held is None:
            return BookingResult(Outcome.SLOT_TAKEN, context.time_zone, reason=Rule.STAFF_BOOKED)
        session.add(
            repository.history(held, HistoryKind.HELD, request.actor, request.channel, start=start)
        )
        await session.flush()
        return BookingResult(
            Outcome.AVAILABLE, context.time_zone, await repository.view(session, held)
        )

    result = await database.unit_of_work(work, name="booking.hold")
    if result.outcome is Outcome.SLOT_TAKEN:
        return await with_alternatives(database, context, gateway, result, start, now, call_row_id)
    return result
