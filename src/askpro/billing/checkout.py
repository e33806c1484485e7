"""Top-up through Stripe Checkout, with the official ``stripe`` library.

The database work (finding or creating the paying account) is committed before Stripe
is called, so no transaction is held open across the network call; the money itself is
counted only when Stripe's ``checkout.session.completed`` (or ``payment_intent.succeeded``)
arrives: both carry ``metadata.company_id``, set here.
"""

from __future__ import annotations

from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.accounts import account_for_company
from askpro.billing.errors import BillingError, BillingNotConfigured
from askpro.billing.schemas import CheckoutSessionCreate, CheckoutSessionOut
from askpro.config import Settings
from askpro.observability import get_logger

log = get_logger(__name__)

PRODUCT_NAME = "askpro call credit"


def stripe_client(settings: Settings) -> stripe.StripeClient:
    if settings.stripe_api_key is None:
        raise BillingNotConfigured("billing is not configured: ASKPRO_STRIPE_API_KEY is not set")
    return stripe.StripeClient(
        settings.stripe_api_key.get_secret_value(),
        http_client=stripe.HTTPXClient(),
        max_network_retries=2,
    )


def checkout_parameters(
    company_id: int, currency: str, customer: str | None, request: CheckoutSessionCreate
) -> dict[str, Any]:
    metadata = {"company_id": str(company_id), "askpro_purpose": "topup"}
    parameters: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": request.amount_cents,
                    "product_data": {"name": PRODUCT_NAME},
                },
                "quantity": 1,
            }
        ],
        "success_url": str(request.success_url),
        "cancel_url": str(request.cancel_url),
        "client_reference_id": str(company_id),
        "metadata": metadata,
        # The PaymentIntent carries the company too, so payment_intent.succeeded credits
        # the same reference as checkout.session.completed (once, by the ledger's key).
        "payment_intent_data": {"metadata": metadata},
    }
    if customer:
        parameters["customer"] = customer
    else:
        parameters["customer_creation"] = "always"
    return parameters


async def create_topup_checkout(
    session: AsyncSession,
    settings: Settings,
    company_id: int,
    request: CheckoutSessionCreate,
    *,
    idempotency_key: str | None = None,
) -> CheckoutSessionOut:
    """Create the Checkout session; commits the session's (account) work first."""
    client = stripe_client(settings)
    account = await account_for_company(session, company_id)
    currency, customer = account.currency, account.stripe_customer_id
    await session.commit()  # never hold a transaction open across the Stripe call
    options: dict[str, Any] = {}
    if idempotency_key:
        options["idempotency_key"] = f"askpro-topup-{company_id}-{idempotency_key}"
    try:
        created = await client.v1.checkout.sessions.create_async(
            params=checkout_parameters(company_id, currency, customer, request),  # type: ignore[arg-type]
            options=options,  # type: ignore[arg-type]
        )
    except stripe.StripeError as error:
        log.warning(
            "billing.checkout.stripe_error", company_id=company_id, error=type(error).__name__
        )
        raise BillingError(f"Stripe refused the checkout session: {error.user_message}") from None
    log.info("billing.checkout.created", company_id=company_id, session_id=created.id)
    return CheckoutSessionOut(
        id=created.id, url=created.url, amount_cents=request.amount_cents, currency=currency
    )
