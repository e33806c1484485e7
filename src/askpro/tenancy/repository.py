"""Queries of the tenancy feature. Every tenant-scoped query filters by ``company_id`` here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, func, null, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest, SortKey, paginate
from askpro.models import Branch, Company, PhoneNumber, Service, Staff, StaffService

TenantModel = TypeVar("TenantModel", Branch, PhoneNumber, Staff, Service)


async def add_company(session: AsyncSession, company: Company) -> Company:
    session.add(company)
    await session.flush()
    await session.refresh(company)
    return company


async def list_companies(session: AsyncSession, *, limit: int = 200) -> Sequence[Company]:
    result = await session.execute(select(Company).order_by(Company.id).limit(limit))
    return result.scalars().all()


async def page_companies(
    session: AsyncSession, page: PageRequest
) -> tuple[list[Company], str | None]:
    return await paginate(session, select(Company), [SortKey(Company.id)], page)


async def get_company(session: AsyncSession, company_id: int) -> Company | None:
    return await session.get(Company, company_id)


async def find_company_by_name(session: AsyncSession, name: str) -> Company | None:
    result = await session.execute(select(Company).where(Company.name == name).limit(1))
    return result.scalar_one_or_none()


async def add(session: AsyncSession, row: TenantModel) -> TenantModel:
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def get(
    session: AsyncSession, model: type[TenantModel], company_id: int, row_id: int
) -> TenantModel | None:
    """The row if it belongs to ``company_id``; another company's row is ``None``."""
    statement = select(model).where(model.id == row_id, model.company_id == company_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def page(
    session: AsyncSession,
    model: type[TenantModel],
    company_id: int,
    request: PageRequest,
    *,
    sort: str = "id",
    **filters: Any,
) -> tuple[list[TenantModel], str | None]:
    """One page of ``company_id``'s rows; ``filters`` are equality filters on columns."""
    statement = select(model).where(model.company_id == company_id)
    for column, value in filters.items():
        if value is not None:
            statement = statement.where(getattr(model, column) == value)
    keys = (
        [SortKey(model.id)] if sort == "id" else [SortKey(getattr(model, sort)), SortKey(model.id)]
    )
    return await paginate(session, statement, keys, request)


async def ids_of_company(
    session: AsyncSession, model: type[TenantModel], company_id: int, ids: Sequence[int]
) -> set[int]:
    """Which of ``ids`` exist and belong to ``company_id``."""
    if not ids:
        return set()
    statement = select(model.id).where(model.company_id == company_id, model.id.in_(ids))
    return set((await session.scalars(statement)).all())


async def staff_of_service(
    session: AsyncSession, company_id: int, service_id: int
) -> list[tuple[Staff, int | None]]:
    """Who performs the service, each with their own Cal.com event type for it."""
    statement = (
        select(Staff, StaffService.calcom_event_type_id)
        .join(StaffService, StaffService.staff_id == Staff.id)
        .where(StaffService.company_id == company_id, StaffService.service_id == service_id)
        .order_by(Staff.id)
    )
    return [(staff, event_type) for staff, event_type in (await session.execute(statement)).all()]


async def replace_staff_of_service(
    session: AsyncSession, company_id: int, service_id: int, staff_ids: set[int]
) -> None:
    """Members kept keep their event-type link; removed ones lose theirs."""
    await session.execute(
        delete(StaffService).where(
            StaffService.company_id == company_id,
            StaffService.service_id == service_id,
            StaffService.staff_id.not_in(staff_ids),
        )
    )
    if staff_ids:
        rows = [
            {"staff_id": staff_id, "service_id": service_id, "company_id": company_id}
            for staff_id in sorted(staff_ids)
        ]
        await session.execute(insert(StaffService).values(rows).on_conflict_do_nothing())
    await session.flush()


async def link_staff_event_type(
    session: AsyncSession,
    company_id: int,
    service_id: int,
    staff_id: int,
    event_type_id: int | None,
) -> bool:
    """Set the member's own event type for the service; False if they do not perform it."""
    result = await session.execute(
        update(StaffService)
        .where(
            StaffService.company_id == company_id,
            StaffService.service_id == service_id,
            StaffService.staff_id == staff_id,
        )
        .values(calcom_event_type_id=event_type_id)
        .returning(StaffService.staff_id)
    )
    return result.scalar_one_or_none() is not None


async def active_services(session: AsyncSession, company_id: int) -> list[Service]:
    statement = (
        select(Service)
        .where(Service.company_id == company_id, Service.active.is_(True))
        .order_by(Service.id)
    )
    return list((await session.scalars(statement)).all())


async def number_owner(
    session: AsyncSession, e164: str, *, with_services: bool = False
) -> tuple[PhoneNumber, Company, Branch | None, list[tuple[str, int]] | None] | None:
    """The phone number row, its company, its branch (if any) and, when asked, the company's
    active services as ``(name, minutes)`` by name — all in one round trip."""
    services: Any = None
    if with_services:
        services = (
            select(
                func.coalesce(
                    func.json_agg(
                        aggregate_order_by(
                            func.json_build_array(Service.name, Service.duration_minutes),
                            Service.name,
                        )
                    ),
                    text("'[]'::json"),
                )
            )
            .where(Service.company_id == Company.id, Service.active.is_(True))
            .scalar_subquery()
        )
    row = (
        await session.execute(
            select(PhoneNumber, Company, Branch, services if with_services else null())
            .join(Company, Company.id == PhoneNumber.company_id)
            .outerjoin(Branch, Branch.id == PhoneNumber.branch_id)
            .where(PhoneNumber.number == e164)
        )
    ).first()
    if row is None:
        return None
    listed = [(str(name), int(minutes)) for name, minutes in row[3]] if with_services else None
    return row[0], row[1], row[2], listed
