"""Queries of the billing feature; every list is scoped to one company (tenant)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import BillingAccount, Company, Invoice, LedgerEntry, Payment, Subscription


async def company_with_account(
    session: AsyncSession, company_id: int
) -> tuple[Company, BillingAccount | None] | None:
    row = (
        await session.execute(
            select(Company, BillingAccount)
            .outerjoin(BillingAccount, BillingAccount.id == Company.billing_account_id)
            .where(Company.id == company_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def find_company(session: AsyncSession, reference: str) -> Company | None:
    """A company by id (digits) or by exact name."""
    query = select(Company)
    if reference.isdigit():
        query = query.where(Company.id == int(reference))
    else:
        query = query.where(Company.name == reference).order_by(Company.id).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def list_ledger_entries(
    session: AsyncSession,
    company_id: int,
    *,
    kinds: Sequence[str] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> Sequence[LedgerEntry]:
    """The company's entries, newest first; keyset-paginated by ``after_id`` (exclusive)."""
    query = select(LedgerEntry).where(LedgerEntry.company_id == company_id)
    if kinds:
        query = query.where(LedgerEntry.kind.in_(kinds))
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    if after_id is not None:
        query = query.where(LedgerEntry.id < after_id)
    query = query.order_by(LedgerEntry.id.desc()).limit(limit)
    return (await session.execute(query)).scalars().all()


async def list_payments(
    session: AsyncSession, company_id: int, account_id: int | None, *, limit: int = 50
) -> Sequence[Payment]:
    query = select(Payment).where(
        or_(
            Payment.company_id == company_id,
            (Payment.company_id.is_(None)) & (Payment.billing_account_id == account_id),
        )
    )
    return (await session.execute(query.order_by(Payment.id.desc()).limit(limit))).scalars().all()


async def list_invoices(
    session: AsyncSession, account_id: int | None, *, limit: int = 50
) -> Sequence[Invoice]:
    if account_id is None:
        return []
    query = select(Invoice).where(Invoice.billing_account_id == account_id)
    return (await session.execute(query.order_by(Invoice.id.desc()).limit(limit))).scalars().all()


async def list_subscriptions(
    session: AsyncSession, company_id: int, account_id: int | None
) -> Sequence[Subscription]:
    query = select(Subscription).where(
        or_(
            Subscription.company_id == company_id,
            (Subscription.company_id.is_(None)) & (Subscription.billing_account_id == account_id),
        )
    )
    return (await session.execute(query.order_by(Subscription.id))).scalars().all()
