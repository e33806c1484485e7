"""Which billing account (and company) a Stripe object belongs to.

In order: ``metadata.company_id`` (set by askpro's own checkout sessions),
``metadata.billing_account_id``, a numeric ``client_reference_id`` (a company id), and the
Stripe ``customer`` linked to an account. No match raises :class:`UnmatchedEvent`, so the
event is ``failed`` and retried: the company or the link may appear a moment later.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.accounts import (
    account_by_stripe_customer,
    account_for_company,
    get_account,
    link_stripe_customer,
)
from askpro.billing.errors import BillingError, UnknownCompany, UnmatchedEvent
from askpro.models import BillingAccount


@dataclass(frozen=True)
class Match:
    account: BillingAccount
    company_id: int | None


def _as_id(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


async def match_account(
    session: AsyncSession,
    *,
    what: str,
    metadata: dict[str, str],
    customer: str | None,
    client_reference_id: str | None = None,
    link_customer: bool = True,
) -> Match:
    """The account paying for the Stripe object ``what`` (e.g. ``"checkout session cs_…"``).

    Handlers that post to the ledger pass ``link_customer=False`` and call
    :func:`remember_customer` after posting: the account row is locked last (lock order).
    """
    company_id = _as_id(metadata.get("company_id")) or _as_id(client_reference_id)
    if company_id is not None:
        try:
            account = await account_for_company(session, company_id)
        except UnknownCompany:
            raise UnmatchedEvent(
                f"{what} names company {company_id}, which does not exist (yet)"
            ) from None
        match = Match(account, company_id)
    elif (account_id := _as_id(metadata.get("billing_account_id"))) is not None:
        try:
            match = Match(await get_account(session, account_id), None)
        except BillingError:
            raise UnmatchedEvent(
                f"{what} names billing account {account_id}, which does not exist (yet)"
            ) from None
    elif customer and (owner := await account_by_stripe_customer(session, customer)):
        return Match(owner, None)
    else:
        raise UnmatchedEvent(
            f"{what} cannot be matched to a billing account: no metadata.company_id and "
            f"customer {customer or '(none)'} is not linked to any account (yet)"
        )
    if customer and link_customer:
        await link_stripe_customer(session, match.account, customer)
    return match


async def remember_customer(session: AsyncSession, match: Match, customer: str | None) -> None:
    """Link the Stripe customer to the matched account (after any ledger posting)."""
    if customer:
        await link_stripe_customer(session, match.account, customer)
