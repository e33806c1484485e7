"""Every query of the booking feature; tenant-scoped (``company_id`` first), never commits.

The history builder (:func:`history`), the overlap check (:func:`busy_ranges`) and the
buffered range (:func:`buffered_range`) exist once, here: every write path uses them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import String, and_, any_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.schemas import AppointmentOut, AppointmentView
from askpro.kit.pagination import KeysetQuery, PageRequest, SortKey
from askpro.models import (
    Appointment,
    AppointmentEvent,
    Branch,
    Company,
    Service,
    Staff,
    StaffService,
)
from askpro.models.appointments import AppointmentStatus, HistoryKind, SyncState

LIVE = (AppointmentStatus.HELD, AppointmentStatus.BOOKED)
OUT_COLUMNS = [Appointment.__table__.c[name] for name in AppointmentOut.model_fields]


def buffered_range(
    service: Service, start: dt.datetime, end: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """(blocks_from, ends_at, blocks_until) of an appointment of ``service`` at ``start``;
    ``end`` when the calendar says how long it is, else the service's duration."""
    ends = end or start + dt.timedelta(minutes=service.duration_minutes)
    return (
        start - dt.timedelta(minutes=service.buffer_before_minutes),
        ends,
        ends + dt.timedelta(minutes=service.buffer_after_minutes),
    )


def is_overlap_violation(error: IntegrityError) -> bool:
    return isinstance(error.orig, pg_errors.ExclusionViolation)


def history(
    appointment: Appointment,
    kind: HistoryKind,
    actor: str,
    channel: str,
    **changes: Any,
) -> AppointmentEvent:
    """The one history row builder: what changed, by whom, through which channel."""
    return AppointmentEvent(
        company_id=appointment.company_id,
        appointment_id=appointment.id,
        kind=kind,
        actor=actor[:200],
        channel=channel,
        changes={key: _jsonable(value) for key, value in changes.items()},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


# --- context ---------------------------------------------------------------------------


async def company_service_branch(
    session: AsyncSession, company_id: int, service_id: int, branch_id: int | None
) -> tuple[Company, Service, Branch | None] | None:
    """The company, its active service and (if asked) its branch, in one round trip."""
    if branch_id is None:
        pair = (
            await session.execute(
                select(Company, Service)
                .join(Service, Service.company_id == Company.id)
                .where(Company.id == company_id, Service.id == service_id, Service.active.is_(True))
            )
        ).one_or_none()
        return None if pair is None else (pair[0], pair[1], None)
    triple = (
        await session.execute(
            select(Company, Service, Branch)
            .join(Service, Service.company_id == Company.id)
            .join(Branch, and_(Branch.company_id == Company.id, Branch.id == branch_id))
            .where(Company.id == company_id, Service.id == service_id, Service.active.is_(True))
        )
    ).one_or_none()
    return None if triple is None else (triple[0], triple[1], triple[2])


async def qualified_staff(
    session: AsyncSession,
    company_id: int,
    service_id: int,
    *,
    branch_id: int | None,
    staff_id: int | None,
) -> list[tuple[Staff, int | None]]:
    """Active staff who perform the service, with their own event type for it (if any)."""
    query = (
        select(Staff, StaffService.calcom_event_type_id)
        .join(StaffService, StaffService.staff_id == Staff.id)
        .where(
            Staff.company_id == company_id,
            StaffService.service_id == service_id,
            Staff.active.is_(True),
        )
        .order_by(Staff.id)
    )
    if branch_id is not None:
        query = query.where(or_(Staff.branch_id == branch_id, Staff.branch_id.is_(None)))
    if staff_id is not None:
        query = query.where(Staff.id == staff_id)
    return [(staff, event_type_id) for staff, event_type_id in (await session.execute(query)).all()]


async def event_type_for(session: AsyncSession, staff_id: int, service_id: int) -> int | None:
    """The member's own event type for the service, else the service's (one round trip)."""
    row = (
        await session.execute(
            select(StaffService.calcom_event_type_id, Service.calcom_event_type_id)
            .select_from(Service)
            .outerjoin(
                StaffService,
                and_(StaffService.service_id == Service.id, StaffService.staff_id == staff_id),
            )
            .where(Service.id == service_id)
        )
    ).one_or_none()
    if row is None:
        return None
    own, shared = row
    return own if own is not None else shared


async def staff_by_calcom_user(
    session: AsyncSession, company_id: int, user_id: int | None, email: str | None
) -> list[Staff]:
    """Active staff whose Cal.com user id (or e-mail) is the host's."""
    if user_id is None and not email:
        return []
    condition = Staff.calcom_user_id == user_id if user_id is not None else None
    if email:
        by_email = func.lower(Staff.email) == email.lower()
        condition = by_email if condition is None else or_(condition, by_email)
    assert condition is not None
    rows = await session.scalars(
        select(Staff)
        .where(Staff.company_id == company_id, Staff.active.is_(True), condition)
        .order_by(Staff.id)
    )
    return list(rows)


# --- live appointments -----------------------------------------------------------------


async def busy_ranges(
    session: AsyncSession,
    staff_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    ignore_call_id: int | None = None,
    ignore_appointment_id: int | None = None,
) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """The one overlap check: blocked ranges of live appointments per staff member that
    overlap ``[start, end)``. Expired holds never block; the asking call's holds do not."""
    if not staff_ids:
        return {}
    query = select(Appointment.staff_id, Appointment.blocks_from, Appointment.blocks_until).where(
        Appointment.staff_id.in_(staff_ids),
        Appointment.status.in_(LIVE),
        Appointment.blocks_from < end,
        Appointment.blocks_until > start,
        or_(Appointment.status == AppointmentStatus.BOOKED, Appointment.hold_expires_at > now),
    )
    if ignore_call_id is not None:
        query = query.where(
            ~and_(
                Appointment.status == AppointmentStatus.HELD,
                Appointment.call_id == ignore_call_id,
            )
        )
    if ignore_appointment_id is not None:
        query = query.where(Appointment.id != ignore_appointment_id)
    ranges: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for staff_id, blocks_from, blocks_until in (await session.execute(query)).all():
        ranges.setdefault(staff_id, []).append((blocks_from, blocks_until))
    return ranges


def overlaps(
    ranges: Sequence[tuple[dt.datetime, dt.datetime]], start: dt.datetime, end: dt.datetime
) -> bool:
    return any(taken_from < end and start < taken_until for taken_from, taken_until in ranges)


async def booked_counts(
    session: AsyncSession, staff_ids: Sequence[int], day_start: dt.datetime, day_end: dt.datetime
) -> dict[int, int]:
    """Live appointments per staff member that day (to spread bookings evenly)."""
    rows = await session.execute(
        select(Appointment.staff_id, func.count())
        .where(
            Appointment.staff_id.in_(staff_ids),
            Appointment.status.in_(LIVE),
            Appointment.starts_at >= day_start,
            Appointment.starts_at < day_end,
        )
        .group_by(Appointment.staff_id)
    )
    return {staff_id: count for staff_id, count in rows.all()}


async def expire_holds(session: AsyncSession, staff_ids: list[int], now: dt.datetime) -> int:
    """Expired holds never block: turn them into cancelled rows before deciding anything."""
    query = update(Appointment).where(
        Appointment.status == AppointmentStatus.HELD, Appointment.hold_expires_at <= now
    )
    if staff_ids:
        query = query.where(Appointment.staff_id.in_(staff_ids))
    result = await session.execute(
        query.values(status=AppointmentStatus.CANCELLED, cancellation_reason="hold_expired")
        .returning(Appointment.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


async def release_call_holds(
    session: AsyncSession, call_row_id: int, *, keep: int | None = None
) -> None:
    query = update(Appointment).where(
        Appointment.call_id == call_row_id, Appointment.status == AppointmentStatus.HELD
    )
    if keep is not None:
        query = query.where(Appointment.id != keep)
    await session.execute(
        query.values(status=AppointmentStatus.CANCELLED, cancellation_reason="hold_released")
    )


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


async def own_hold(
    session: AsyncSession,
    call_row_id: int,
    service_id: int,
    start: dt.datetime,
    staff_ids: Sequence[int],
    now: dt.datetime,
) -> Appointment | None:
    """The call's live hold of exactly this slot, locked for the booking."""
    return (
        await session.execute(
            select(Appointment)
            .where(
                Appointment.call_id == call_row_id,
                Appointment.status == AppointmentStatus.HELD,
                Appointment.service_id == service_id,
                Appointment.starts_at == start,
                Appointment.staff_id.in_(staff_ids),
                Appointment.hold_expires_at > now,
            )
            .with_for_update()
            .limit(1)
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


# --- history and the API's reads -------------------------------------------------------


async def first_booking_event(
    session: AsyncSession, company_id: int, appointment_id: int
) -> AppointmentEvent | None:
    return (
        await session.scalars(
            select(AppointmentEvent)
            .where(
                AppointmentEvent.company_id == company_id,
                AppointmentEvent.appointment_id == appointment_id,
                AppointmentEvent.kind.in_((HistoryKind.BOOKED, HistoryKind.BOOKED_FROM_HOLD)),
            )
            .order_by(AppointmentEvent.id)
            .limit(1)
        )
    ).one_or_none()


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


async def move_history(session: AsyncSession, source_id: int, target_id: int) -> None:
    await session.execute(
        update(AppointmentEvent)
        .where(AppointmentEvent.appointment_id == source_id)
        .values(appointment_id=target_id)
    )


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
