"""Queries of the Cal.com sync over the shared models (tenant-scoped; never commits)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import (
    Appointment,
    CalcomBooking,
    CalcomSyncCursor,
    Service,
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
    """Companies using the event type: as a service's, or as a staff member's own."""
    by_service = await session.scalars(
        select(Service.company_id).where(Service.calcom_event_type_id == event_type_id)
    )
    by_staff = await session.scalars(
        select(StaffService.company_id).where(StaffService.calcom_event_type_id == event_type_id)
    )
    return set(by_service) | set(by_staff)


async def service_by_event_type(
    session: AsyncSession, company_id: int, event_type_id: int | None
) -> Service | None:
    """The service of an event type: the service's own, or a staff member's for it."""
    if event_type_id is None:
        return None
    service: Service | None = await session.scalar(
        select(Service)
        .outerjoin(
            StaffService,
            (StaffService.service_id == Service.id)
            & (StaffService.calcom_event_type_id == event_type_id),
        )
        .where(
            Service.company_id == company_id,
            (Service.calcom_event_type_id == event_type_id)
            | StaffService.calcom_event_type_id.is_not(None),
        )
        .order_by(Service.active.desc(), Service.id)
        .limit(1)
    )
    return service


async def move_ledger_links(session: AsyncSession, source_id: int, target_id: int) -> None:
    """Ledger rows of a merged-away appointment point at the one it was merged into."""
    await session.execute(
        update(CalcomBooking)
        .where(CalcomBooking.appointment_id == source_id)
        .values(appointment_id=target_id)
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
