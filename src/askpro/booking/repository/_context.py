"""What the booking feature needs to know of the company: its service, branch and the
staff who perform the service, with their Cal.com event types and users."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import Branch, Company, Service, Staff, StaffService


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
