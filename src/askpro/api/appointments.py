"""/api/v1/appointments — reading (booking, cancelling and rescheduling come with booking)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from askpro.api.deps import Id, Page, Paging, Principal, Session, page_of, requires
from askpro.auth.scopes import Scope
from askpro.booking import queries
from askpro.booking.queries import AppointmentOut
from askpro.kit.problems import Problem

router = APIRouter(prefix="/appointments", tags=["appointments"])
Reader = Annotated[Principal, requires(Scope.APPOINTMENTS_READ)]
Status = Literal["held", "booked", "cancelled", "completed", "no_show"]


@router.get("", summary="List appointments by start time")
async def list_appointments(
    principal: Reader,
    session: Session,
    paging: Paging,
    starts_from: Annotated[
        AwareDatetime | None, Query(description="Inclusive, ISO 8601 with offset.")
    ] = None,
    starts_before: Annotated[
        AwareDatetime | None, Query(description="Exclusive, ISO 8601 with offset.")
    ] = None,
    staff_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    status: Annotated[list[Status] | None, Query(description="Repeat for several.")] = None,
) -> Page[AppointmentOut]:
    if starts_from and starts_before and starts_before <= starts_from:
        raise Problem(
            400,
            "invalid-range",
            "Invalid date range",
            "starts_before must be after starts_from",
            errors=[
                {
                    "field": "query.starts_before",
                    "location": "query",
                    "message": "must be after starts_from",
                }
            ],
        )
    rows, cursor = await queries.list_appointments(
        session,
        principal.tenant(),
        paging,
        starts_from=starts_from,
        starts_before=starts_before,
        staff_id=staff_id,
        statuses=list(status) if status else None,
    )
    return Page[AppointmentOut](**page_of(AppointmentOut, rows, cursor))


@router.get("/{appointment_id}", summary="Show an appointment")
async def get_appointment(
    principal: Reader, session: Session, appointment_id: Id
) -> AppointmentOut:
    appointment = await queries.get_appointment(session, principal.tenant(), appointment_id)
    if appointment is None:
        raise Problem(404, "not-found", "Appointment not found")
    return AppointmentOut.model_validate(appointment)
