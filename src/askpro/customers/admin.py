"""Use cases of the customers API; the caller (the request) owns the transaction.

Decisions (documented in docs/api-auth.md):
- ``POST /customers`` with a number the company already has answers 409 ``customer-exists``
  naming the existing customer (``customer_id``), never a second row.
- Reading a merged-away customer resolves to the survivor (the answer's ``id`` is the
  survivor's); changing or deleting one answers 404 ``customer-merged`` with
  ``merged_into_id``, so a client never edits a row nobody sees any more.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.customers import repository, service
from askpro.customers.schemas import CustomerCreate, CustomerUpdate
from askpro.kit.pagination import PageRequest
from askpro.kit.phone import InvalidPhoneNumber, normalize_email, normalize_phone
from askpro.kit.problems import Problem
from askpro.models import Company, Customer


def invalid(field: str, message: str, location: str = "body") -> Problem:
    return Problem(
        422,
        "validation-error",
        "Invalid request",
        f"invalid: {field}",
        errors=[{"field": field, "location": location, "message": message}],
    )


def not_found() -> Problem:
    return Problem(404, "not-found", "Customer not found")


async def company_of(session: AsyncSession, company_id: int) -> Company:
    company = await session.get(Company, company_id)
    if company is None:
        raise Problem(404, "not-found", "Company not found")
    return company


def e164(raw: str, country: str, field: str, location: str = "body") -> str:
    try:
        return normalize_phone(raw, country)
    except InvalidPhoneNumber as error:
        raise invalid(field, str(error), location) from None


async def page_customers(
    session: AsyncSession,
    company_id: int,
    paging: PageRequest,
    *,
    phone: str | None,
    email: str | None,
    name_contains: str | None,
    include_merged: bool,
) -> tuple[list[Customer], str | None]:
    company = await company_of(session, company_id)
    return await repository.page(
        session,
        company_id,
        paging,
        phone=None if phone is None else e164(phone, company.country, "query.phone", "query"),
        email=normalize_email(email),
        name_contains=name_contains,
        include_merged=include_merged,
    )


async def get_customer(session: AsyncSession, company_id: int, customer_id: int) -> Customer:
    """The customer, or the survivor it was merged into."""
    customer = await repository.get(session, company_id, customer_id)
    if customer is None:
        raise not_found()
    return await service.resolve(session, customer)


async def live_customer(session: AsyncSession, company_id: int, customer_id: int) -> Customer:
    """A customer that may be changed: exists here and was not merged away."""
    customer = await repository.get(session, company_id, customer_id)
    if customer is None:
        raise not_found()
    if customer.merged_into_id is not None:
        raise Problem(
            404,
            "customer-merged",
            "Customer was merged",
            f"customer {customer_id} was merged into {customer.merged_into_id}",
            merged_into_id=customer.merged_into_id,
        )
    return customer


async def create_customer(session: AsyncSession, company_id: int, data: CustomerCreate) -> Customer:
    company = await company_of(session, company_id)
    name = data.name.strip() or None if data.name else None
    email = normalize_email(data.email)
    if data.phone is None:
        return await repository.add(
            session, Customer(company_id=company_id, name=name, email=email, notes=data.notes)
        )
    phone = e164(data.phone, company.country, "phone")
    customer, created = await repository.insert_or_get_by_phone(
        session, company_id, phone, name, email
    )
    if not created:
        survivor = await service.resolve(session, customer)
        raise Problem(
            409,
            "customer-exists",
            "Customer exists",
            f"customer {survivor.id} already has the number {phone}",
            customer_id=survivor.id,
        )
    if data.notes is not None:
        customer.notes = data.notes
        await session.flush()
    return customer


async def update_customer(
    session: AsyncSession, company_id: int, customer_id: int, data: CustomerUpdate
) -> Customer:
    customer = await live_customer(session, company_id, customer_id)
    values = data.model_dump(exclude_unset=True)
    if "phone" in values and values["phone"] is not None:
        company = await company_of(session, company_id)
        values["phone"] = e164(values["phone"], company.country, "phone")
    if "email" in values:
        values["email"] = normalize_email(values["email"])
    try:
        async with session.begin_nested():  # set inside: begin_nested flushes pending changes
            for field, value in values.items():
                setattr(customer, field, value)
            await session.flush()
    except IntegrityError:
        other = await repository.find_by_phone(session, company_id, values.get("phone") or "")
        raise Problem(
            409,
            "customer-exists",
            "Customer exists",
            f"another customer has the number {values.get('phone')}",
            customer_id=other.id if other else None,
        ) from None
    await session.refresh(customer)
    return customer


async def delete_customer(session: AsyncSession, company_id: int, customer_id: int) -> None:
    """Erase the customer and the rows merged into it (the same person); appointments and
    calls stay, without a customer."""
    customer = await live_customer(session, company_id, customer_id)
    await session.execute(
        delete(Customer).where(
            Customer.company_id == company_id, Customer.merged_into_id == customer.id
        )
    )
    await session.delete(customer)
    await session.flush()


async def merge(
    session: AsyncSession,
    company_id: int,
    survivor_id: int,
    loser_ids: Sequence[int],
    *,
    actor: str,
) -> Customer:
    company = await company_of(session, company_id)
    await live_customer(session, company_id, survivor_id)
    known = set(
        (
            await session.scalars(
                select(Customer.id).where(
                    Customer.company_id == company_id, Customer.id.in_(list(loser_ids))
                )
            )
        ).all()
    )
    unknown = sorted(set(loser_ids) - known)
    if unknown:
        raise invalid("loser_ids", f"no such customers in this company: {unknown}")
    try:
        survivor = await service.merge_duplicates(
            session, company, survivor_id, loser_ids, actor=actor
        )
    except service.MergeError as error:
        raise invalid("loser_ids", str(error)) from None
    await session.refresh(survivor)
    return survivor
