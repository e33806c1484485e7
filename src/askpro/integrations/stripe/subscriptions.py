"""``customer.subscription.created|updated|deleted``: the newest state wins.

Stripe delivers out of order; each event carries its ``created`` second, and the stored
row remembers the event its state came from. An older event is ignored, a same-second
tie goes to the later lifecycle stage, and a canceled subscription never comes back.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.subscriptions import SubscriptionState, apply_state, find_subscription
from askpro.integrations.stripe.matching import Match, match_account
from askpro.integrations.stripe.objects import Subscription, from_epoch, parse_event
from askpro.models import WebhookEvent
from askpro.observability import get_logger
from askpro.webhooks.registry import handles

log = get_logger(__name__)


def included_minutes(subscription: Subscription) -> int:
    """``metadata.included_minutes`` of the subscription, else of its first price."""
    sources = [subscription.metadata]
    sources += [item.price.metadata for item in subscription.items.data if item.price]
    for metadata in sources:
        value = metadata.get("included_minutes", "").strip()
        if value.isdigit():
            return int(value)
    return 0


@handles(
    "stripe",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
async def on_subscription_changed(session: AsyncSession, event: WebhookEvent) -> None:
    stripe_event = parse_event(event)
    subscription = Subscription.model_validate(stripe_event.data.object)
    known = await find_subscription(session, subscription.id)
    if known is not None:
        account_id, company_id = known.billing_account_id, known.company_id
    else:
        match: Match = await match_account(
            session,
            what=f"subscription {subscription.id}",
            metadata=subscription.metadata,
            customer=subscription.customer,
        )
        account_id, company_id = match.account.id, match.company_id
    item = subscription.items.data[0] if subscription.items.data else None
    price = item.price if item else None
    status = subscription.status
    if stripe_event.type == "customer.subscription.deleted":
        status = "canceled"
    applied = await apply_state(
        session,
        SubscriptionState(
            stripe_subscription_id=subscription.id,
            account_id=account_id,
            company_id=company_id,
            status=status,
            event_created=stripe_event.created,
            event_id=stripe_event.id,
            price_id=price.id if price else None,
            product_id=price.product if price else None,
            unit_amount_cents=price.unit_amount if price else None,
            interval=price.recurring.interval if price and price.recurring else None,
            quantity=(item.quantity if item and item.quantity else 1),
            included_minutes=included_minutes(subscription),
            current_period_start=from_epoch(
                (item.current_period_start if item else None) or subscription.current_period_start
            ),
            current_period_end=from_epoch(
                (item.current_period_end if item else None) or subscription.current_period_end
            ),
            cancel_at_period_end=subscription.cancel_at_period_end,
            cancel_at=from_epoch(subscription.cancel_at),
            canceled_at=from_epoch(subscription.canceled_at),
            ended_at=from_epoch(subscription.ended_at),
        ),
    )
    log.info(
        "billing.subscription.event",
        subscription_id=subscription.id,
        event_id=stripe_event.id,
        status=status,
        applied=applied,
    )
