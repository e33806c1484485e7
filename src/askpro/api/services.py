"""/api/v1/services and who performs them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from askpro.api.deps import Id, Page, Paging, Principal, Session, page_of, requires
from askpro.auth.scopes import Scope
from askpro.models import Service, Staff
from askpro.tenancy import service
from askpro.tenancy.schemas import (
    ServiceCreate,
    ServiceOut,
    ServiceStaffLink,
    ServiceStaffOut,
    ServiceStaffUpdate,
    ServiceUpdate,
    StaffOut,
)


def _members(rows: list[tuple[Staff, int | None]]) -> list[ServiceStaffOut]:
    return [
        ServiceStaffOut(
            **StaffOut.model_validate(staff).model_dump(), calcom_event_type_id=event_type_id
        )
        for staff, event_type_id in rows
    ]


router = APIRouter(prefix="/services", tags=["services"])
Reader = Annotated[Principal, requires(Scope.SERVICES_READ)]
Writer = Annotated[Principal, requires(Scope.SERVICES_WRITE)]


@router.get("", summary="List services")
async def list_services(
    principal: Reader,
    session: Session,
    paging: Paging,
    active: bool | None = None,
    sort: Annotated[Literal["id", "name"], Query(description="Sort key.")] = "id",
) -> Page[ServiceOut]:
    rows, cursor = await service.page(
        session, Service, principal.tenant(), paging, sort=sort, active=active
    )
    return Page[ServiceOut](**page_of(ServiceOut, rows, cursor))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a service")
async def create_service(principal: Writer, session: Session, body: ServiceCreate) -> ServiceOut:
    created = await service.create_service(session, principal.tenant(), body)
    await session.commit()
    return ServiceOut.model_validate(created)


@router.get("/{service_id}", summary="Show a service")
async def get_service(principal: Reader, session: Session, service_id: Id) -> ServiceOut:
    return ServiceOut.model_validate(
        await service.get(session, Service, principal.tenant(), service_id)
    )


@router.patch("/{service_id}", summary="Change a service")
async def update_service(
    principal: Writer, session: Session, service_id: Id, body: ServiceUpdate
) -> ServiceOut:
    changed = await service.update(session, Service, principal.tenant(), service_id, body)
    await session.commit()
    return ServiceOut.model_validate(changed)


@router.delete(
    "/{service_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a service (409 while appointments reference it)",
)
async def delete_service(principal: Writer, session: Session, service_id: Id) -> Response:
    await service.delete(session, Service, principal.tenant(), service_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{service_id}/staff",
    summary="Staff who perform the service, with their own Cal.com event type for it",
)
async def list_service_staff(
    principal: Reader, session: Session, service_id: Id
) -> list[ServiceStaffOut]:
    return _members(await service.staff_of_service(session, principal.tenant(), service_id))


@router.put("/{service_id}/staff", summary="Set who performs the service")
async def set_service_staff(
    principal: Writer, session: Session, service_id: Id, body: ServiceStaffUpdate
) -> list[ServiceStaffOut]:
    """Members who stay keep their Cal.com event type link."""
    members = await service.set_staff_of_service(
        session, principal.tenant(), service_id, body.staff_ids
    )
    await session.commit()
    return _members(members)


@router.patch(
    "/{service_id}/staff/{staff_id}",
    summary="Link a member's own Cal.com event type for the service (their calendar)",
)
async def link_service_staff(
    principal: Writer, session: Session, service_id: Id, staff_id: Id, body: ServiceStaffLink
) -> list[ServiceStaffOut]:
    members = await service.link_staff_event_type(
        session, principal.tenant(), service_id, staff_id, body.calcom_event_type_id
    )
    await session.commit()
    return _members(members)
