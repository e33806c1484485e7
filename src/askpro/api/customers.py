"""/api/v1/customers — see askpro.customers.admin for the merged-row and duplicate rules."""

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
from askpro.customers import admin
from askpro.customers.schemas import (
    CustomerCreate,
    CustomerMergeRequest,
    CustomerOut,
    CustomerUpdate,
)

router = APIRouter(prefix="/customers", tags=["customers"])
Reader = Annotated[Principal, requires(Scope.CUSTOMERS_READ)]
Writer = Annotated[Principal, requires(Scope.CUSTOMERS_WRITE)]


@router.get(
    "",
    summary="List customers (merged-away customers only with include_merged)",
    openapi_extra=semantic_fields("query.phone"),
)
async def list_customers(
    principal: Reader,
    session: Session,
    paging: Paging,
    phone: Annotated[
        str | None,
        Query(min_length=3, max_length=40, description="Any format; matched as E.164."),
    ] = None,
    email: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
    name: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Name contains.")
    ] = None,
    include_merged: bool = False,
) -> Page[CustomerOut]:
    rows, cursor = await admin.page_customers(
        session,
        principal.tenant(),
        paging,
        phone=phone,
        email=email,
        name_contains=name,
        include_merged=include_merged,
    )
    return Page[CustomerOut](**page_of(CustomerOut, rows, cursor))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add a customer (409 customer-exists with customer_id when the number is known)",
    openapi_extra=semantic_fields("phone"),
)
async def create_customer(principal: Writer, session: Session, body: CustomerCreate) -> CustomerOut:
    customer = await admin.create_customer(session, principal.tenant(), body)
    await session.commit()
    await session.refresh(customer)
    return CustomerOut.model_validate(customer)


@router.get("/{customer_id}", summary="Show a customer (a merged-away id shows the survivor)")
async def get_customer(principal: Reader, session: Session, customer_id: Id) -> CustomerOut:
    return CustomerOut.model_validate(
        await admin.get_customer(session, principal.tenant(), customer_id)
    )


@router.patch("/{customer_id}", summary="Change a customer", openapi_extra=semantic_fields("phone"))
async def update_customer(
    principal: Writer, session: Session, customer_id: Id, body: CustomerUpdate
) -> CustomerOut:
    customer = await admin.update_customer(session, principal.tenant(), customer_id, body)
    await session.commit()
    await session.refresh(customer)
    return CustomerOut.model_validate(customer)


@router.delete(
    "/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase a customer (appointments and calls stay, without the customer)",
)
async def delete_customer(principal: Writer, session: Session, customer_id: Id) -> Response:
    await admin.delete_customer(session, principal.tenant(), customer_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{customer_id}/merge", summary="Merge duplicates into this customer")
async def merge_customers(
    principal: Writer, session: Session, customer_id: Id, body: CustomerMergeRequest
) -> CustomerOut:
    survivor = await admin.merge(
        session, principal.tenant(), customer_id, body.loser_ids, actor=principal.actor
    )
    await session.commit()
    await session.refresh(survivor)
    return CustomerOut.model_validate(survivor)
