"""Read-only queries of appointments for the admin API (the booking engine owns writes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest, SortKey, paginate_mappings
from askpro.models import Appointment, AppointmentEvent


class AppointmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    branch_id: int | None
    staff_id: int
    service_id: int
    customer_id: int | None
    call_id: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    source: str
    calcom_booking_uid: str | None
    calcom_sync_state: str
    cancellation_reason: str | None
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


OUT_COLUMNS = [Appointment.__table__.c[name] for name in AppointmentOut.model_fields]


async def list_appointments(
    session: AsyncSession,
    company_id: int,
    page: PageRequest,
    *,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    staff_id: int | None = None,
    statuses: list[str] | None = None,
) -> tuple[list[Mapping[str, Any]], str | None]:
    """``company_id``'s appointments by start time (then id), optionally filtered.

    Rows come back as mappings of the ``AppointmentOut`` columns (no ORM objects: this is
    the hottest read of the API).
    """
    statement = select(*OUT_COLUMNS).where(Appointment.company_id == company_id)
    if starts_from is not None:
        statement = statement.where(Appointment.starts_at >= starts_from)
    if starts_before is not None:
        statement = statement.where(Appointment.starts_at < starts_before)
    if staff_id is not None:
        statement = statement.where(Appointment.staff_id == staff_id)
    if statuses:
        statement = statement.where(Appointment.status.in_(statuses))
    keys = [SortKey(Appointment.starts_at), SortKey(Appointment.id)]
    return await paginate_mappings(session, statement, keys, page)


async def get_appointment(
    session: AsyncSession, company_id: int, appointment_id: int
) -> Appointment | None:
    statement = select(Appointment).where(
        Appointment.id == appointment_id, Appointment.company_id == company_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def history_of(
    session: AsyncSession, company_id: int, appointment_id: int
) -> list[AppointmentEvent]:
    """The appointment's change history, oldest first."""
    statement = (
        select(AppointmentEvent)
        .where(
            AppointmentEvent.company_id == company_id,
            AppointmentEvent.appointment_id == appointment_id,
        )
        .order_by(AppointmentEvent.created_at, AppointmentEvent.id)
    )
    return list((await session.scalars(statement)).all())
