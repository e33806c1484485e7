"""Queries of the Cal.com sync over the shared models (tenant-scoped; never commits)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.phone import InvalidPhoneNumber, normalize_email, normalize_phone
from askpro.models import (
    Appointment,
    AppointmentEvent,
    CalcomBooking,
    CalcomSyncCursor,
    Company,
    Customer,
    Service,
    Staff,
    StaffService,
)


async def lock_company_sync(session: AsyncSession, company_id: int) -> None:
    """Serialize Cal.com sync work per company (webhooks and reconciliation) until commit."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('calcom-sync', :company_id))"),
        {"company_id": company_id},
    )


async def ledger_rows(
    session: AsyncSession, company_id: int, uids: list[str]
) -> dict[str, CalcomBooking]:
    rows = await session.scalars(
        select(CalcomBooking).where(
            CalcomBooking.company_id == company_id, CalcomBooking.uid.in_(uids)
        )
    )
    return {row.uid: row for row in rows}


async def appointment_by_uid(
    session: AsyncSession, company_id: int, uid: str | None
) -> Appointment | None:
    if uid is None:
        return None
    appointment: Appointment | None = await session.scalar(
        select(Appointment).where(
            Appointment.company_id == company_id, Appointment.calcom_booking_uid == uid
        )
    )
    return appointment


async def company_ids_for_uid(session: AsyncSession, uid: str) -> set[int]:
    by_ledger = await session.scalars(
        select(CalcomBooking.company_id).where(CalcomBooking.uid == uid)
    )
    by_appointment = await session.scalars(
        select(Appointment.company_id).where(Appointment.calcom_booking_uid == uid)
    )
    return set(by_ledger) | set(by_appointment)


async def company_ids_for_event_type(session: AsyncSession, event_type_id: int) -> set[int]:
    return set(
        await session.scalars(
            select(Service.company_id).where(Service.calcom_event_type_id == event_type_id)
        )
    )


async def service_by_event_type(
    session: AsyncSession, company_id: int, event_type_id: int | None
) -> Service | None:
    if event_type_id is None:
        return None
    service: Service | None = await session.scalar(
        select(Service)
        .where(Service.company_id == company_id, Service.calcom_event_type_id == event_type_id)
        .order_by(Service.active.desc(), Service.id)
        .limit(1)
    )
    return service


async def staff_candidates(
    session: AsyncSession,
    company_id: int,
    service_id: int,
    *,
    organizer_email: str | None,
    organizer_id: int | None,
) -> list[Staff]:
    """The organizer's staff record first (by email or Cal.com user id), then qualified staff."""
    staff: list[Staff] = []
    email = normalize_email(organizer_email)
    if email or organizer_id is not None:
        matches = await session.scalars(
            select(Staff)
            .where(
                Staff.company_id == company_id,
                Staff.active.is_(True),
                (func.lower(Staff.email) == email) | (Staff.calcom_user_id == organizer_id),
            )
            .order_by(Staff.id)
        )
        staff.extend(matches)
    qualified = await session.scalars(
        select(Staff)
        .join(StaffService, StaffService.staff_id == Staff.id)
        .where(
            StaffService.service_id == service_id,
            Staff.company_id == company_id,
            Staff.active.is_(True),
        )
        .order_by(Staff.id)
    )
    staff.extend(member for member in qualified if member not in staff)
    return staff


async def find_or_create_customer(
    session: AsyncSession,
    company: Company,
    *,
    name: str | None,
    phone: str | None,
    email: str | None,
) -> Customer | None:
    """By E.164 phone, then by email; created when neither matches (race-safe on phone)."""
    try:
        e164 = normalize_phone(phone, company.country) if phone else None
    except InvalidPhoneNumber:
        e164 = None
    email = normalize_email(email)
    if e164 is None and email is None and not name:
        return None
    if e164 is not None:
        await session.execute(
            insert(Customer)
            .values(company_id=company.id, phone=e164, name=name, email=email)
            .on_conflict_do_nothing(
                index_elements=["company_id", "phone"], index_where=text("phone IS NOT NULL")
            )
        )
        customer = await session.scalar(
            select(Customer).where(Customer.company_id == company.id, Customer.phone == e164)
        )
    elif email is not None:
        customer = await session.scalar(
            select(Customer)
            .where(Customer.company_id == company.id, Customer.email == email)
            .order_by(Customer.id)
            .limit(1)
        )
    else:
        customer = None
    if customer is None:
        customer = Customer(company_id=company.id, name=name, email=email, phone=e164)
        session.add(customer)
        await session.flush()
    if customer.merged_into_id is not None:
        merged = await session.get(Customer, customer.merged_into_id)
        customer = merged or customer
    if customer.name is None and name:
        customer.name = name
    if customer.email is None and email:
        customer.email = email
    return customer


async def move_appointment_history(session: AsyncSession, source_id: int, target_id: int) -> None:
    await session.execute(
        update(AppointmentEvent)
        .where(AppointmentEvent.appointment_id == source_id)
        .values(appointment_id=target_id)
    )
    await session.execute(
        update(CalcomBooking)
        .where(CalcomBooking.appointment_id == source_id)
        .values(appointment_id=target_id)
    )


def add_event(
    session: AsyncSession, appointment: Appointment, kind: str, actor: str, changes: dict[str, Any]
) -> None:
    session.add(
        AppointmentEvent(
            company_id=appointment.company_id,
            appointment_id=appointment.id,
            kind=kind,
            actor=actor[:200],
            channel="calcom",
            changes=changes,
        )
    )


async def cursor(session: AsyncSession, account: str) -> dt.datetime | None:
    row = await session.get(CalcomSyncCursor, account)
    return row.last_updated_at if row else None


async def advance_cursor(session: AsyncSession, account: str, last_updated_at: dt.datetime) -> None:
    statement = insert(CalcomSyncCursor).values(account=account, last_updated_at=last_updated_at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["account"],
            set_={
                "last_updated_at": func.greatest(
                    CalcomSyncCursor.last_updated_at, statement.excluded.last_updated_at
                ),
                "last_run_at": func.now(),
            },
        )
    )
