"""The booking request and the read-only check of a time: the request's context, whether
the calendar and the local book allow its start (:func:`check_time`), and the alternatives
offered when they do not (every use case that can lose a time offers them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from askpro.booking import repository
from askpro.booking.gateway import CalendarGateway
from askpro.booking.schemas import AppointmentSource, BookingResult, Outcome, Rule, Slot
from askpro.booking.service._availability import alternatives, free_at, verdict
from askpro.booking.service._context import BookingContext, ContextError, load_context
from askpro.db import Database
from askpro.kit.time import utc_now


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


async def context_of(database: Database, request: BookRequest) -> BookingContext | BookingResult:
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
    loaded = context or await context_of(database, request)
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
