"""The ledger: every movement of money is one entry, counted exactly once.

``post_entry`` inserts the entry with ``ON CONFLICT (kind, external_reference) DO NOTHING``
and, only when the row was really inserted, moves the account's (and the company's)
balance by the same amount with an atomic ``UPDATE … SET balance = balance + amount`` in
the same transaction. So however often, and however concurrently, the same payment or
call arrives, the unique constraint lets one insert win and the balance moves once;
``balance == sum(entries)`` holds at every commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from askpro.billing.errors import BillingError, CurrencyMismatch
from askpro.billing.metrics import LEDGER_ENTRIES, OUT_OF_CREDIT
from askpro.models import BillingAccount, Company, LedgerEntry
from askpro.models.billing import LEDGER_KINDS
from askpro.observability import get_logger
from askpro.outbound import service as outbound

log = get_logger(__name__)

# Out of credit: the new balance is at or below zero and no subscription covers the calls
# (the statuses of ACTIVE_SUBSCRIPTION_STATUSES). PostgreSQL evaluates every SET expression
# against the old row, so `balance_cents + :amount` is the new balance in each of them.
_MOVE_BALANCE = text("""
UPDATE billing_accounts SET
    balance_cents = balance_cents + :amount,
    out_of_credit = (balance_cents + :amount <= 0 AND NOT EXISTS (
        SELECT 1 FROM subscriptions s
        WHERE s.billing_account_id = billing_accounts.id
          AND s.status IN ('active', 'trialing'))),
    out_of_credit_since = CASE
        WHEN balance_cents + :amount <= 0 AND NOT EXISTS (
            SELECT 1 FROM subscriptions s
            WHERE s.billing_account_id = billing_accounts.id
              AND s.status IN ('active', 'trialing'))
        THEN coalesce(out_of_credit_since, now()) END,
    updated_at = now()
WHERE id = :account_id
RETURNING balance_cents, out_of_credit
""")
_MOVE_COMPANY_BALANCE = text(
    "UPDATE companies SET balance_cents = balance_cents + :amount WHERE id = :company_id"
)


@dataclass(frozen=True)
class Posting:
    """The outcome of :func:`post_entry`: ``created`` is False for a duplicate."""

    created: bool
    entry_id: int | None
    balance_cents: int | None
    out_of_credit: bool | None


async def post_entry(
    session: AsyncSession,
    *,
    account_id: int,
    company_id: int | None,
    kind: str,
    amount_cents: int,
    currency: str,
    external_reference: str,
    actor: str,
    description: str | None = None,
) -> Posting:
    """Add one entry and move the balances, unless ``(kind, external_reference)`` exists."""
    if kind not in LEDGER_KINDS:
        raise BillingError(f"unknown ledger entry kind {kind!r}")
    if not external_reference:
        raise BillingError("a ledger entry needs an external reference")
    # Lock order, the same in every transaction that moves money (so none can deadlock):
    # the payment row (refunds), the company row, the ledger key, the account row.
    # NO KEY UPDATE (the strength the UPDATEs take anyway) does not conflict with the
    # KEY SHARE locks that foreign-key checks of concurrent inserts hold on these rows.
    if company_id is not None:
        await session.execute(
            select(Company.id).where(Company.id == company_id).with_for_update(key_share=True)
        )
    account_currency = await session.scalar(
        select(BillingAccount.currency).where(BillingAccount.id == account_id)
    )
    if account_currency is None:
        raise BillingError(f"billing account {account_id} does not exist")
    if currency.lower() != account_currency:
        raise CurrencyMismatch(
            f"{kind} {external_reference} is in {currency.upper()}, "
            f"billing account {account_id} keeps its balance in {account_currency.upper()}"
        )
    inserted = await session.scalar(
        insert(LedgerEntry)
        .values(
            billing_account_id=account_id,
            company_id=company_id,
            kind=kind,
            amount_cents=amount_cents,
            currency=account_currency,
            external_reference=external_reference,
            description=description,
            actor=actor,
        )
        .on_conflict_do_nothing(index_elements=["kind", "external_reference"])
        .returning(LedgerEntry.id)
    )
    if inserted is None:
        LEDGER_ENTRIES.labels(kind, "duplicate").inc()
        log.info("billing.ledger.duplicate", kind=kind, reference=external_reference)
        return Posting(created=False, entry_id=None, balance_cents=None, out_of_credit=None)
    # Locking the account before the UPDATE gives the UPDATE a snapshot taken after every
    # concurrent change to the account (and its subscriptions) committed: the out-of-credit
    # flag is exact, never computed from a stale subscription state.
    await session.execute(
        select(BillingAccount.id)
        .where(BillingAccount.id == account_id)
        .with_for_update(key_share=True)
    )
    row = (
        await session.execute(_MOVE_BALANCE, {"amount": amount_cents, "account_id": account_id})
    ).one()
    if company_id is not None:
        await session.execute(
            _MOVE_COMPANY_BALANCE, {"amount": amount_cents, "company_id": company_id}
        )
    balance, out_of_credit = int(row[0]), bool(row[1])
    LEDGER_ENTRIES.labels(kind, "posted").inc()
    if out_of_credit and balance - amount_cents > 0:
        OUT_OF_CREDIT.inc()
    if company_id is not None:
        outbound.record_billing_events(
            session,
            company_id,
            kind=kind,
            amount_cents=amount_cents,
            balance_cents=balance,
            became_out_of_credit=out_of_credit and balance - amount_cents > 0,
        )
    log.info(
        "billing.ledger.posted",
        kind=kind,
        reference=external_reference,
        account_id=account_id,
        company_id=company_id,
        amount_cents=amount_cents,
        balance_cents=balance,
        out_of_credit=out_of_credit,
    )
    return Posting(
        created=True, entry_id=inserted, balance_cents=balance, out_of_credit=out_of_credit
    )


async def refresh_credit_flag(session: AsyncSession, account_id: int) -> bool:
    """Re-derive ``out_of_credit`` after a subscription change; returns the new flag."""
    await session.execute(
        select(BillingAccount.id)
        .where(BillingAccount.id == account_id)
        .with_for_update(key_share=True)
    )
    row = (await session.execute(_MOVE_BALANCE, {"amount": 0, "account_id": account_id})).one()
    return bool(row[1])


@dataclass(frozen=True)
class Difference:
    """A stored balance that is not the sum of its ledger entries (there must be none)."""

    table: str
    row_id: int
    name: str
    stored_cents: int
    ledger_cents: int


async def find_differences(session: AsyncSession) -> tuple[int, int, list[Difference]]:
    """Recompute every account and company balance from the ledger.

    Returns (accounts checked, companies checked, differences).
    """
    accounts, account_differences = await _compare_with_ledger(
        session, BillingAccount, LedgerEntry.billing_account_id, "billing_accounts"
    )
    companies, company_differences = await _compare_with_ledger(
        session, Company, LedgerEntry.company_id, "companies"
    )
    return accounts, companies, account_differences + company_differences


async def _compare_with_ledger(
    session: AsyncSession,
    owner: type[BillingAccount] | type[Company],
    ledger_key: InstrumentedAttribute[Any],
    table: str,
) -> tuple[int, list[Difference]]:
    """(rows checked, rows whose stored balance is not the sum of their ledger entries)."""
    sums = (
        select(ledger_key, func.sum(LedgerEntry.amount_cents).label("total"))
        .where(ledger_key.is_not(None))
        .group_by(ledger_key)
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                owner.id, owner.name, owner.balance_cents, func.coalesce(sums.c.total, 0)
            ).outerjoin(sums, sums.c[ledger_key.key] == owner.id)
        )
    ).all()
    differences = [
        Difference(table, row_id, name, stored, int(total))
        for row_id, name, stored, total in rows
        if stored != total
    ]
    return len(rows), differences
