"""/api/v1/appointments — list, show (with history), book, cancel, reschedule.

Writes go through the booking service; its outcomes map to HTTP: booked /
pending_confirmation / already_booked → 201; slot_taken (a time inside working hours that
is booked or held) → 409 ``slot-taken`` with up to 3 ``alternatives``; too_soon /
outside_hours (nobody works then, or beyond the horizon) → 422 naming ``starts_at``; a
service/branch/staff that is not the company's → 422 naming the field. Every refusal
carries ``reason``: the rule that decided.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status

from askpro.api.deps import (
    Id,
    Instant,
    Page,
    Paging,
    Principal,
    Session,
    page_json,
    require_ordered_range,
    requires,
    semantic_fields,
)
from askpro.auth.dependencies import Authorized
from askpro.auth.scopes import Scope
from askpro.booking import repository, service
from askpro.booking.schemas import (
    AlternativeOut,
    AppointmentCreate,
    AppointmentDetail,
    AppointmentEventOut,
    AppointmentOut,
    AppointmentStatus,
    BookingResult,
    CancelRequest,
    Outcome,
    RescheduleRequest,
)
from askpro.db import Database, retry_on_dead_connection
from askpro.kit.pagination import PageRequest
from askpro.kit.problems import Problem
from askpro.models import Appointment

router = APIRouter(prefix="/appointments", tags=["appointments"])
Reader = Annotated[Principal, requires(Scope.APPOINTMENTS_READ)]
Writer = Annotated[Principal, requires(Scope.APPOINTMENTS_WRITE)]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=190,
        pattern=r"^[\x21-\x7e]+$",
        description="Required. Same key and body → the first answer; another body → 422.",
    ),
]
Status = AppointmentStatus


@router.get("", summary="List appointments by start time", response_model=Page[AppointmentOut])
async def list_appointments(
    principal: Reader,
    request: Request,
    response: Response,
    paging: Paging,
    starts_from: Annotated[
        Instant | None, Query(description="Inclusive, ISO 8601 with offset.")
    ] = None,
    starts_before: Annotated[
        Instant | None, Query(description="Exclusive, ISO 8601 with offset.")
    ] = None,
    staff_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    status: Annotated[list[Status] | None, Query(description="Repeat for several.")] = None,
) -> Response:
    # GET is served by serve_list (askpro.api.hot): this is the declaration (OpenAPI, the
    # route table) and the fallback (HEAD). No docstring: it would become the description.
    return await _list_page(
        _database(request),
        principal,
        paging,
        starts_from=starts_from,
        starts_before=starts_before,
        staff_id=staff_id,
        status=status,
        headers=response.headers,
    )


async def serve_list(request: Request, authorized: Authorized, query: dict[str, Any]) -> Response:
    """The hot path's ``GET /api/v1/appointments``: the route's parameters, validated."""
    return await _list_page(
        _database(request),
        authorized.principal,
        PageRequest(limit=query["limit"], cursor=query["cursor"]),
        starts_from=query["starts_from"],
        starts_before=query["starts_before"],
        staff_id=query["staff_id"],
        status=query["status"],
        headers=authorized.headers,
    )


async def _list_page(
    database: Database,
    principal: Principal,
    paging: PageRequest,
    *,
    starts_from: dt.datetime | None,
    starts_before: dt.datetime | None,
    staff_id: int | None,
    status: list[Status] | None,
    headers: Mapping[str, str],
) -> Response:
    require_ordered_range(
        starts_from, starts_before, start_name="starts_from", end_name="starts_before"
    )
    company_id = principal.tenant()

    async def read() -> tuple[list[tuple[Any, ...]], str | None]:
        async with database.driver_connection() as connection:
            return await repository.list_appointments(
                connection,
                company_id,
                paging,
                starts_from=starts_from,
                starts_before=starts_before,
                staff_id=staff_id,
                statuses=list(status) if status else None,
            )

    # A read is safe to repeat: a pooled connection the server dropped costs no answer.
    rows, cursor = await retry_on_dead_connection(read, name="appointments.list")
    # The rows hold exactly AppointmentOut's columns, in its order.
    return page_json(repository.APPOINTMENT_LIST.names, rows, cursor, headers)


@router.get("/{appointment_id}", summary="Show an appointment with its history")
async def get_appointment(
    principal: Reader, session: Session, appointment_id: Id
) -> AppointmentDetail:
    company_id = principal.tenant()
    appointment = await repository.get_appointment(session, company_id, appointment_id)
    if appointment is None:
        raise Problem(404, "not-found", "Appointment not found")
    history = await repository.history_of(session, company_id, appointment_id)
    return AppointmentDetail(
        **AppointmentOut.model_validate(appointment).model_dump(),
        history=[AppointmentEventOut.model_validate(event) for event in history],
    )


def _caller(request: Request, principal: Principal) -> service.Caller:
    runtime = request.app.state.runtime
    return service.Caller(principal.tenant(), principal.actor, runtime.settings, runtime.extras)


def _database(request: Request) -> Database:
    database = request.app.state.runtime.database
    assert isinstance(database, Database)
    return database


def _refused(result: BookingResult) -> Problem:
    """The problem a booking outcome other than success answers with."""
    alternatives = [
        AlternativeOut(
            starts_at=slot.start, ends_at=slot.end, staff_ids=list(slot.staff_ids)
        ).model_dump(mode="json")
        for slot in result.alternatives[:3]
    ]
    start_error = {"field": "starts_at", "location": "body"}
    if result.outcome is Outcome.SLOT_TAKEN:
        return Problem(
            409,
            "slot-taken",
            "Slot taken",
            "the time is inside working hours but booked or held"
            + (f" ({result.reason})" if result.reason else ""),
            reason=result.reason,
            alternatives=alternatives,
        )
    if result.outcome is Outcome.TOO_SOON:
        return Problem(
            422,
            "too-soon",
            "Too soon",
            "starts_at is inside the minimum notice",
            errors=[{**start_error, "message": "inside the minimum notice"}],
            reason=result.reason,
            alternatives=alternatives,
        )
    if result.outcome is Outcome.OUTSIDE_HOURS:
        return Problem(
            422,
            "outside-hours",
            "Outside bookable hours",
            "starts_at is not a bookable time" + (f" ({result.reason})" if result.reason else ""),
            errors=[{**start_error, "message": result.reason or "outside bookable hours"}],
            reason=result.reason,
            alternatives=alternatives,
        )
    if result.outcome is Outcome.NOT_FOUND:
        field = next(
            (name for name in ("staff", "branch", "service") if name in (result.reason or "")),
            "service",
        )
        return Problem(
            422,
            "validation-error",
            "Invalid request",
            f"invalid: {field}_id",
            errors=[{"field": f"{field}_id", "location": "body", "message": result.reason}],
        )
    if result.outcome is Outcome.UPSTREAM_UNAVAILABLE:
        return Problem(503, "upstream-unavailable", "Calendar unavailable", result.reason)
    return Problem(422, "booking-refused", "Booking refused", result.outcome.value)


async def _appointment_out(request: Request, appointment_id: int) -> AppointmentOut:
    async with _database(request).sessions() as session:
        row = await session.get(Appointment, appointment_id)
        assert row is not None
        return AppointmentOut.model_validate(row)


NO_REASON = CancelRequest()
BOOKED = (Outcome.BOOKED, Outcome.PENDING_CONFIRMATION, Outcome.ALREADY_BOOKED)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Book an appointment (Idempotency-Key required)",
    # A bookable start depends on opening hours, notice, horizon and the calendar.
    openapi_extra=semantic_fields("starts_at"),
)
async def create_appointment(
    principal: Writer,
    request: Request,
    response: Response,
    body: AppointmentCreate,
    idempotency_key: IdempotencyKey,
) -> AppointmentOut:
    result, appointment_id = await service.create_appointment(
        _database(request), _caller(request, principal), body, idempotency_key
    )
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if appointment_id is None or result.outcome not in (*BOOKED, Outcome.CANCELLED):
        raise _refused(result)
    return await _appointment_out(request, appointment_id)


@router.post("/{appointment_id}/cancel", summary="Cancel an appointment (again: still 200)")
async def cancel_appointment(
    principal: Writer,
    request: Request,
    appointment_id: Id,
    body: CancelRequest = NO_REASON,
) -> AppointmentOut:
    """The body is optional; its ``reason`` is stored and sent to Cal.com."""
    await service.cancel_appointment(
        _database(request), _caller(request, principal), appointment_id, body.reason
    )
    return await _appointment_out(request, appointment_id)


@router.post(
    "/{appointment_id}/reschedule",
    summary="Move an appointment to a new start",
    openapi_extra=semantic_fields("starts_at"),
)
async def reschedule_appointment(
    principal: Writer, request: Request, appointment_id: Id, body: RescheduleRequest
) -> AppointmentOut:
    result = await service.reschedule_appointment(
        _database(request), _caller(request, principal), appointment_id, body.starts_at
    )
    if result.outcome is not Outcome.RESCHEDULED:
        raise _refused(result)
    return await _appointment_out(request, appointment_id)
