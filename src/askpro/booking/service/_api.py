"""Use cases of the appointments API over the booking service (which owns transactions).

Idempotency: the API's ``Idempotency-Key`` is stored as ``api:<key>`` on the appointment
(so it can never replay a phone-agent booking). A repeat with the same body answers with
the first appointment; a repeat with a different body (service, start, staff, branch,
customer or notes differ from the *original* booking, as its first history row recorded
it) is refused with 422 ``idempotency-key-reused``. A key whose first attempt booked
nothing (slot taken, too soon…) stored nothing and may be retried.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import repository
from askpro.booking.gateway import CalendarGateway, gateway_for
from askpro.booking.schemas import (
    AppointmentCreate,
    AppointmentSource,
    AppointmentStatus,
    BookingResult,
    Outcome,
)
from askpro.booking.service import _changes
from askpro.booking.service._book import book
from askpro.booking.service._check import BookRequest
from askpro.config import Settings
from askpro.customers import repository as customers
from askpro.customers import service as customer_service
from askpro.customers.admin import e164, invalid
from askpro.db import Database
from askpro.kit.problems import Problem
from askpro.models import Appointment, AppointmentEvent, Company

KEY_PREFIX = "api:"
API_CANCEL_REASON = "cancelled_via_api"


@dataclass(frozen=True)
class Caller:
    """Who asks, for the history rows, and what the booking service needs around it."""

    company_id: int
    actor: str
    settings: Settings
    extras: dict[str, object]


def not_found() -> Problem:
    return Problem(404, "not-found", "Appointment not found")


async def _gateway(session: AsyncSession, caller: Caller) -> CalendarGateway | None:
    company = await session.get(Company, caller.company_id)
    if company is None:
        raise Problem(404, "not-found", "Company not found")
    return gateway_for(company, caller.settings, caller.extras)


async def _customer_id(session: AsyncSession, company: Company, body: AppointmentCreate) -> int:
    if body.customer_id is not None:
        row = await customers.get(session, company.id, body.customer_id)
        if row is None:
            raise invalid("customer_id", "no such customer in this company")
        return (await customer_service.resolve(session, row)).id
    assert body.customer is not None
    phone = e164(body.customer.phone, company.country, "customer.phone")
    row = await customer_service.find_or_create(
        session, company, phone, body.customer.name, body.customer.email
    )
    return row.id


def _differences(
    body: AppointmentCreate, customer_id: int, row: Appointment, first: AppointmentEvent | None
) -> list[str]:
    recorded = first.changes if first is not None else {}
    start = recorded.get("start")
    original_start = dt.datetime.fromisoformat(start) if start else row.starts_at
    fields = {
        "service_id": body.service_id != recorded.get("service_id", row.service_id),
        "starts_at": body.starts_at != original_start,
        "staff_id": body.staff_id is not None
        and body.staff_id != recorded.get("staff_id", row.staff_id),
        "branch_id": body.branch_id is not None and body.branch_id != row.branch_id,
        "customer": customer_id != recorded.get("customer_id", row.customer_id),
        "notes": body.notes != row.notes,
    }
    return [name for name, differs in fields.items() if differs]


async def create_appointment(
    database: Database, caller: Caller, body: AppointmentCreate, idempotency_key: str
) -> tuple[BookingResult, int | None]:
    """Book; returns the service's result and the appointment id when one exists."""
    async with database.sessions() as session:
        company = await session.get(Company, caller.company_id)
        if company is None:
            raise Problem(404, "not-found", "Company not found")
        customer_id = await _customer_id(session, company, body)
        gateway = gateway_for(company, caller.settings, caller.extras)
        await session.commit()
    result = await book(
        database,
        BookRequest(
            company_id=caller.company_id,
            service_id=body.service_id,
            start=body.starts_at,
            branch_id=body.branch_id,
            staff_id=body.staff_id,
            customer_id=customer_id,
            idempotency_key=KEY_PREFIX + idempotency_key,
            notes=body.notes,
            source=AppointmentSource.API,
            actor=caller.actor,
            channel="api",
        ),
        gateway=gateway,
        sync_budget_seconds=caller.settings.booking_sync_budget_seconds,
    )
    appointment_id = result.appointment.id if result.appointment else None
    if result.replayed and appointment_id is not None:
        async with database.sessions() as session:
            row = await session.get(Appointment, appointment_id)
            assert row is not None
            differs = _differences(
                body,
                customer_id,
                row,
                await repository.first_booking_event(session, caller.company_id, appointment_id),
            )
        if differs:
            raise Problem(
                422,
                "idempotency-key-reused",
                "Idempotency key reused",
                "this Idempotency-Key was used for a different request: "
                + ", ".join(differs)
                + " differ",
                errors=[
                    {"field": "header.Idempotency-Key", "location": "header", "message": name}
                    for name in differs
                ],
                appointment_id=appointment_id,
            )
    return result, appointment_id


async def _changeable(session: AsyncSession, company_id: int, appointment_id: int) -> Appointment:
    row = await repository.get_appointment(session, company_id, appointment_id)
    if row is None or row.status == AppointmentStatus.HELD:
        raise not_found()
    return row


async def cancel_appointment(
    database: Database, caller: Caller, appointment_id: int, reason: str | None = None
) -> BookingResult:
    """Cancel (``reason`` is stored and sent to Cal.com); cancelling again is a success."""
    async with database.sessions() as session:
        row = await _changeable(session, caller.company_id, appointment_id)
        if row.status in (AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW):
            raise Problem(
                409, "appointment-closed", "Appointment is over", f"status is {row.status}"
            )
        gateway = await _gateway(session, caller)
    result = await _changes.cancel(
        database,
        _changes.ChangeRequest(
            caller.company_id,
            appointment_id,
            actor=caller.actor,
            channel="api",
            reason=reason or API_CANCEL_REASON,
        ),
        gateway=gateway,
        sync_budget_seconds=caller.settings.booking_sync_budget_seconds,
    )
    if result.outcome is Outcome.NOT_FOUND:
        raise not_found()
    return result


async def reschedule_appointment(
    database: Database, caller: Caller, appointment_id: int, starts_at: dt.datetime
) -> BookingResult:
    async with database.sessions() as session:
        row = await _changeable(session, caller.company_id, appointment_id)
        if row.status != AppointmentStatus.BOOKED:
            raise Problem(
                409,
                "appointment-not-booked",
                "Appointment is not booked",
                f"only booked appointments move; this one is {row.status}",
            )
        gateway = await _gateway(session, caller)
    result = await _changes.reschedule(
        database,
        _changes.ChangeRequest(
            caller.company_id, appointment_id, actor=caller.actor, channel="api"
        ),
        starts_at,
        gateway=gateway,
        sync_budget_seconds=caller.settings.booking_sync_budget_seconds,
    )
    if result.outcome is Outcome.NOT_FOUND:
        raise Problem(
            409,
            "appointment-not-booked",
            "Appointment is not booked",
            "it was cancelled meanwhile",
        )
    return result
