"""One coroutine per agent tool; each returns the JSON answer the agent reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import service
from askpro.booking.gateway import CalendarUnavailable
from askpro.booking.schemas import (
    AppointmentSource,
    AppointmentView,
    BookingResult,
    Outcome,
    Rule,
    Slot,
)
from askpro.booking.service import (
    BookingContext,
    ContextError,
    alternatives,
    calendar_starts,
    load_context,
    subtract_local,
)
from askpro.integrations.retell import messages, repository
from askpro.integrations.retell.context import (
    MessageOutcome,
    ToolContext,
    answer,
    from_result,
    invalid,
)
from askpro.integrations.retell.schemas import (
    BookAppointmentArgs,
    CancelAppointmentArgs,
    CheckAvailabilityArgs,
    FindAppointmentsArgs,
    RequestCallbackArgs,
    RescheduleAppointmentArgs,
    TakeMessageArgs,
)
from askpro.kit.time import zone
from askpro.models import Service, Staff
from askpro.outbound import messages as caller_messages
from askpro.outbound.schemas import MessageKind, Urgency

PARTS_OF_DAY = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}
CHANNEL = "phone"


class NonexistentLocalTime(ValueError):
    """The wall-clock time falls into the hour skipped when summer time starts."""


def local_instant(day: dt.date, at: dt.time, time_zone: str) -> dt.datetime:
    """The instant of a local wall-clock time. An ambiguous time (the hour repeated when
    summer time ends) means its first occurrence; a time inside the spring-forward gap
    does not exist and raises :class:`NonexistentLocalTime` (never silently shifted)."""
    tz = zone(time_zone)
    wall = dt.datetime.combine(day, at.replace(tzinfo=None, fold=0))
    instant = wall.replace(tzinfo=tz).astimezone(dt.UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != wall:
        raise NonexistentLocalTime(f"{wall:%Y-%m-%d %H:%M} does not exist in {time_zone}")
    return instant


def _nonexistent(context: ToolContext, field: str, error: NonexistentLocalTime) -> dict[str, Any]:
    return answer(
        Outcome.INVALID_REQUEST,
        messages.nonexistent_time_message(context.locale),
        missing=[field],
        reason=str(error),
    )


def _spread(slots: list[Slot], count: int = 3) -> list[Slot]:
    """Up to ``count`` options spread over the slots (early, middle, late)."""
    if len(slots) <= count:
        return slots
    step = (len(slots) - 1) / (count - 1)
    return [slots[round(index * step)] for index in range(count)]


def _actor(context: ToolContext) -> str:
    return f"retell:{context.call_id or 'unknown-call'}"


async def find_service(context: ToolContext, name: str) -> Service | list[str]:
    """The company's service called ``name`` (or the one it names unambiguously)."""
    services = context.catalog.services if context.catalog else None
    if services is None:
        async with context.read() as session:
            services = await repository.active_services(session, context.company.id)
            session.expunge_all()
        if context.catalog is not None:
            context.catalog.services = services
    wanted = name.casefold()
    for matches in (
        [s for s in services if s.name.casefold() == wanted],
        [s for s in services if wanted in s.name.casefold() or s.name.casefold() in wanted],
    ):
        if len(matches) == 1:
            return matches[0]
    return [service.name for service in services]


async def find_staff(context: ToolContext, name: str) -> Staff | None:
    async with context.read() as session:
        return await repository.staff_named(session, context.company.id, name)


async def _resolve(
    context: ToolContext, service_name: str, staff_name: str | None
) -> tuple[Service, int | None] | dict[str, Any]:
    found = await find_service(context, service_name)
    if isinstance(found, list):
        offered = ", ".join(found)
        return invalid(context.locale, ["service"], f"service (offered: {offered})", offered=found)
    staff_id = None
    if staff_name:
        staff = await find_staff(context, staff_name)
        if staff is None:
            return invalid(context.locale, ["staff"], f"staff ({staff_name!r} unknown)")
        staff_id = staff.id
    return found, staff_id


async def check_availability(context: ToolContext, args: CheckAvailabilityArgs) -> dict[str, Any]:
    resolved = await _resolve(context, args.service, args.staff)
    if isinstance(resolved, dict):
        return resolved
    found, staff_id = resolved
    if args.time is not None and args.date is None:
        return invalid(context.locale, ["date"])
    if args.date is not None and args.time is not None:
        try:
            start = local_instant(args.date, args.time, context.time_zone)
        except NonexistentLocalTime as error:
            return _nonexistent(context, "time", error)
        request = service.BookRequest(
            company_id=context.company.id,
            service_id=found.id,
            start=start,
            branch_id=context.route.branch_id,
            staff_id=staff_id,
            customer_id=context.customer_id,
            call_row_id=context.call_row_id,
            source=AppointmentSource.PHONE,
            actor=_actor(context),
            channel=CHANNEL,
        )
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


async def book_appointment(context: ToolContext, args: BookAppointmentArgs) -> dict[str, Any]:
    resolved = await _resolve(context, args.service, args.staff)
    if isinstance(resolved, dict):
        return resolved
    found, staff_id = resolved
    try:
        start = local_instant(args.date, args.time, context.time_zone)
    except NonexistentLocalTime as error:
        return _nonexistent(context, "time", error)
    idempotency = f"retell:{context.call_id}:{args.model_dump_json()}" if context.call_id else None
    request = service.BookRequest(
        company_id=context.company.id,
        service_id=found.id,
        start=start,
        branch_id=context.route.branch_id,
        staff_id=staff_id,
        customer_id=context.customer_id,
        call_row_id=context.call_row_id,
        idempotency_key=_short_key(idempotency),
        notes=args.notes,
        source=AppointmentSource.PHONE,
        actor=_actor(context),
        channel=CHANNEL,
    )
    budget = context.runtime.settings.booking_sync_budget_seconds
    result = await service.book(
        context.runtime.database,
        request,
        gateway=context.gateway,
        now=context.now,
        sync_budget_seconds=budget,
    )
    return from_result(result, context)


def _short_key(value: str | None) -> str | None:
    if value is None:
        return None
    import hashlib

    return "retell:" + hashlib.sha256(value.encode()).hexdigest()


async def _upcoming(context: ToolContext) -> list[AppointmentView]:
    return await service.upcoming(
        context.runtime.database, context.company.id, context.customer_id, context.now
    )


async def find_appointments(context: ToolContext, args: FindAppointmentsArgs) -> dict[str, Any]:
    if context.customer_id is None:
        return invalid(context.locale, ["caller_number"], "caller number withheld")
    views = await _upcoming(context)
    return answer(
        Outcome.BOOKED if views else Outcome.NOT_FOUND,
        messages.appointments_message(views, context.time_zone, context.locale),
        time_zone=context.time_zone,
        appointments=views,
    )


async def _pick(context: ToolContext, appointment_id: int | None) -> int | dict[str, Any]:
    """The appointment meant: the id given, or the caller's only upcoming one."""
    if appointment_id is not None:
        return appointment_id
    upcoming = await _upcoming(context)
    if len(upcoming) == 1:
        return upcoming[0].id
    if not upcoming:
        result = BookingResult(Outcome.NOT_FOUND, context.time_zone)
        return from_result(result, context)
    return invalid(context.locale, ["appointment_id"], "appointment_id (several upcoming)")


async def reschedule_appointment(
    context: ToolContext, args: RescheduleAppointmentArgs
) -> dict[str, Any]:
    try:
        new_start = local_instant(args.new_date, args.new_time, context.time_zone)
    except NonexistentLocalTime as error:
        return _nonexistent(context, "new_time", error)
    picked = await _pick(context, args.appointment_id)
    if isinstance(picked, dict):
        return picked
    change = service.ChangeRequest(
        company_id=context.company.id,
        appointment_id=picked,
        actor=_actor(context),
        channel=CHANNEL,
        customer_id=context.customer_id if context.customer_id is not None else -1,
    )
    result = await service.reschedule(
        context.runtime.database,
        change,
        new_start,
        gateway=context.gateway,
        now=context.now,
        call_row_id=context.call_row_id,
        sync_budget_seconds=context.runtime.settings.booking_sync_budget_seconds,
    )
    return from_result(result, context)


async def cancel_appointment(context: ToolContext, args: CancelAppointmentArgs) -> dict[str, Any]:
    picked = await _pick(context, args.appointment_id)
    if isinstance(picked, dict):
        return picked
    change = service.ChangeRequest(
        company_id=context.company.id,
        appointment_id=picked,
        actor=_actor(context),
        channel=CHANNEL,
        customer_id=context.customer_id if context.customer_id is not None else -1,
        reason=args.reason,
    )
    result = await service.cancel(
        context.runtime.database,
        change,
        gateway=context.gateway,
        sync_budget_seconds=context.runtime.settings.booking_sync_budget_seconds,
    )
    return from_result(result, context)


async def _take(
    context: ToolContext,
    kind: MessageKind,
    *,
    caller_name: str | None,
    caller_number: str | None,
    body: str | None,
    urgency: str,
    window: str | None,
) -> None:
    """Store the message on the call and the caller's customer; announce it (one unit)."""

    async def work(session: AsyncSession) -> None:
        await caller_messages.take(
            session,
            context.company.id,
            kind,
            call_row_id=context.call_row_id,
            retell_call_id=context.call_id,
            customer_id=context.customer_id,
            caller_name=caller_name,
            caller_number=caller_number or context.caller_number,
            body=body,
            urgency=Urgency(urgency),
            callback_window=window,
        )

    await context.runtime.database.unit_of_work(work, name="retell.take_message")


async def take_message(context: ToolContext, args: TakeMessageArgs) -> dict[str, Any]:
    await _take(
        context,
        MessageKind.MESSAGE,
        caller_name=args.caller_name,
        caller_number=args.caller_number,
        body=args.message,
        urgency=args.urgency,
        window=None,
    )
    return answer(MessageOutcome.MESSAGE_TAKEN, messages.message_taken_message(context.locale))


async def request_callback(context: ToolContext, args: RequestCallbackArgs) -> dict[str, Any]:
    await _take(
        context,
        MessageKind.CALLBACK,
        caller_name=args.caller_name,
        caller_number=args.caller_number,
        body=args.reason,
        urgency=args.urgency,
        window=args.preferred_window,
    )
    return answer(
        MessageOutcome.CALLBACK_REQUESTED,
        messages.callback_requested_message(args.preferred_window, context.locale),
    )
