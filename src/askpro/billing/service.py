"""Use cases of the billing feature; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import ledger, repository
from askpro.billing.accounts import DEFAULT_CURRENCY, account_for_company
from askpro.billing.errors import BillingError, UnknownCompany
from askpro.billing.schemas import (
    BalanceOut,
    InvoiceOut,
    LedgerEntryOut,
    PaymentOut,
    ReconcileReport,
    SubscriptionOut,
)
from askpro.kit.pagination import PageRequest, SortKey, paginate
from askpro.models import BillingAccount, Company, Invoice, LedgerEntry, Payment, Subscription
from askpro.observability import get_logger

log = get_logger(__name__)

MAX_ADJUSTMENT_CENTS = 10_000_000


async def is_out_of_credit(session: AsyncSession, company_id: int) -> bool:
    """Whether the company's calls should get a take-a-message answer instead of the agent.

    True when the paying account's balance is at or below zero and it has no active
    subscription (kept in ``billing_accounts.out_of_credit`` with every ledger entry and
    subscription change). A company with no billing activity yet has no account: False.
    """
    row = (
        await session.execute(
            select(Company.id, BillingAccount.out_of_credit)
            .outerjoin(BillingAccount, BillingAccount.id == Company.billing_account_id)
            .where(Company.id == company_id)
        )
    ).one_or_none()
    if row is None:
        raise UnknownCompany(f"company {company_id} does not exist")
    return bool(row[1])


async def get_balance(session: AsyncSession, company_id: int) -> BalanceOut:
    found = await repository.company_with_account(session, company_id)
    if found is None:
        raise UnknownCompany(f"company {company_id} does not exist")
    company, account = found
    return BalanceOut(
        company_id=company.id,
        billing_account_id=account.id if account else None,
        account_name=account.name if account else None,
        currency=account.currency if account else DEFAULT_CURRENCY,
        account_balance_cents=account.balance_cents if account else 0,
        company_balance_cents=company.balance_cents,
        out_of_credit=account.out_of_credit if account else False,
        payment_failed_at=account.payment_failed_at if account else None,
    )


async def adjust(
    session: AsyncSession,
    company_id: int,
    amount_cents: int,
    *,
    reason: str,
    actor: str,
    reference: str | None = None,
) -> ledger.Posting:
    """An operator's ``adjustment`` entry (goodwill credit, correction), audited by actor
    and reason. The same ``reference`` given twice adjusts once."""
    reason = reason.strip()
    if not reason:
        raise BillingError("an adjustment needs a reason")
    if amount_cents == 0 or abs(amount_cents) > MAX_ADJUSTMENT_CENTS:
        raise BillingError(
            f"adjustment must be non-zero and at most {MAX_ADJUSTMENT_CENTS} cents in size"
        )
    account = await account_for_company(session, company_id)
    posting = await ledger.post_entry(
        session,
        account_id=account.id,
        company_id=company_id,
        kind="adjustment",
        amount_cents=amount_cents,
        currency=account.currency,
        external_reference=reference or f"adjustment:{uuid.uuid4()}",
        actor=actor,
        description=reason,
    )
    log.info(
        "billing.adjustment",
        company_id=company_id,
        amount_cents=amount_cents,
        actor=actor,
        reason=reason,
        created=posting.created,
    )
    return posting


async def reconcile(session: AsyncSession) -> ReconcileReport:
    """Recompute every balance from the ledger and report differences (there must be none)."""
    accounts, companies, differences = await ledger.find_differences(session)
    return ReconcileReport(
        accounts_checked=accounts,
        companies_checked=companies,
        differences=[
            {
                "table": difference.table,
                "id": difference.row_id,
                "name": difference.name,
                "stored_cents": difference.stored_cents,
                "ledger_cents": difference.ledger_cents,
            }
            for difference in differences
        ],
    )


async def _scope(session: AsyncSession, company_id: int) -> tuple[int | None, bool]:
    """(account id, whether that account pays for this company alone).

    Account-wide rows (a reseller's invoices) are shown only to a company that is the
    account's sole company: a reseller's customers do not see the reseller's bills.
    """
    found = await repository.company_with_account(session, company_id)
    if found is None:
        raise UnknownCompany(f"company {company_id} does not exist")
    _, account = found
    if account is None:
        return None, False
    companies = await session.scalar(
        select(func.count()).select_from(Company).where(Company.billing_account_id == account.id)
    )
    return account.id, companies == 1


async def page_ledger_entries(
    session: AsyncSession,
    company_id: int,
    paging: PageRequest,
    *,
    kinds: Sequence[str] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> tuple[list[LedgerEntryOut], str | None]:
    """The company's ledger, newest first, keyset-paginated."""
    query = repository.ledger_entries_query(company_id, kinds=kinds, since=since, until=until)
    rows, cursor = await paginate(
        session, query, [SortKey(LedgerEntry.id)], paging, descending=True
    )
    return [LedgerEntryOut.model_validate(row) for row in rows], cursor


async def page_payments(
    session: AsyncSession, company_id: int, paging: PageRequest
) -> tuple[list[PaymentOut], str | None]:
    account_id, sole = await _scope(session, company_id)
    query = repository.payments_query(company_id, account_id if sole else None)
    rows, cursor = await paginate(session, query, [SortKey(Payment.id)], paging, descending=True)
    return [PaymentOut.model_validate(row) for row in rows], cursor


async def page_invoices(
    session: AsyncSession, company_id: int, paging: PageRequest
) -> tuple[list[InvoiceOut], str | None]:
    account_id, sole = await _scope(session, company_id)
    query = repository.invoices_query(account_id if sole else None)
    rows, cursor = await paginate(session, query, [SortKey(Invoice.id)], paging, descending=True)
    return [InvoiceOut.model_validate(row) for row in rows], cursor


async def page_subscriptions(
    session: AsyncSession, company_id: int, paging: PageRequest
) -> tuple[list[SubscriptionOut], str | None]:
    account_id, sole = await _scope(session, company_id)
    query = repository.subscriptions_query(company_id, account_id if sole else None)
    rows, cursor = await paginate(session, query, [SortKey(Subscription.id)], paging)
    return [SubscriptionOut.model_validate(row) for row in rows], cursor
