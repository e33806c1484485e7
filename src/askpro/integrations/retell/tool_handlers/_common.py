"""What the booking tools share: the instant of the caller's local wall-clock time, the
answer when it does not exist, the actor and channel of the agent's changes, the booking
and change requests the agent makes, and the service and staff member the caller names."""

from __future__ import annotations

import datetime as dt
from typing import Any

from askpro.booking.schemas import AppointmentSource, Outcome
from askpro.booking.service import BookRequest, ChangeRequest
from askpro.integrations.retell import messages, repository
from askpro.integrations.retell.context import ToolContext, answer, invalid
from askpro.kit.time import zone
from askpro.models import Service, Staff
from askpro.tenancy.service import active_services

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


def nonexistent_time(
    context: ToolContext, field: str, error: NonexistentLocalTime
) -> dict[str, Any]:
    return answer(
        Outcome.INVALID_REQUEST,
        messages.nonexistent_time_message(context.locale),
        missing=[field],
        reason=str(error),
    )


def actor_of(context: ToolContext) -> str:
    return f"retell:{context.call_id or 'unknown-call'}"


def phone_booking(
    context: ToolContext,
    service_id: int,
    start: dt.datetime,
    staff_id: int | None,
    *,
    idempotency_key: str | None = None,
    notes: str | None = None,
) -> BookRequest:
    """The request to book (or hold, or check) ``start`` for the caller on this call."""
    return BookRequest(
        company_id=context.company.id,
        service_id=service_id,
        start=start,
        branch_id=context.route.branch_id,
        staff_id=staff_id,
        customer_id=context.customer_id,
        call_row_id=context.call_row_id,
        idempotency_key=idempotency_key,
        notes=notes,
        source=AppointmentSource.PHONE,
        actor=actor_of(context),
        channel=CHANNEL,
    )


def phone_change(
    context: ToolContext, appointment_id: int, reason: str | None = None
) -> ChangeRequest:
    """The request to move or cancel one of the caller's own appointments (a withheld
    number matches no customer, so it can change none)."""
    return ChangeRequest(
        company_id=context.company.id,
        appointment_id=appointment_id,
        actor=actor_of(context),
        channel=CHANNEL,
        customer_id=context.customer_id if context.customer_id is not None else -1,
        reason=reason,
    )


async def find_service(context: ToolContext, name: str) -> Service | list[str]:
    """The company's service called ``name`` (or the one it names unambiguously)."""
    services = context.catalog.services if context.catalog else None
    if services is None:
        async with context.read() as session:
            services = await active_services(session, context.company.id)
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


async def resolve(
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
