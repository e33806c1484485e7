"""The agent's tools: parse the LLM's arguments, run the booking service, answer truthfully.

Every answer is ``{"outcome", "message", "options", "appointment"}``: a typed outcome, one
sentence the agent can say in the company's language (times in the branch's zone, at most
three options) and the data behind it. Bad arguments give ``invalid_request`` naming what
is missing, never an HTTP error; tools that change the book answer a retried call with the
first answer (see :mod:`askpro.integrations.retell.answers`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.gateway import CalendarGateway, gateway_for
from askpro.booking.schemas import AppointmentView, BookingResult, Outcome, Slot
from askpro.calls.service import Route, ensure_call, route_for_number
from askpro.customers import service as customers
from askpro.integrations.retell import answers, messages
from askpro.integrations.retell.catalog import CatalogEntry, entry_for_number
from askpro.integrations.retell.inbound import should_take_message
from askpro.integrations.retell.metrics import TOOL_CALLS, TOOL_REPLAYS, TOOL_SECONDS
from askpro.integrations.retell.schemas import (
    STORED_ANSWER_TOOLS,
    TOOL_ARGS,
    CheckAvailabilityArgs,
    ToolRequest,
)
from askpro.kit.time import utc_now, zone
from askpro.models import Company, Customer, Service, Staff
from askpro.runtime import Runtime


@dataclass
class ToolContext:
    runtime: Runtime
    route: Route
    time_zone: str
    locale: str
    gateway: CalendarGateway | None
    now: dt.datetime
    call_id: str | None
    call_row_id: int | None
    customer_id: int | None
    caller_number: str | None
    # Seconds-old company/services/staff for read-only calls (see catalog.py).
    catalog: CatalogEntry | None = None

    @property
    def company(self) -> Company:
        return self.route.company

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.runtime.database.sessions() as session:
            yield session


def answer(
    outcome: Outcome,
    message: str,
    *,
    time_zone: str = "Europe/Berlin",
    options: list[Slot] | None = None,
    appointment: AppointmentView | None = None,
    appointments: list[AppointmentView] | None = None,
    missing: list[str] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    tz = zone(time_zone)
    body: dict[str, Any] = {"outcome": outcome.value, "message": message}
    body["options"] = [
        {"start": slot.start.astimezone(tz).isoformat(), "end": slot.end.astimezone(tz).isoformat()}
        for slot in (options or [])[:3]
    ]
    body["appointment"] = _appointment(appointment, tz) if appointment else None
    if appointments is not None:
        body["appointments"] = [_appointment(item, tz) for item in appointments]
    if missing:
        body["missing"] = missing
    if reason:
        body["reason"] = reason
    return body


def _appointment(view: AppointmentView, tz: dt.tzinfo) -> dict[str, Any]:
    return {
        "id": view.id,
        "start": view.start.astimezone(tz).isoformat(),
        "end": view.end.astimezone(tz).isoformat(),
        "service": view.service_name,
        "staff": view.staff_name,
        "status": view.status,
        "confirmed": view.calcom_sync_state in ("synced", "not_required"),
    }


def from_result(result: BookingResult, context: ToolContext) -> dict[str, Any]:
    return answer(
        result.outcome,
        messages.booking_message(result, context.locale),
        time_zone=result.time_zone,
        options=result.alternatives,
        appointment=result.appointment,
        reason=result.reason,
    )


def invalid(
    locale: str, missing: list[str], detail: str | None = None, *, offered: list[str] | None = None
) -> dict[str, Any]:
    """``invalid_request``: the spoken sentence from the catalogue in the company's
    language; ``detail`` (for developers) goes to ``reason`` only."""
    return answer(
        Outcome.INVALID_REQUEST,
        messages.invalid_message(locale, missing, offered=offered or ()),
        missing=missing,
        reason=detail,
    )


def _validation_missing(error: ValidationError) -> list[str]:
    return sorted(
        {".".join(str(part) for part in item["loc"]) or "args" for item in error.errors()}
    )


async def handle(
    runtime: Runtime, name: str, request: ToolRequest, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    started = time.perf_counter()
    body = await _handle(runtime, name, request, now or utc_now())
    tool = name if name in TOOL_ARGS else "unknown"
    TOOL_CALLS.labels(tool, body["outcome"]).inc()
    TOOL_SECONDS.labels(tool).observe(time.perf_counter() - started)
    return body


async def _handle(
    runtime: Runtime, name: str, request: ToolRequest, now: dt.datetime
) -> dict[str, Any]:
    if name not in TOOL_ARGS:
        return invalid("de", ["name"], f"unknown tool {name!r}")
    call = request.call
    direction = call.get("direction") or "inbound"
    our_number = call.get("from_number") if direction == "outbound" else call.get("to_number")
    caller = call.get("to_number") if direction == "outbound" else call.get("from_number")
    catalog: CatalogEntry | None = None
    take_message = False
    if name == "check_availability":  # read-mostly: company and services may be seconds old
        catalog = await entry_for_number(runtime, our_number)
        route = catalog.route if catalog else None
    else:
        async with runtime.database.sessions() as session:
            route = await route_for_number(session, our_number)
            if route is not None and name != "find_appointments":
                take_message = await should_take_message(session, route.company)
            session.expunge_all()  # detached, so no transaction stays open during a booking
    if route is None:
        return invalid("de", ["call.to_number"], "the dialled number belongs to no company")
    locale = route.company.locale
    try:
        args = TOOL_ARGS[name].model_validate(request.args)
    except ValidationError as error:
        return invalid(locale, _validation_missing(error))
    if take_message:
        return answer(
            Outcome.UPSTREAM_UNAVAILABLE,
            "Ich kann gerade keine Termine ändern; ich nehme gern eine Nachricht auf."
            if messages.language(locale) == "de"
            else "I can't change appointments right now; I'm happy to take a message.",
            reason="take_message",
        )
    call_id = str(call["call_id"]) if call.get("call_id") else None

    # Listing free times writes nothing: no call or customer row is needed for it.
    read_only = isinstance(args, CheckAvailabilityArgs) and (args.date is None or args.time is None)

    async def compute() -> dict[str, Any]:
        if read_only:
            context = ToolContext(
                runtime=runtime,
                route=route,
                time_zone=route.time_zone,
                locale=route.company.locale,
                gateway=gateway_for(route.company, runtime.settings, runtime.extras),
                now=now,
                call_id=call_id,
                call_row_id=None,  # looked up next to the availability query
                customer_id=None,
                caller_number=caller,
            )
        else:
            context = await _context(runtime, route, call_id, caller, call, args, now)
        context.catalog = catalog
        from askpro.integrations.retell import tool_handlers

        handler = getattr(tool_handlers, name)
        result: dict[str, Any] = await handler(context, args)
        return result

    if call_id is None or name not in STORED_ANSWER_TOOLS:
        return await compute()
    key = answers.answer_key(call_id, name, args.model_dump(mode="json"))
    body, replayed = await answers.once(
        runtime.database, key, company_id=route.company.id, call_id=call_id, tool=name,
        compute=compute,
    )  # fmt: skip
    if replayed:
        TOOL_REPLAYS.labels(name).inc()
    return body


async def _context(
    runtime: Runtime,
    route: Route,
    call_id: str | None,
    caller: str | None,
    call: dict[str, Any],
    args: BaseModel,
    now: dt.datetime,
) -> ToolContext:
    """Make sure the call row and the caller's customer row exist; link them."""
    customer_name = getattr(args, "customer_name", None)
    email = getattr(args, "email", None)

    async def work(session: Any) -> tuple[int | None, int | None, str]:
        call_row = None
        if call_id is not None:
            call_row = await ensure_call(
                session,
                call_id,
                route,
                from_number=call.get("from_number"),
                to_number=call.get("to_number"),
                direction=call.get("direction") or "inbound",
                agent_id=call.get("agent_id"),
            )
        customer = None
        linked = (
            await session.get(Customer, call_row.customer_id)
            if call_row is not None and call_row.customer_id is not None
            else None
        )
        if linked is not None:
            customer = await customers.resolve(session, linked)
            if customer_name and not customer.name:
                customer.name = customer_name
        elif customers.phone_or_none(caller, route.company.country) or customer_name:
            customer = await customers.find_or_create(
                session, route.company, caller, customer_name, email
            )
        if call_row is not None and customer is not None and call_row.customer_id is None:
            call_row.customer_id = customer.id
        await session.flush()
        return (
            call_row.id if call_row else None,
            customer.id if customer else None,
            route.time_zone,
        )

    call_row_id, customer_id, time_zone = await runtime.database.unit_of_work(
        work, name="retell.tool_context"
    )
    return ToolContext(
        runtime=runtime,
        route=route,
        time_zone=time_zone,
        locale=route.company.locale,
        gateway=gateway_for(route.company, runtime.settings, runtime.extras),
        now=now,
        call_id=call_id,
        call_row_id=call_row_id,
        customer_id=customer_id,
        caller_number=caller,
    )


async def find_service(context: ToolContext, name: str) -> Service | list[str]:
    """The company's service called ``name`` (or the one it names unambiguously)."""
    services = context.catalog.services if context.catalog else None
    if services is None:
        async with context.read() as session:
            services = list(
                (
                    await session.execute(
                        select(Service)
                        .where(Service.company_id == context.company.id, Service.active.is_(True))
                        .order_by(Service.id)
                    )
                )
                .scalars()
                .all()
            )
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
        return (
            await session.execute(
                select(Staff)
                .where(
                    Staff.company_id == context.company.id,
                    Staff.active.is_(True),
                    func.lower(Staff.name).contains(name.casefold(), autoescape=True),
                )
                .order_by(Staff.id)
                .limit(1)
            )
        ).scalar_one_or_none()
