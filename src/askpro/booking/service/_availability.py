"""Free times per staff member, and the truthful verdict on one asked-for time.

Free times = for each qualified staff member, that member's calendar (their Cal.com event
type's slots through the cached client, one read per distinct event type, all at once; or
the local opening hours) minus the member's live local appointments, buffers included.
A start is offered when at least one member (or the one asked for) is free then.

The verdict on one time (:func:`verdict`) says which rule decided: too soon, beyond the
horizon, nobody works then (``outside_hours``: their Cal.com schedules, else the local
opening hours), or everyone who works then is busy (``slot_taken``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import repository
from askpro.booking.gateway import (
    CalendarGateway,
    CalendarRejected,
    CalendarUnavailable,
    OpeningHours,
)
from askpro.booking.schemas import BookingResult, Outcome, Rule, Slot
from askpro.booking.service._context import BookingContext, day_window
from askpro.observability import get_logger

log = get_logger(__name__)
DEFAULT_HOURS = OpeningHours()
StartsByStaff = dict[int, list[dt.datetime]]


async def calendar_starts(
    context: BookingContext,
    gateway: CalendarGateway | None,
    start: dt.datetime,
    end: dt.datetime,
) -> StartsByStaff:
    """Bookable starts in ``[start, end)`` per staff member (raises ``CalendarUnavailable``)."""
    duration = context.service.duration_minutes
    by_type: dict[int, list[int]] = {}
    local: list[int] = []
    for member in context.members:
        if gateway is None or member.event_type_id is None:
            local.append(member.staff.id)
        else:
            by_type.setdefault(member.event_type_id, []).append(member.staff.id)
    starts: StartsByStaff = {}
    if local:
        hours = DEFAULT_HOURS.slots(duration, start, end, context.time_zone)
        starts.update({staff_id: hours for staff_id in local})
    if by_type:
        assert gateway is not None
        event_types = list(by_type)
        fetched = await asyncio.gather(
            *(_slots_or_none(gateway, et, duration, start, end, context) for et in event_types)
        )
        for event_type_id, moments in zip(event_types, fetched, strict=True):
            utc = sorted({moment.astimezone(dt.UTC) for moment in moments})
            starts.update({staff_id: utc for staff_id in by_type[event_type_id]})
    return starts


async def _slots_or_none(
    gateway: CalendarGateway,
    event_type_id: int,
    duration: int,
    start: dt.datetime,
    end: dt.datetime,
    context: BookingContext,
) -> list[dt.datetime]:
    """One calendar refusing (an event type deleted in Cal.com) closes only its members;
    an unreachable calendar still raises ``CalendarUnavailable``."""
    try:
        return await gateway.slots(event_type_id, duration, start, end, context.time_zone)
    except CalendarRejected as error:
        log.error(
            "booking.calendar_rejected",
            company_id=context.company.id,
            event_type_id=event_type_id,
            error=str(error),
        )
        return []


async def working_staff(
    context: BookingContext,
    gateway: CalendarGateway | None,
    start: dt.datetime,
) -> list[int]:
    """Members who work at ``[start, start + duration)``: by their Cal.com schedule (the
    team's schedules when the company names its team), else by the local opening hours."""
    end = start + dt.timedelta(minutes=context.service.duration_minutes)
    schedules = {}
    if gateway is not None and any(m.event_type_id is not None for m in context.members):
        try:
            schedules = await gateway.working_hours(context.company.calcom_team_id)
        except CalendarUnavailable:
            schedules = {}
    fallback = DEFAULT_HOURS.working_hours(context.time_zone)
    working = []
    for member in context.members:
        user_id = member.staff.calcom_user_id
        hours = schedules.get(user_id, fallback) if user_id is not None else fallback
        if hours.covers(start, end):
            working.append(member.staff.id)
    return working


def free_at(
    context: BookingContext,
    moment: dt.datetime,
    staff_ids: Sequence[int],
    busy: Mapping[int, Sequence[tuple[dt.datetime, dt.datetime]]],
) -> tuple[int, ...]:
    blocks_from, _ends, blocks_until = context.blocked_range(moment)
    return tuple(
        staff_id
        for staff_id in staff_ids
        if not repository.overlaps(busy.get(staff_id, ()), blocks_from, blocks_until)
    )


async def subtract_local(
    session: AsyncSession,
    context: BookingContext,
    starts: StartsByStaff,
    *,
    now: dt.datetime,
    ignore_call_id: int | None = None,
    ignore_appointment_id: int | None = None,
    limit: int | None = None,
) -> list[Slot]:
    """Slots at the calendar starts where at least one member is free locally too."""
    moments = sorted({moment for staff_starts in starts.values() for moment in staff_starts})
    if not moments:
        return []
    busy = await repository.busy_ranges(
        session,
        list(starts),
        context.blocked_range(moments[0])[0],
        context.blocked_range(moments[-1])[2],
        now=now,
        ignore_call_id=ignore_call_id,
        ignore_appointment_id=ignore_appointment_id,
    )
    offered = {staff_id: set(staff_starts) for staff_id, staff_starts in starts.items()}
    slots: list[Slot] = []
    for moment in moments:
        candidates = [staff_id for staff_id in context.staff_ids if moment in offered[staff_id]]
        free = free_at(context, moment, candidates, busy)
        if free:
            slots.append(Slot(moment, context.blocked_range(moment)[1], free))
            if limit is not None and len(slots) >= limit:
                break
    return slots


async def free_slots(
    session: AsyncSession,
    context: BookingContext,
    gateway: CalendarGateway | None,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    ignore_call_id: int | None = None,
    ignore_appointment_id: int | None = None,
    limit: int | None = None,
) -> list[Slot]:
    """Free slots starting in ``[start, end)``, honouring notice and horizon."""
    start = max(start, context.earliest_start(now))
    end = min(end, context.latest_start(now))
    if start >= end or not context.members:
        return []
    starts = await calendar_starts(context, gateway, start, end)
    return await subtract_local(
        session,
        context,
        starts,
        now=now,
        ignore_call_id=ignore_call_id,
        ignore_appointment_id=ignore_appointment_id,
        limit=limit,
    )


def nearest(slots: Sequence[Slot], target: dt.datetime, count: int = 3) -> list[Slot]:
    """Up to ``count`` slots closest to ``target``, in time order."""
    chosen = sorted(slots, key=lambda slot: (abs(slot.start - target), slot.start))[:count]
    return sorted(chosen, key=lambda slot: slot.start)


async def alternatives(
    session: AsyncSession,
    context: BookingContext,
    gateway: CalendarGateway | None,
    target: dt.datetime,
    *,
    now: dt.datetime,
    ignore_call_id: int | None = None,
    count: int = 3,
) -> list[Slot]:
    """Free slots near ``target``: the same day first, then the next days. Never raises on
    an unreachable calendar (returns what it has: nothing)."""
    try:
        for days in (1, 3, 7):
            window = dt.timedelta(days=days)
            slots = await free_slots(
                session,
                context,
                gateway,
                target - window,
                target + window,
                now=now,
                ignore_call_id=ignore_call_id,
            )
            if slots:
                return nearest(slots, target, count)
    except CalendarUnavailable:
        return []
    return []


async def verdict(
    context: BookingContext,
    gateway: CalendarGateway | None,
    start: dt.datetime,
    now: dt.datetime,
) -> BookingResult | list[int]:
    """The members whose calendar offers ``start`` (all of them when the calendar cannot be
    reached: book locally, the sync tells later), or the refusal and the rule behind it."""
    if start < context.earliest_start(now):
        return BookingResult(Outcome.TOO_SOON, context.time_zone, reason=Rule.NOTICE)
    if start > context.latest_start(now):
        return BookingResult(Outcome.OUTSIDE_HOURS, context.time_zone, reason=Rule.HORIZON)
    day_start, day_end = day_window(start, context.time_zone)
    try:
        starts = await calendar_starts(context, gateway, day_start, day_end)
    except CalendarUnavailable:
        return context.staff_ids
    offered = [staff_id for staff_id in context.staff_ids if start in starts.get(staff_id, ())]
    if offered:
        return offered
    if await working_staff(context, gateway, start):
        return BookingResult(Outcome.SLOT_TAKEN, context.time_zone, reason=Rule.CALENDAR_BUSY)
    return BookingResult(Outcome.OUTSIDE_HOURS, context.time_zone, reason=Rule.NOBODY_WORKING)
