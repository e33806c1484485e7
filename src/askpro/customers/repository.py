"""Queries of the customers feature (tenant-scoped by ``company_id``)."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest, SortKey, paginate
from askpro.models import Call, Customer

# Follow merged_into_id chains at most this deep (a merge of a merged survivor is rare).
MAX_MERGE_DEPTH = 10


async def get(session: AsyncSession, company_id: int, customer_id: int) -> Customer | None:
    result = await session.execute(
        select(Customer).where(Customer.company_id == company_id, Customer.id == customer_id)
    )
    return result.scalar_one_or_none()


async def find_by_phone(session: AsyncSession, company_id: int, phone: str) -> Customer | None:
    result = await session.execute(
        select(Customer).where(Customer.company_id == company_id, Customer.phone == phone)
    )
    return result.scalar_one_or_none()


async def find_by_email(session: AsyncSession, company_id: int, email: str) -> Customer | None:
    """The oldest customer with this (normalised) e-mail; e-mails are not unique."""
    return (
        await session.scalars(
            select(Customer)
            .where(Customer.company_id == company_id, Customer.email == email)
            .order_by(Customer.id)
            .limit(1)
        )
    ).one_or_none()


async def insert_or_get_by_phone(
    session: AsyncSession, company_id: int, phone: str, name: str | None, email: str | None
) -> tuple[Customer, bool]:
    """``INSERT … ON CONFLICT DO NOTHING`` then read: never check-then-insert."""
    statement = (
        insert(Customer)
        .values(company_id=company_id, phone=phone, name=name, email=email)
        .on_conflict_do_nothing(
            index_elements=["company_id", "phone"], index_where=Customer.phone.is_not(None)
        )
        .returning(Customer.id)
    )
    inserted_id = (await session.execute(statement)).scalar_one_or_none()
    customer = await find_by_phone(session, company_id, phone)
    assert customer is not None  # inserted now or by the transaction we conflicted with
    return customer, inserted_id is not None


async def add(session: AsyncSession, customer: Customer) -> Customer:
    session.add(customer)
    await session.flush()
    return customer


async def lock(session: AsyncSession, company_id: int, ids: list[int]) -> list[Customer]:
    """Row-lock customers in id order (a fixed order cannot deadlock with another merge)."""
    result = await session.execute(
        select(Customer)
        .where(Customer.company_id == company_id, Customer.id.in_(ids))
        .order_by(Customer.id)
        .with_for_update()
    )
    return list(result.scalars().all())


async def repoint(session: AsyncSession, loser_id: int, survivor_id: int) -> dict[str, int]:
    """Calls and merged rows of the loser point at the survivor (appointments: booking's)."""
    calls = await session.execute(
        update(Call)
        .where(Call.customer_id == loser_id)
        .values(customer_id=survivor_id)
        .returning(Call.id)
    )
    merged = await session.execute(
        update(Customer)
        .where(Customer.merged_into_id == loser_id)
        .values(merged_into_id=survivor_id)
        .returning(Customer.id)
    )
    return {
        "calls": len(calls.all()),
        "earlier_merges": len(merged.all()),
    }


async def page(
    session: AsyncSession,
    company_id: int,
    paging: PageRequest,
    *,
    phone: str | None = None,
    email: str | None = None,
    name_contains: str | None = None,
    include_merged: bool = False,
) -> tuple[list[Customer], str | None]:
    """``company_id``'s customers by id; merged-away rows only when asked for."""
    statement = select(Customer).where(Customer.company_id == company_id)
    if not include_merged:
        statement = statement.where(Customer.merged_into_id.is_(None))
    if phone is not None:
        statement = statement.where(Customer.phone == phone)
    if email is not None:
        statement = statement.where(Customer.email == email)
    if name_contains:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", name_contains) + "%"
        statement = statement.where(Customer.name.ilike(pattern, escape="\\"))
    return await paginate(session, statement, [SortKey(Customer.id)], paging)
