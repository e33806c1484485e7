"""The tools that book and change the caller's appointments: ``book_appointment``,
``find_appointments``, ``reschedule_appointment`` and ``cancel_appointment``."""

from __future__ import annotations

import hashlib
from typing import Any

from askpro.booking import service
from askpro.booking.schemas import AppointmentView, BookingResult, Outcome
from askpro.integrations.retell import messages
from askpro.integrations.retell.context import ToolContext, answer, from_result, invalid
from askpro.integrations.retell.schemas import (
    BookAppointmentArgs,
    CancelAppointmentArgs,
    FindAppointmentsArgs,
    RescheduleAppointmentArgs,
)
from askpro.integrations.retell.tool_handlers._common import (
    NonexistentLocalTime,
    local_instant,
    nonexistent_time,
    phone_booking,
    phone_change,
    resolve,
)


async def book_appointment(context: ToolContext, args: BookAppointmentArgs) -> dict[str, Any]:
    resolved = await resolve(context, args.service, args.staff)
    if isinstance(resolved, dict):
        return resolved
    found, staff_id = resolved
    try:
        start = local_instant(args.date, args.time, context.time_zone)
    except NonexistentLocalTime as error:
        return nonexistent_time(context, "time", error)
    idempotency = f"retell:{context.call_id}:{args.model_dump_json()}" if context.call_id else None
    request = phone_booking(
        context,
        found.id,
        start,
        staff_id,
        idempotency_key=_short_key(idempotency),
        notes=args.notes,
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
        return nonexistent_time(context, "new_time", error)
    picked = await _pick(context, args.appointment_id)
    if isinstance(picked, dict):
        return picked
    change = phone_change(context, picked)
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
    change = phone_change(context, picked, reason=args.reason)
    result = await service.cancel(
        context.runtime.database,
        change,
        gateway=context.gateway,
        sync_budget_seconds=context.runtime.settings.booking_sync_budget_seconds,
    )
    return from_result(result, context)
