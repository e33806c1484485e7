"""Subscriptions: the row holds the newest state Stripe told us; older events never win."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import ledger
from askpro.models import Subscription

TERMINAL_STATUSES = ("canceled", "incomplete_expired")
# Tie-break for two events stamped in the same second: the later stage of the lifecycle wins.
_STATUS_ORDER = (
    "ARRAY['incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused', "
    "'incomplete_expired', 'canceled']"
)
_TERMINAL = "('canceled', 'incomplete_expired')"
# Apply the incoming state when it is newer (Stripe's event `created`, then the lifecycle
# order on a tie), and never bring a canceled subscription back to life.
_NEWER = f"""(
    NOT (subscriptions.status IN {_TERMINAL} AND excluded.status NOT IN {_TERMINAL})
    AND (excluded.state_event_created > subscriptions.state_event_created
         OR (excluded.state_event_created = subscriptions.state_event_created
             AND coalesce(array_position({_STATUS_ORDER}, excluded.status), 0)
                 >= coalesce(array_position({_STATUS_ORDER}, subscriptions.status), 0))))"""


@dataclass(frozen=True)
class SubscriptionState:
    stripe_subscription_id: str
    account_id: int
    company_id: int | None
    status: str
    event_created: int
    event_id: str | None
    price_id: str | None = None
    product_id: str | None = None
    unit_amount_cents: int | None = None
    interval: str | None = None
    quantity: int = 1
    included_minutes: int = 0
    current_period_start: dt.datetime | None = None
    current_period_end: dt.datetime | None = None
    cancel_at_period_end: bool = False
    cancel_at: dt.datetime | None = None
    canceled_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


STATE_COLUMNS = (
    "status",
    "price_id",
    "product_id",
    "unit_amount_cents",
    "interval",
    "quantity",
    "included_minutes",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "cancel_at",
    "canceled_at",
    "ended_at",
    "state_event_created",
    "state_event_id",
)


async def apply_state(session: AsyncSession, state: SubscriptionState) -> bool:
    """Store ``state`` if it is newer than what is stored; returns whether it was applied.

    One atomic upsert: concurrent and reordered events converge on the newest state.
    The account's out-of-credit flag is re-derived (an active subscription covers calls).
    """
    statement = insert(Subscription).values(
        stripe_subscription_id=state.stripe_subscription_id,
        billing_account_id=state.account_id,
        company_id=state.company_id,
        status=state.status,
        price_id=state.price_id,
        product_id=state.product_id,
        unit_amount_cents=state.unit_amount_cents,
        interval=state.interval,
        quantity=state.quantity,
        included_minutes=state.included_minutes,
        current_period_start=state.current_period_start,
        current_period_end=state.current_period_end,
        cancel_at_period_end=state.cancel_at_period_end,
        cancel_at=state.cancel_at,
        canceled_at=state.canceled_at,
        ended_at=state.ended_at,
        state_event_created=state.event_created,
        state_event_id=state.event_id,
    )
    updates = {column: statement.excluded[column] for column in STATE_COLUMNS}
    updates["company_id"] = literal_column(
        "coalesce(subscriptions.company_id, excluded.company_id)"
    )
    updates["updated_at"] = literal_column("now()")
    applied = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=["stripe_subscription_id"],
            set_=updates,
            where=literal_column(_NEWER),
        ).returning(Subscription.id)
    )
    account_id = await session.scalar(
        select(Subscription.billing_account_id).where(
            Subscription.stripe_subscription_id == state.stripe_subscription_id
        )
    )
    if account_id is not None:
        await ledger.refresh_credit_flag(session, account_id)
    return applied is not None


async def link_subscription(
    session: AsyncSession, stripe_subscription_id: str, *, account_id: int, company_id: int | None
) -> None:
    """Tie a subscription bought through Checkout to its account before its own events come.

    Creates a placeholder (``incomplete``, event time 0) that any real subscription event
    replaces; an existing row keeps its state.
    """
    statement = insert(Subscription).values(
        stripe_subscription_id=stripe_subscription_id,
        billing_account_id=account_id,
        company_id=company_id,
        status="incomplete",
        state_event_created=0,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["stripe_subscription_id"],
            set_={
                "company_id": literal_column(
                    "coalesce(subscriptions.company_id, excluded.company_id)"
                )
            },
        )
    )


async def find_subscription(
    session: AsyncSession, stripe_subscription_id: str
) -> Subscription | None:
    return (
        await session.execute(
            select(Subscription)
            .where(Subscription.stripe_subscription_id == stripe_subscription_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
