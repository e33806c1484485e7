"""The ``check_availability`` tool: one time held (or checked) for the caller, or the free
times of a day or the coming week, spread over the day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from askpro.booking import service
from askpro.booking.gateway import CalendarUnavailable
from askpro.booking.schemas import BookingResult, Outcome, Rule, Slot
from askpro.booking.service import (
    BookingContext,
    ContextError,
    alternatives,
    calendar_starts,
    load_context,
    subtract_local,
)
from askpro.integrations.retell import messages, repository
from askpro.integrations.retell.context import ToolContext, answer, from_result, invalid
from askpro.integrations.retell.schemas import CheckAvailabilityArgs
from askpro.integrations.retell.tool_handlers._common import (
    NonexistentLocalTime,
    local_instant,
    nonexistent_time,
    phone_booking,
    resolve,
)
from askpro.kit.time import zone

PARTS_OF_DAY = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}


def _spread(slots: list[Slot], count: int = 3) -> list[Slot]:
    """Up to ``count`` options spread over the slots (early, middle, late)."""
    if len(slots) <= count:
        return slots
    step = (len(slots) - 1) / (count - 1)
    return [slots[round(index * step)] for index in range(count)]


async def check_availability(context: ToolContext, args: CheckAvailabilityArgs) -> dict[str, Any]:
    resolved = await resolve(context, args.service, args.staff)
    if isinstance(resolved, dict):
        return resolved
    found, staff_id = resolved
    if args.time is not None and args.date is None:
        return invalid(context.locale, ["date"])
    if args.date is not None and args.time is not None:
        try:
            start = local_instant(args.date, args.time, context.time_zone)
        except NonexistentLocalTime as error:
            return nonexistent_time(context, "time", error)
        request = phone_booking(context, found.id, start, staff_id)
        if context.call_row_id is not None:
            result = await service.hold(
                context.runtime.database, request, gateway=context.gateway, now=context.now
            )
            return from_result(result, context)
        checked = await service.check_time(
            context.runtime.database,
            request,
            gateway=context.gateway,
            now=context.now,
            context=await _booking_context(context, found.id, staff_id),
        )
        if checked.outcome is Outcome.AVAILABLE:
            return answer(
                Outcome.AVAILABLE,
                messages.availability_message(
                    checked.alternatives, context.time_zone, context.locale
                ),
                time_zone=context.time_zone,
                options=checked.alternatives,
            )
        return from_result(checked, context)
    return await _list_options(context, args, found.id, staff_id)


async def _booking_context(
    context: ToolContext, service_id: int, staff_id: int | None
) -> BookingContext:
    cached = context.catalog.contexts.get((service_id, staff_id)) if context.catalog else None
    if cached is not None:
        return cached
    async with context.read() as session:
        loaded = await load_context(
            session,
            context.company.id,
            service_id,
            branch_id=context.route.branch_id,
            staff_id=staff_id,
        )
        session.expunge_all()  # detached rows: usable after the session, never written
    if context.catalog is not None:
        context.catalog.contexts[(service_id, staff_id)] = loaded
    return loaded


async def _list_options(
    context: ToolContext, args: CheckAvailabilityArgs, service_id: int, staff_id: int | None
) -> dict[str, Any]:
    tz = zone(context.time_zone)
    day = args.date or context.now.astimezone(tz).date()
    days = 1 if args.date else 7
    first, last = PARTS_OF_DAY.get(args.part_of_day or "", (0, 24))
    start = dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=days), dt.time(0), tz).astimezone(dt.UTC)
    try:
        booking_context = await _booking_context(context, service_id, staff_id)
    except ContextError as error:
        return invalid(context.locale, ["service"], str(error))
    try:
        window_start = max(start, booking_context.earliest_start(context.now))
        window_end = min(end, booking_context.latest_start(context.now))
        starts: dict[int, list[dt.datetime]] = {}
        if window_start < window_end:
            starts = await calendar_starts(
                booking_context, context.gateway, window_start, window_end
            )
        async with context.read() as session:
            if context.call_row_id is None and context.call_id is not None:
                # The call's own hold must not hide its time from the call itself.
                context.call_row_id = await repository.call_row_id(session, context.call_id)
            slots = await subtract_local(
                session,
                booking_context,
                {
                    staff_id: [m for m in moments if first <= m.astimezone(tz).hour < last]
                    for staff_id, moments in starts.items()
                },
                now=context.now,
                ignore_call_id=context.call_row_id,
            )
            if slots:
                options = _spread(slots) if args.date else slots[:3]
                return answer(
                    Outcome.AVAILABLE,
                    messages.availability_message(options, context.time_zone, context.locale),
                    time_zone=context.time_zone,
                    options=options,
                )
            offered = await calendar_starts(booking_context, context.gateway, start, end)
            nearby = await alternatives(
                session,
                booking_context,
                context.gateway,
                start + (end - start) / 2,
                now=context.now,
                ignore_call_id=context.call_row_id,
            )
    except CalendarUnavailable:
        return answer(
            Outcome.UPSTREAM_UNAVAILABLE,
            messages.simple_message(Outcome.UPSTREAM_UNAVAILABLE, context.locale),
        )
    taken = any(offered.values())
    outcome = Outcome.SLOT_TAKEN if taken else Outcome.OUTSIDE_HOURS
    rule = Rule.STAFF_BOOKED if taken else Rule.NOBODY_WORKING
    result = BookingResult(outcome, context.time_zone, alternatives=nearby, reason=rule)
    return from_result(result, context)
