"""Queries of the billing feature; every list is scoped to one company (tenant)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Select, or_, select
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


def ledger_entries_query(
    company_id: int,
    *,
    kinds: Sequence[str] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Select[LedgerEntry]:
    """The company's entries (filter by kind and ``since <= created_at < until``)."""
    query = select(LedgerEntry).where(LedgerEntry.company_id == company_id)
    if kinds:
        query = query.where(LedgerEntry.kind.in_(kinds))
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    return query


def payments_query(company_id: int, sole_account_id: int | None) -> Select[Payment]:
    """The company's payments, plus its account's unattributed ones if it pays alone."""
    return select(Payment).where(
        or_(
            Payment.company_id == company_id,
            (Payment.company_id.is_(None)) & (Payment.billing_account_id == sole_account_id),
        )
    )


def invoices_query(sole_account_id: int | None) -> Select[Invoice]:
    """Invoices are the paying account's: shown to a company that pays for itself alone."""
    return select(Invoice).where(Invoice.billing_account_id == sole_account_id)


def subscriptions_query(company_id: int, sole_account_id: int | None) -> Select[Subscription]:
    return select(Subscription).where(
        or_(
            Subscription.company_id == company_id,
            (Subscription.company_id.is_(None))
            & (Subscription.billing_account_id == sole_account_id),
        )
    )
