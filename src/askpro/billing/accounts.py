"""Billing accounts: who pays for a company (itself, or a reseller paying for several)."""

from __future__ import annotations

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.errors import BillingError, UnknownCompany
from askpro.models import BillingAccount, Company, LedgerEntry
from askpro.observability import get_logger

log = get_logger(__name__)

DEFAULT_CURRENCY = "eur"


async def account_for_company(session: AsyncSession, company_id: int) -> BillingAccount:
    """The account paying for ``company_id``, created (the company's own) on first use.

    No company row lock is taken here, so postings lock in the ledger's order (payment,
    company, ledger key, account). Concurrent first uses queue on a transaction-scoped
    advisory lock instead, and each looks again once it holds it: the first creates the
    account, the others find it. A conditional ``UPDATE … WHERE billing_account_id IS
    NULL`` racing for the row would not do: under READ COMMITTED the losers keep the row
    locked after re-checking it, a company lock taken before their payment row, and a
    transaction holding that payment row and waiting for the company deadlocks with them.
    """
    account_id = await _account_id_of(session, company_id)
    if account_id is not None:
        return await get_account(session, account_id)
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('billing-account', :company_id))"),
        {"company_id": company_id},
    )
    account_id = await _account_id_of(session, company_id)  # a new snapshot, after the lock
    if account_id is not None:
        return await get_account(session, account_id)
    name = await session.scalar(select(Company.name).where(Company.id == company_id))
    account = BillingAccount(name=name, currency=DEFAULT_CURRENCY)
    session.add(account)
    await session.flush()
    await session.execute(
        update(Company).where(Company.id == company_id).values(billing_account_id=account.id)
    )
    log.info("billing.account.created", account_id=account.id, company_id=company_id)
    return account


async def _account_id_of(session: AsyncSession, company_id: int) -> int | None:
    row = (
        await session.execute(select(Company.billing_account_id).where(Company.id == company_id))
    ).one_or_none()
    if row is None:
        raise UnknownCompany(f"company {company_id} does not exist")
    account_id: int | None = row[0]
    return account_id


async def get_account(session: AsyncSession, account_id: int) -> BillingAccount:
    account = (
        await session.execute(
            select(BillingAccount)
            .where(BillingAccount.id == account_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if account is None:
        raise BillingError(f"billing account {account_id} does not exist")
    return account


async def account_by_stripe_customer(
    session: AsyncSession, customer_id: str
) -> BillingAccount | None:
    result = await session.execute(
        select(BillingAccount)
        .where(BillingAccount.stripe_customer_id == customer_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def link_stripe_customer(
    session: AsyncSession, account: BillingAccount, customer_id: str
) -> None:
    """Remember the Stripe customer of ``account`` (first link wins; conflicts are logged)."""
    if account.stripe_customer_id == customer_id:
        return
    if account.stripe_customer_id is not None:
        log.warning(
            "billing.account.customer_conflict",
            account_id=account.id,
            known_customer=account.stripe_customer_id,
            event_customer=customer_id,
        )
        return
    owner = await account_by_stripe_customer(session, customer_id)
    if owner is not None:
        log.warning("billing.account.customer_elsewhere", account_id=account.id, owner_id=owner.id)
        return
    await session.execute(
        update(BillingAccount)
        .where(BillingAccount.id == account.id, BillingAccount.stripe_customer_id.is_(None))
        .values(stripe_customer_id=customer_id)
    )
    account.stripe_customer_id = customer_id


async def create_reseller_account(
    session: AsyncSession, name: str, *, currency: str = DEFAULT_CURRENCY
) -> BillingAccount:
    """An account that pays for several companies (attach them with :func:`attach_company`)."""
    account = BillingAccount(name=name, currency=currency)
    session.add(account)
    await session.flush()
    return account


async def attach_company(session: AsyncSession, company_id: int, account_id: int) -> None:
    """Let ``account_id`` pay for ``company_id``.

    Refused when the company's current account already has ledger entries: its balance
    belongs to that account and is not silently moved.
    """
    row = (
        await session.execute(
            select(Company.billing_account_id)
            .where(Company.id == company_id)
            .with_for_update(key_share=True)
        )
    ).one_or_none()
    if row is None:
        raise UnknownCompany(f"company {company_id} does not exist")
    current = row[0]
    if current == account_id:
        return
    if current is not None:
        has_entries = await session.scalar(
            select(LedgerEntry.id).where(LedgerEntry.company_id == company_id).limit(1)
        )
        if has_entries is not None:
            raise BillingError(
                f"company {company_id} already has ledger entries on account {current}; "
                "settle them before moving it to another account"
            )
    await get_account(session, account_id)
    await session.execute(
        update(Company).where(Company.id == company_id).values(billing_account_id=account_id)
    )


async def flag_payment_failure(session: AsyncSession, account_id: int, reason: str) -> None:
    """Mark the account: its last payment failed (shown to operators, cleared by a top-up)."""
    await session.execute(
        update(BillingAccount)
        .where(BillingAccount.id == account_id)
        .values(payment_failed_at=func.now(), payment_failure_reason=reason[:500])
    )


async def clear_payment_failure(session: AsyncSession, account_id: int) -> None:
    await session.execute(
        update(BillingAccount)
        .where(BillingAccount.id == account_id, BillingAccount.payment_failed_at.is_not(None))
        .values(payment_failed_at=None, payment_failure_reason=None)
    )
