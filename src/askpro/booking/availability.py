"""Free slots: the calendar's bookable times minus live local appointments, per staff member.

A start time is free when at least one qualified staff member (or the one asked for) has
no live appointment overlapping the service's buffered range. Expired holds never block;
a hold placed by the asking call does not block that call. All instants are UTC; the
branch time zone is only used to talk about them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.gateway import CalendarGateway, CalendarUnavailable, OpeningHours
from askpro.models import Appointment, Branch, Company, Service, Staff, StaffService

DEFAULT_HOURS = OpeningHours()


class ContextError(LookupError):
    """The company, branch, service or staff member asked for does not exist here."""


@dataclass(frozen=True)
class BookingContext:
    company: Company
    branch: Branch | None
    service: Service
    staff: list[Staff]  # qualified candidates, or the one asked for
    time_zone: str

    @property
    def staff_ids(self) -> list[int]:
        return [member.id for member in self.staff]

    def notice(self) -> dt.timedelta:
        minutes = self.service.minimum_notice_minutes
        return dt.timedelta(
            minutes=self.company.minimum_notice_minutes if minutes is None else minutes
        )

    def horizon(self) -> dt.timedelta:
        return dt.timedelta(days=self.company.booking_horizon_days)

    def blocked_range(self, start: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
        """(blocks_from, ends_at, blocks_until) of an appointment starting at ``start``."""
        ends = start + dt.timedelta(minutes=self.service.duration_minutes)
        return (
            start - dt.timedelta(minutes=self.service.buffer_before_minutes),
            ends,
            ends + dt.timedelta(minutes=self.service.buffer_after_minutes),
        )


@dataclass(frozen=True)
class Slot:
    start: dt.datetime
    end: dt.datetime
    staff_ids: tuple[int, ...]


async def load_context(
    session: AsyncSession,
    company_id: int,
    service_id: int,
    *,
    branch_id: int | None = None,
    staff_id: int | None = None,
) -> BookingContext:
    company = await session.get(Company, company_id)
    service = await session.get(Service, service_id)
    if company is None or service is None or service.company_id != company_id or not service.active:
        raise ContextError("service not found")
    branch = await session.get(Branch, branch_id) if branch_id is not None else None
    if branch_id is not None and (branch is None or branch.company_id != company_id):
        raise ContextError("branch not found")
    query = (
        select(Staff)
        .join(StaffService, StaffService.staff_id == Staff.id)
        .where(
            StaffService.service_id == service.id,
            Staff.company_id == company_id,
            Staff.active.is_(True),
        )
        .order_by(Staff.id)
    )
    if branch is not None:
        query = query.where(or_(Staff.branch_id == branch.id, Staff.branch_id.is_(None)))
    if staff_id is not None:
        query = query.where(Staff.id == staff_id)
    staff = list((await session.execute(query)).scalars().all())
    if staff_id is not None and not staff:
        raise ContextError("staff member not found or does not offer this service")
    time_zone = (branch.time_zone if branch and branch.time_zone else None) or company.time_zone
    return BookingContext(company, branch, service, staff, time_zone)


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
    """Blocked ranges of live appointments per staff member that overlap ``[start, end)``."""
    if not staff_ids:
        return {}
    query = select(Appointment.staff_id, Appointment.blocks_from, Appointment.blocks_until).where(
        Appointment.staff_id.in_(staff_ids),
        Appointment.status.in_(("held", "booked")),
        Appointment.blocks_from < end,
        Appointment.blocks_until > start,
        or_(Appointment.status == "booked", Appointment.hold_expires_at > now),
    )
    if ignore_call_id is not None:
        query = query.where(
            ~and_(Appointment.status == "held", Appointment.call_id == ignore_call_id)
        )
    if ignore_appointment_id is not None:
        query = query.where(Appointment.id != ignore_appointment_id)
    ranges: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for staff_id, blocks_from, blocks_until in (await session.execute(query)).all():
        ranges.setdefault(staff_id, []).append((blocks_from, blocks_until))
    return ranges


async def calendar_starts(
    context: BookingContext,
    gateway: CalendarGateway | None,
    start: dt.datetime,
    end: dt.datetime,
    hours: OpeningHours = DEFAULT_HOURS,
) -> list[dt.datetime]:
    """Bookable starts from the calendar (raises ``CalendarUnavailable``) or opening hours."""
    if gateway is None or context.service.calcom_event_type_id is None:
        return hours.slots(context.service, start, end, context.time_zone)
    starts = await gateway.slots(context.service, start, end, context.time_zone)
    return sorted({moment.astimezone(dt.UTC) for moment in starts})


def earliest_start(context: BookingContext, now: dt.datetime) -> dt.datetime:
    return now + context.notice()


def latest_start(context: BookingContext, now: dt.datetime) -> dt.datetime:
    return now + context.horizon()


async def free_slots(
    session: AsyncSession,
    context: BookingContext,
    gateway: CalendarGateway | None,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    ignore_call_id: int | None = None,
    ignore_appointment_id: int | None = None,
    limit: int | None = None,
) -> list[Slot]:
    """Free slots starting in ``[start, end)``, honouring notice and horizon."""
    start = max(start, earliest_start(context, now))
    end = min(end, latest_start(context, now))
    if start >= end or not context.staff:
        return []
    starts = await calendar_starts(context, gateway, start, end)
    return await subtract_local(
        session,
        context,
        starts,
        now=now,
        ignore_call_id=ignore_call_id,
        ignore_appointment_id=ignore_appointment_id,
        limit=limit,
    )


async def subtract_local(
    session: AsyncSession,
    context: BookingContext,
    starts: Sequence[dt.datetime],
    *,
    now: dt.datetime,
    ignore_call_id: int | None = None,
    ignore_appointment_id: int | None = None,
    limit: int | None = None,
) -> list[Slot]:
    if not starts:
        return []
    first_from = context.blocked_range(min(starts))[0]
    last_until = context.blocked_range(max(starts))[2]
    busy = await busy_ranges(
        session,
        context.staff_ids,
        first_from,
        last_until,
        now=now,
        ignore_call_id=ignore_call_id,
        ignore_appointment_id=ignore_appointment_id,
    )
    slots: list[Slot] = []
    for moment in starts:
        blocks_from, ends, blocks_until = context.blocked_range(moment)
        free = tuple(
            staff_id
            for staff_id in context.staff_ids
            if all(
                not (taken_from < blocks_until and blocks_from < taken_until)
                for taken_from, taken_until in busy.get(staff_id, ())
            )
        )
        if free:
            slots.append(Slot(moment, ends, free))
            if limit is not None and len(slots) >= limit:
                break
    return slots


def nearest(slots: Sequence[Slot], target: dt.datetime, count: int = 3) -> list[Slot]:
    """Up to ``count`` slots closest to ``target``, in time order."""
    chosen = sorted(slots, key=lambda slot: (abs(slot.start - target), slot.start))[:count]
    return sorted(chosen, key=lambda slot: slot.start)


async def alternatives(
    session: AsyncSession,
    context: BookingContext,
    gateway: CalendarGateway | None,
    target: dt.datetime,
    *,
    now: dt.datetime,
    ignore_call_id: int | None = None,
    count: int = 3,
) -> list[Slot]:
    """Free slots near ``target``: the same day first, then the next days. Never raises on
    an unreachable calendar (returns what it has: nothing)."""
    try:
        for days in (1, 3, 7):
            window = dt.timedelta(days=days)
            slots = await free_slots(
                session,
                context,
                gateway,
                target - window,
                target + window,
                now=now,
                ignore_call_id=ignore_call_id,
            )
            if slots:
                return nearest(slots, target, count)
    except CalendarUnavailable:
        return []
    return []
