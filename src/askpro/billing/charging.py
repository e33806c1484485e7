"""Per-minute call charging: one ``call_charge`` entry per call, exactly once."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import ledger
from askpro.billing.accounts import account_for_company
from askpro.billing.errors import UnknownCompany
from askpro.models import Company


def billable_minutes(duration_ms: int) -> int:
    """Started minutes: 1 ms → 1 minute, 60 000 ms → 1, 60 001 ms → 2."""
    return math.ceil(max(duration_ms, 0) / 60_000)


async def charge_call(
    session: AsyncSession, *, company_id: int, call_id: str, duration_ms: int
) -> ledger.Posting | None:
    """Charge ``ceil(duration / 60 s) * price per minute`` keyed by ``call_id``.

    Returns None when there is nothing to charge (no duration, or a free company).
    """
    price = await session.scalar(
        select(Company.price_per_minute_cents).where(Company.id == company_id)
    )
    if price is None:
        raise UnknownCompany(f"company {company_id} does not exist")
    minutes = billable_minutes(duration_ms)
    amount = minutes * price
    if amount <= 0:
        return None
    account = await account_for_company(session, company_id)
    return await ledger.post_entry(
        session,
        account_id=account.id,
        company_id=company_id,
        kind="call_charge",
        amount_cents=-amount,
        currency=account.currency,
        external_reference=call_id,
        actor="retell",
        description=f"call {call_id}: {minutes} min at {price} cents",
    )
