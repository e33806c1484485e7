"""/api/v1/phone-numbers (scopes of branches: a number rings at a branch)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from askpro.api.deps import (
    Id,
    Page,
    Paging,
    Principal,
    Session,
    page_of,
    requires,
    semantic_fields,
)
from askpro.auth.scopes import Scope
from askpro.models import PhoneNumber
from askpro.tenancy import service
from askpro.tenancy.schemas import PhoneNumberCreate, PhoneNumberOut, PhoneNumberUpdate

router = APIRouter(prefix="/phone-numbers", tags=["phone numbers"])
Reader = Annotated[Principal, requires(Scope.BRANCHES_READ)]
Writer = Annotated[Principal, requires(Scope.BRANCHES_WRITE)]


@router.get("", summary="List phone numbers")
async def list_phone_numbers(
    principal: Reader,
    session: Session,
    paging: Paging,
    branch_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Page[PhoneNumberOut]:
    rows, cursor = await service.page(
        session, PhoneNumber, principal.tenant(), paging, branch_id=branch_id
    )
    return Page[PhoneNumberOut](**page_of(PhoneNumberOut, rows, cursor))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a phone number",
    openapi_extra=semantic_fields("number"),
)
async def create_phone_number(
    principal: Writer, session: Session, body: PhoneNumberCreate
) -> PhoneNumberOut:
    number = await service.create_phone_number(session, principal.tenant(), body)
    await session.commit()
    return PhoneNumberOut.model_validate(number)


@router.get("/{phone_number_id}", summary="Show a phone number")
async def get_phone_number(
    principal: Reader, session: Session, phone_number_id: Id
) -> PhoneNumberOut:
    return PhoneNumberOut.model_validate(
        await service.get(session, PhoneNumber, principal.tenant(), phone_number_id)
    )


@router.patch("/{phone_number_id}", summary="Change a phone number's branch or agent")
async def update_phone_number(
    principal: Writer, session: Session, phone_number_id: Id, body: PhoneNumberUpdate
) -> PhoneNumberOut:
    number = await service.update(session, PhoneNumber, principal.tenant(), phone_number_id, body)
    await session.commit()
    return PhoneNumberOut.model_validate(number)


@router.delete(
    "/{phone_number_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a phone number"
)
async def delete_phone_number(principal: Writer, session: Session, phone_number_id: Id) -> Response:
    await service.delete(session, PhoneNumber, principal.tenant(), phone_number_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
