"""The agent's tools: one typed table (arguments, handler, stored answer), and the dispatch.

Bad arguments give ``invalid_request`` naming what is missing, never an HTTP error; tools
that change something answer a retried call with the first answer (see
:mod:`askpro.integrations.retell.answers`). While the company only takes messages (suspended
or out of credit) the tools that change the book answer so, and point at ``take_message``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.gateway import gateway_for
from askpro.booking.schemas import Outcome
from askpro.calls.service import ensure_call
from askpro.customers import service as customers
from askpro.integrations.retell import answers, messages, tool_handlers
from askpro.integrations.retell.call import RetellCall
from askpro.integrations.retell.catalog import CatalogEntry, entry_for_number
from askpro.integrations.retell.context import (
    ToolContext,
    answer,
    invalid,
    validation_missing,
)
from askpro.integrations.retell.inbound import should_take_message
from askpro.integrations.retell.metrics import TOOL_CALLS, TOOL_REPLAYS, TOOL_SECONDS
from askpro.integrations.retell.schemas import (
    BookAppointmentArgs,
    CancelAppointmentArgs,
    CheckAvailabilityArgs,
    FindAppointmentsArgs,
    RequestCallbackArgs,
    RescheduleAppointmentArgs,
    TakeMessageArgs,
    ToolArgs,
    ToolRequest,
)
from askpro.kit.time import utc_now
from askpro.models import Customer
from askpro.runtime import Runtime
from askpro.tenancy.service import Route, route_for_number

ArgsT = TypeVar("ArgsT", bound=ToolArgs)


@dataclass(frozen=True)
class Tool(Generic[ArgsT]):
    """One agent tool."""

    args: type[ArgsT]
    handler: Callable[[ToolContext, ArgsT], Awaitable[dict[str, Any]]]
    # A retried delivery of the same call gets the first answer (the tool changes something).
    stored_answer: bool = field(kw_only=True)
    # Changes the appointment book: refused while the company only takes messages.
    changes_book: bool = field(kw_only=True)


TOOLS: dict[str, Tool[Any]] = {
    "check_availability": Tool(
        CheckAvailabilityArgs, tool_handlers.check_availability,
        stored_answer=False, changes_book=False,
    ),
    "book_appointment": Tool(
        BookAppointmentArgs, tool_handlers.book_appointment,
        stored_answer=True, changes_book=True,
    ),
    "find_appointments": Tool(
        FindAppointmentsArgs, tool_handlers.find_appointments,
        stored_answer=False, changes_book=False,
    ),
    "reschedule_appointment": Tool(
        RescheduleAppointmentArgs, tool_handlers.reschedule_appointment,
        stored_answer=True, changes_book=True,
    ),
    "cancel_appointment": Tool(
        CancelAppointmentArgs, tool_handlers.cancel_appointment,
        stored_answer=True, changes_book=True,
    ),
    "take_message": Tool(
        TakeMessageArgs, tool_handlers.take_message, stored_answer=True, changes_book=False
    ),
    "request_callback": Tool(
        RequestCallbackArgs, tool_handlers.request_callback,
        stored_answer=True, changes_book=False,
    ),
}  # fmt: skip


async def handle(
    runtime: Runtime, name: str, request: ToolRequest, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    started = time.perf_counter()
    body = await _handle(runtime, name, request, now or utc_now())
    label = name if name in TOOLS else "unknown"
    TOOL_CALLS.labels(label, body["outcome"]).inc()
    TOOL_SECONDS.labels(label).observe(time.perf_counter() - started)
    return body


async def _handle(
    runtime: Runtime, name: str, request: ToolRequest, now: dt.datetime
) -> dict[str, Any]:
    tool = TOOLS.get(name)
    if tool is None:
        return invalid("de", ["name"], f"unknown tool {name!r}")
    call = RetellCall.from_payload(request.call)
    catalog: CatalogEntry | None = None
    take_message = False
    if name == "check_availability":  # read-mostly: company and services may be seconds old
        catalog = await entry_for_number(runtime, call.our_number)
        route = catalog.route if catalog else None
    else:
        async with runtime.database.sessions() as session:
            route = await route_for_number(session, call.our_number)
            if route is not None and tool.changes_book:
                take_message = await should_take_message(session, route.company)
            session.expunge_all()  # detached, so no transaction stays open during a booking
    if route is None:
        return invalid("de", ["call.to_number"], "the dialled number belongs to no company")
    locale = route.company.locale
    try:
        args = tool.args.model_validate(request.args)
    except ValidationError as error:
        return invalid(locale, validation_missing(error))
    if take_message:
        body = answer(
            Outcome.UPSTREAM_UNAVAILABLE,
            messages.take_message_mode_message(locale),
            reason="take_message",
        )
        body["suggested_tools"] = ["take_message", "request_callback"]
        return body

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
                call_id=call.call_id,
                call_row_id=None,  # looked up next to the availability query
                customer_id=None,
                caller_number=call.caller_number,
            )
        else:
            context = await _context(runtime, route, call, args, now)
        context.catalog = catalog
        result: dict[str, Any] = await tool.handler(context, args)
        return result

    if call.call_id is None or not tool.stored_answer:
        return await compute()
    key = answers.answer_key(call.call_id, name, args.model_dump(mode="json"))
    body, replayed = await answers.once(
        runtime.database, key, company_id=route.company.id, call_id=call.call_id, tool=name,
        compute=compute,
    )  # fmt: skip
    if replayed:
        TOOL_REPLAYS.labels(name).inc()
    return body


async def _context(
    runtime: Runtime, route: Route, call: RetellCall, args: ToolArgs, now: dt.datetime
) -> ToolContext:
    """Make sure the call row and the caller's customer row exist; link them."""
    customer_name = getattr(args, "customer_name", None) or getattr(args, "caller_name", None)
    email = getattr(args, "email", None)
    caller = call.caller_number

    async def work(session: AsyncSession) -> tuple[int | None, int | None, str]:
        call_row = await ensure_call(session, route, call) if call.call_id is not None else None
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
        call_id=call.call_id,
        call_row_id=call_row_id,
        customer_id=customer_id,
        caller_number=caller,
    )
