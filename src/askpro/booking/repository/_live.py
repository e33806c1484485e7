"""Live appointments (held or booked) and the time they block: the buffered range, the one
overlap check, the exclusion constraint's violation, the day's counts per staff member, and
the holds (expired, released, the call's own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from psycopg import errors as pg_errors
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import Appointment, Service
from askpro.models.appointments import AppointmentStatus

LIVE = (AppointmentStatus.HELD, AppointmentStatus.BOOKED)


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
