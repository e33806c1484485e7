"""/api/v1/staff"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from askpro.api.deps import Id, Page, Paging, Principal, Session, page_of, requires
from askpro.auth.scopes import Scope
from askpro.models import Staff
from askpro.tenancy import service
from askpro.tenancy.schemas import StaffCreate, StaffOut, StaffUpdate

router = APIRouter(prefix="/staff", tags=["staff"])
Reader = Annotated[Principal, requires(Scope.STAFF_READ)]
Writer = Annotated[Principal, requires(Scope.STAFF_WRITE)]


@router.get("", summary="List staff members")
async def list_staff(
    principal: Reader,
    session: Session,
    paging: Paging,
    branch_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    active: bool | None = None,
    sort: Annotated[Literal["id", "name"], Query(description="Sort key.")] = "id",
) -> Page[StaffOut]:
    rows, cursor = await service.page(
        session, Staff, principal.tenant(), paging, sort=sort, branch_id=branch_id, active=active
    )
    return Page[StaffOut](**page_of(StaffOut, rows, cursor))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Add a staff member")
async def create_staff(principal: Writer, session: Session, body: StaffCreate) -> StaffOut:
    member = await service.create_staff(session, principal.tenant(), body)
    await session.commit()
    return StaffOut.model_validate(member)


@router.get("/{staff_id}", summary="Show a staff member")
async def get_staff(principal: Reader, session: Session, staff_id: Id) -> StaffOut:
    return StaffOut.model_validate(await service.get(session, Staff, principal.tenant(), staff_id))


@router.patch("/{staff_id}", summary="Change a staff member")
async def update_staff(
    principal: Writer, session: Session, staff_id: Id, body: StaffUpdate
) -> StaffOut:
    member = await service.update(session, Staff, principal.tenant(), staff_id, body)
    await session.commit()
    return StaffOut.model_validate(member)


@router.delete(
    "/{staff_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a staff member (409 while appointments reference them)",
)
async def delete_staff(principal: Writer, session: Session, staff_id: Id) -> Response:
    await service.delete(session, Staff, principal.tenant(), staff_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
