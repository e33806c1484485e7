"""What one booking question is about: the company, branch, service and qualified staff,
each staff member with the Cal.com event type that is their calendar for the service."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import repository
from askpro.kit.time import zone
from askpro.models import Branch, Company, Service, Staff


class ContextError(LookupError):
    """The company, branch, service or staff member asked for does not exist here."""


@dataclass(frozen=True)
class StaffCalendar:
    """A qualified staff member and their calendar for the service: their own event type,
    else the service's (shared, or a team round-robin); ``None``: local hours only."""

    staff: Staff
    event_type_id: int | None


@dataclass(frozen=True)
class BookingContext:
    company: Company
    branch: Branch | None
    service: Service
    members: list[StaffCalendar]  # qualified candidates, or the one asked for
    time_zone: str

    @property
    def staff(self) -> list[Staff]:
        return [member.staff for member in self.members]

    @property
    def staff_ids(self) -> list[int]:
        return [member.staff.id for member in self.members]

    def event_type_of(self, staff_id: int) -> int | None:
        return next(
            (m.event_type_id for m in self.members if m.staff.id == staff_id),
            self.service.calcom_event_type_id,
        )

    def notice(self) -> dt.timedelta:
        minutes = self.service.minimum_notice_minutes
        return dt.timedelta(
            minutes=self.company.minimum_notice_minutes if minutes is None else minutes
        )

    def horizon(self) -> dt.timedelta:
        return dt.timedelta(days=self.company.booking_horizon_days)

    def blocked_range(self, start: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
        """(blocks_from, ends_at, blocks_until) of an appointment starting at ``start``."""
        return repository.buffered_range(self.service, start)

    def earliest_start(self, now: dt.datetime) -> dt.datetime:
        return now + self.notice()

    def latest_start(self, now: dt.datetime) -> dt.datetime:
        return now + self.horizon()


async def load_context(
    session: AsyncSession,
    company_id: int,
    service_id: int,
    *,
    branch_id: int | None = None,
    staff_id: int | None = None,
) -> BookingContext:
    """Two round trips: company + service (+ branch), then the qualified staff."""
    found = await repository.company_service_branch(session, company_id, service_id, branch_id)
    if found is None:
        # Only on this error path: tell which of the two does not exist.
        service_exists = branch_id is not None and (
            await repository.company_service_branch(session, company_id, service_id, None)
        )
        raise ContextError("branch not found" if service_exists else "service not found")
    company, service, branch = found
    rows = await repository.qualified_staff(
        session,
        company_id,
        service.id,
        branch_id=branch.id if branch else None,
        staff_id=staff_id,
    )
    if staff_id is not None and not rows:
        raise ContextError("staff member not found or does not offer this service")
    members = [
        StaffCalendar(staff, own if own is not None else service.calcom_event_type_id)
        for staff, own in rows
    ]
    time_zone = (branch.time_zone if branch and branch.time_zone else None) or company.time_zone
    return BookingContext(company, branch, service, members, time_zone)


def uses_calendar(context: BookingContext, staff_id: int, gateway: object | None) -> bool:
    """Whether this member's bookings are pushed to Cal.com."""
    return gateway is not None and context.event_type_of(staff_id) is not None


def day_window(moment: dt.datetime, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """``[00:00, 24:00)`` of the local day of ``moment``, in UTC."""
    tz = zone(time_zone)
    day = moment.astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).astimezone(dt.UTC)
    return start, end
