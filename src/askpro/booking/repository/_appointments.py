"""Single appointments (by id, idempotency key or customer; locked for a change), their
view, the sync outbox's pending ids, the transfer of a merged customer's appointments, and
the API's list of appointments (its query compiled once)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import String, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.schemas import AppointmentOut, AppointmentView
from askpro.kit.pagination import KeysetQuery, PageRequest, SortKey
from askpro.models import Appointment, Service, Staff
from askpro.models.appointments import AppointmentStatus, SyncState

OUT_COLUMNS = [Appointment.__table__.c[name] for name in AppointmentOut.model_fields]


async def by_idempotency_key(
    session: AsyncSession, company_id: int, key: str
) -> Appointment | None:
    return (
        await session.execute(
            select(Appointment).where(
                Appointment.company_id == company_id, Appointment.idempotency_key == key
            )
        )
    ).scalar_one_or_none()


async def locked(session: AsyncSession, appointment_id: int) -> Appointment:
    return (
        await session.execute(
            select(Appointment).where(Appointment.id == appointment_id).with_for_update()
        )
    ).scalar_one()


async def get_appointment(
    session: AsyncSession, company_id: int, appointment_id: int
) -> Appointment | None:
    statement = select(Appointment).where(
        Appointment.company_id == company_id, Appointment.id == appointment_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def upcoming_of_customer(
    session: AsyncSession, company_id: int, customer_id: int, now: dt.datetime, limit: int = 5
) -> list[Appointment]:
    rows = await session.execute(
        select(Appointment)
        .where(
            Appointment.company_id == company_id,
            Appointment.customer_id == customer_id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at >= now,
        )
        .order_by(Appointment.starts_at)
        .limit(limit)
    )
    return list(rows.scalars().all())


async def pending_sync_ids(
    session: AsyncSession, *, older_than: dt.datetime, limit: int = 500
) -> list[int]:
    result = await session.execute(
        select(Appointment.id)
        .where(
            Appointment.calcom_sync_state == SyncState.PENDING,
            Appointment.updated_at < older_than,
        )
        .order_by(Appointment.id)
        .limit(limit)
    )
    return list(result.scalars().all())


async def view(session: AsyncSession, appointment: Appointment) -> AppointmentView:
    names = (
        await session.execute(
            select(
                select(Staff.name).where(Staff.id == appointment.staff_id).scalar_subquery(),
                select(Service.name).where(Service.id == appointment.service_id).scalar_subquery(),
            )
        )
    ).one_or_none()
    staff_name, service_name = (names[0] or "", names[1] or "") if names else ("", "")
    return AppointmentView(
        id=appointment.id,
        start=appointment.starts_at,
        end=appointment.ends_at,
        status=appointment.status,
        staff_id=appointment.staff_id,
        staff_name=staff_name,
        service_id=appointment.service_id,
        service_name=service_name,
        calcom_sync_state=appointment.calcom_sync_state,
        calcom_booking_uid=appointment.calcom_booking_uid,
        cancellation_reason=appointment.cancellation_reason,
    )


async def transfer_customer(
    session: AsyncSession, company_id: int, from_customer_id: int, to_customer_id: int
) -> int:
    result = await session.execute(
        update(Appointment)
        .where(Appointment.company_id == company_id, Appointment.customer_id == from_customer_id)
        .values(customer_id=to_customer_id)
        .returning(Appointment.id)
    )
    return len(result.all())


# The list's query, compiled once per combination of filters (the hottest read of the API).
APPOINTMENT_LIST = KeysetQuery(
    OUT_COLUMNS,
    [SortKey(Appointment.starts_at), SortKey(Appointment.id)],
    {
        "company_id": Appointment.company_id == bindparam("company_id"),
        "starts_from": Appointment.starts_at >= bindparam("starts_from"),
        "starts_before": Appointment.starts_at < bindparam("starts_before"),
        "staff_id": Appointment.staff_id == bindparam("staff_id"),
        "statuses": Appointment.status == any_(bindparam("statuses", type_=ARRAY(String))),
    },
)


async def list_appointments(
    connection: psycopg.AsyncConnection[Any],
    company_id: int,
    page: PageRequest,
    *,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    staff_id: int | None = None,
    statuses: Sequence[str] | None = None,
) -> tuple[list[tuple[Any, ...]], str | None]:
    """``company_id``'s appointments by start time (then id), optionally filtered.

    Rows are tuples of the ``AppointmentOut`` columns in :data:`APPOINTMENT_LIST`'s
    ``names`` order, read on the driver's ``connection`` (no ORM, no statement built).
    """
    values: dict[str, object] = {"company_id": company_id}
    if starts_from is not None:
        values["starts_from"] = starts_from
    if starts_before is not None:
        values["starts_before"] = starts_before
    if staff_id is not None:
        values["staff_id"] = staff_id
    if statuses:
        values["statuses"] = [str(status) for status in statuses]
    return await APPOINTMENT_LIST.fetch(connection, page, values)
