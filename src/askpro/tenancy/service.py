"""Use cases of the tenancy feature; the caller owns the transaction.

Every function takes the company the request acts on; a row of another company is
reported exactly like a missing one (404), so nothing leaks across tenants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest
from askpro.kit.phone import InvalidPhoneNumber, normalize_email, normalize_phone
from askpro.kit.problems import Problem
from askpro.models import Branch, Company, PhoneNumber, Service, Staff
from askpro.tenancy import repository
from askpro.tenancy.repository import TenantModel
from askpro.tenancy.schemas import (
    BranchCreate,
    CompanyCreate,
    CompanyUpdate,
    PhoneNumberCreate,
    ServiceCreate,
    StaffCreate,
)


@dataclass(frozen=True)
class Route:
    """Which company (and branch) a call belongs to, found from the company's number."""

    company: Company
    branch_id: int | None
    agent_id: str | None
    branch: Branch | None = None
    # The company's active services as (name, minutes), when the look-up asked for them.
    services: list[tuple[str, int]] | None = None

    @property
    def time_zone(self) -> str:
        branch_zone = self.branch.time_zone if self.branch is not None else None
        return branch_zone or self.company.time_zone


def e164_or_none(raw: object) -> str | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return normalize_phone(raw, "DE")
    except InvalidPhoneNumber:
        return None


async def route_for_number(
    session: AsyncSession, number: str | None, *, with_services: bool = False
) -> Route | None:
    """The one "which company owns this number" look-up (numbers in any format); with
    ``with_services`` the company's active services come in the same round trip."""
    e164 = e164_or_none(number)
    if e164 is None:
        return None
    owner = await repository.number_owner(session, e164, with_services=with_services)
    if owner is None:
        return None
    phone_number, company, branch, services = owner
    return Route(company, phone_number.branch_id, phone_number.retell_agent_id, branch, services)


RESOURCE_NAMES: dict[type[Any], str] = {
    Branch: "Branch",
    PhoneNumber: "Phone number",
    Staff: "Staff member",
    Service: "Service",
    Company: "Company",
}
# Columns a PATCH may set to null; any other column given as null is a 422.
NULLABLE_COLUMNS = frozenset(
    {
        "time_zone",
        "address",
        "branch_id",
        "retell_agent_id",
        "email",
        "calcom_user_id",
        "calcom_event_type_id",
        "minimum_notice_minutes",
    }
)


def not_found(model: type[Any]) -> Problem:
    return Problem(404, "not-found", f"{RESOURCE_NAMES.get(model, 'Resource')} not found")


def invalid_field(field: str, message: str) -> Problem:
    return Problem(
        422,
        "validation-error",
        "Invalid request",
        f"invalid: {field}",
        errors=[{"field": field, "location": "body", "message": message}],
    )


def changes(data: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body set; ``null`` only where the column allows it."""
    values = data.model_dump(exclude_unset=True)
    for field, value in values.items():
        if value is None and field not in NULLABLE_COLUMNS:
            raise invalid_field(field, "may not be null")
    return values


# Companies (platform operators) -------------------------------------------------------


async def create_company(session: AsyncSession, data: CompanyCreate) -> Company:
    return await repository.add_company(session, Company(**data.model_dump()))


async def list_companies(session: AsyncSession) -> Sequence[Company]:
    return await repository.list_companies(session)


async def page_companies(
    session: AsyncSession, page: PageRequest
) -> tuple[list[Company], str | None]:
    return await repository.page_companies(session, page)


async def get_company(session: AsyncSession, company_id: int) -> Company:
    company = await repository.get_company(session, company_id)
    if company is None:
        raise not_found(Company)
    return company


async def update_company(session: AsyncSession, company_id: int, data: CompanyUpdate) -> Company:
    company = await get_company(session, company_id)
    for field, value in changes(data).items():
        setattr(company, field, value)
    await session.flush()
    await session.refresh(company)
    return company


# Tenant-scoped resources ----------------------------------------------------------------


async def get(
    session: AsyncSession, model: type[TenantModel], company_id: int, row_id: int
) -> TenantModel:
    row = await repository.get(session, model, company_id, row_id)
    if row is None:
        raise not_found(model)
    return row


async def page(
    session: AsyncSession,
    model: type[TenantModel],
    company_id: int,
    request: PageRequest,
    *,
    sort: str = "id",
    **filters: Any,
) -> tuple[list[TenantModel], str | None]:
    return await repository.page(session, model, company_id, request, sort=sort, **filters)


async def _check_branch(session: AsyncSession, company_id: int, branch_id: int | None) -> None:
    if branch_id is not None and not await repository.ids_of_company(
        session, Branch, company_id, [branch_id]
    ):
        raise invalid_field("branch_id", "no such branch in this company")


async def _flush_or_conflict(session: AsyncSession, message: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Problem(409, "conflict", "Conflict", message) from None


async def create_branch(session: AsyncSession, company_id: int, data: BranchCreate) -> Branch:
    return await repository.add(session, Branch(company_id=company_id, **data.model_dump()))


async def create_staff(session: AsyncSession, company_id: int, data: StaffCreate) -> Staff:
    await _check_branch(session, company_id, data.branch_id)
    values = data.model_dump()
    values["email"] = normalize_email(values["email"])
    return await repository.add(session, Staff(company_id=company_id, **values))


async def create_service(session: AsyncSession, company_id: int, data: ServiceCreate) -> Service:
    return await repository.add(session, Service(company_id=company_id, **data.model_dump()))


async def create_phone_number(
    session: AsyncSession, company_id: int, data: PhoneNumberCreate
) -> PhoneNumber:
    await _check_branch(session, company_id, data.branch_id)
    company = await get_company(session, company_id)
    try:
        number = normalize_phone(data.number, company.country)
    except InvalidPhoneNumber as error:
        raise invalid_field("number", str(error)) from None
    row = PhoneNumber(company_id=company_id, **{**data.model_dump(), "number": number})
    session.add(row)
    await _flush_or_conflict(session, f"{number} is already registered")
    await session.refresh(row)
    return row


async def update(
    session: AsyncSession,
    model: type[TenantModel],
    company_id: int,
    row_id: int,
    data: BaseModel,
) -> TenantModel:
    row = await get(session, model, company_id, row_id)
    values = changes(data)
    if "branch_id" in values:
        await _check_branch(session, company_id, values["branch_id"])
    if "email" in values:
        values["email"] = normalize_email(values["email"])
    for field, value in values.items():
        setattr(row, field, value)
    await _flush_or_conflict(session, "the change conflicts with existing data")
    await session.refresh(row)
    return row


async def delete(
    session: AsyncSession, model: type[TenantModel], company_id: int, row_id: int
) -> None:
    row = await get(session, model, company_id, row_id)
    await session.delete(row)
    await _flush_or_conflict(
        session, f"{RESOURCE_NAMES[model].lower()} is still used by appointments"
    )


async def staff_of_service(
    session: AsyncSession, company_id: int, service_id: int
) -> list[tuple[Staff, int | None]]:
    """Who performs the service, each with their own Cal.com event type for it (or None)."""
    await get(session, Service, company_id, service_id)
    return await repository.staff_of_service(session, company_id, service_id)


async def link_staff_event_type(
    session: AsyncSession,
    company_id: int,
    service_id: int,
    staff_id: int,
    event_type_id: int | None,
) -> list[tuple[Staff, int | None]]:
    """Name the member's own Cal.com event type for the service (their calendar)."""
    await get(session, Service, company_id, service_id)
    linked = await repository.link_staff_event_type(
        session, company_id, service_id, staff_id, event_type_id
    )
    if not linked:
        raise Problem(404, "not-found", "Staff member not found", "they do not perform it")
    return await repository.staff_of_service(session, company_id, service_id)


async def set_staff_of_service(
    session: AsyncSession, company_id: int, service_id: int, staff_ids: Sequence[int]
) -> list[tuple[Staff, int | None]]:
    """Replace who performs the service; every id must be staff of the same company."""
    await get(session, Service, company_id, service_id)
    wanted = set(staff_ids)
    known = await repository.ids_of_company(session, Staff, company_id, sorted(wanted))
    unknown = sorted(wanted - known)
    if unknown:
        raise invalid_field("staff_ids", f"no such staff in this company: {unknown}")
    await repository.replace_staff_of_service(session, company_id, service_id, wanted)
    return await repository.staff_of_service(session, company_id, service_id)


async def active_services(session: AsyncSession, company_id: int) -> list[Service]:
    """The company's active services, by id."""
    return await repository.active_services(session, company_id)


async def calcom_mapping_of(
    session: AsyncSession, company_id: int
) -> tuple[Company, list[tuple[Staff, dict[int, int | None]]], list[Service]]:
    """The company, its active staff with their own event type per service, its services."""
    company = await repository.get_company(session, company_id)
    if company is None:
        raise Problem(404, "not-found", "Company not found")
    services = await repository.active_services(session, company_id)
    staff: dict[int, tuple[Staff, dict[int, int | None]]] = {}
    for service in services:
        for member, event_type_id in await repository.staff_of_service(
            session, company_id, service.id
        ):
            if member.active:
                staff.setdefault(member.id, (member, {}))[1][service.id] = event_type_id
    return company, list(staff.values()), services


async def link_calcom_event_type(
    session: AsyncSession,
    company_id: int,
    service_id: int,
    event_type_id: int,
    *,
    staff_id: int | None = None,
    calcom_user_id: int | None = None,
) -> None:
    """Link a member's own event type for a service (with ``staff_id``; their Cal.com user
    id is recorded when unknown), or the service's own event type."""
    if staff_id is None:
        service = await get(session, Service, company_id, service_id)
        service.calcom_event_type_id = event_type_id
        await session.flush()
        return
    await repository.link_staff_event_type(session, company_id, service_id, staff_id, event_type_id)
    member = await get(session, Staff, company_id, staff_id)
    if member.calcom_user_id is None and calcom_user_id is not None:
        member.calcom_user_id = calcom_user_id
    await session.flush()
