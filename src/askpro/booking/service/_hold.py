"""Hold, and the one insert of a new appointment that hold and book share.

The insert goes to a member whose calendar offers the time and who is free locally, the
least booked that day first (then the lowest id); when someone who did not take the lock
got there first, the exclusion constraint rejects it and the next member is tried. A hold
lasts ``HOLD_MINUTES`` and never syncs to Cal.com; its booking (``_book``) does.
"""

from __future__ import annotations

import datetime as dt

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
from askpro.booking.service._availability import verdict
from askpro.booking.service._check import BookRequest, context_of, with_alternatives
from askpro.booking.service._context import BookingContext, day_window, uses_calendar
from askpro.db import Database
from askpro.kit.time import utc_now
from askpro.models import Appointment
from askpro.observability import get_logger

log = get_logger(__name__)

HOLD_MINUTES = 5


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
    context = await context_of(database, request)
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
