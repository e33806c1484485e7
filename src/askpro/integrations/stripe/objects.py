"""The Stripe event envelope and the fields billing reads (PROTOCOLS.md §4), parsed leniently.

Unknown fields are ignored; expandable references (``customer``, ``payment_intent`` …) may
arrive as an id or as the expanded object, so both become the id.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from askpro.models import WebhookEvent


def _expandable_id(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("id")
    return value


ExpandableId = Annotated[str | None, BeforeValidator(_expandable_id)]


def _metadata(value: Any) -> Any:
    return value if isinstance(value, dict) else {}


Metadata = Annotated[dict[str, str], BeforeValidator(_metadata)]


def from_epoch(seconds: int | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


class StripeModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class EventData(StripeModel):
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


class StripeEvent(StripeModel):
    id: str
    type: str
    created: int
    data: EventData


class PresentmentDetails(StripeModel):
    """Adaptive Pricing: the amount and currency the customer saw and paid in."""

    presentment_amount: int | None = None
    presentment_currency: str | None = None


class CurrencyConversion(StripeModel):
    """Adaptive Pricing on sessions created before 2025-03-31 (removed in 2025-09-30.clover):
    ``currency``/``amount_total`` are then the customer's, these are the integration's."""

    amount_total: int | None = None
    source_currency: str | None = None


class CheckoutSession(StripeModel):
    id: str
    mode: str
    status: str | None = None
    payment_status: str
    client_reference_id: str | None = None
    customer: ExpandableId = None
    subscription: ExpandableId = None
    payment_intent: ExpandableId = None
    amount_total: int | None = None
    currency: str | None = None
    currency_conversion: CurrencyConversion | None = None
    presentment_details: PresentmentDetails | None = None
    metadata: Metadata = Field(default_factory=dict)
    created: int | None = None

    def settlement(self, account_currency: str) -> tuple[int | None, str]:
        """(amount, currency) to credit an account keeping ``account_currency``.

        Adaptive Pricing lets the customer pay in a local currency. Current API versions keep
        ``amount_total``/``currency`` in askpro's own currency (the customer's side is in
        ``presentment_details``); legacy sessions have the customer's there and askpro's in
        ``currency_conversion``. Any other currency is returned as is, for the ledger to
        refuse loudly.
        """
        own = account_currency.lower()
        currency = (self.currency or own).lower()
        conversion = self.currency_conversion
        if (
            currency != own
            and conversion is not None
            and (conversion.source_currency or "").lower() == own
        ):
            return conversion.amount_total, own
        return self.amount_total, currency


class PaymentIntent(StripeModel):
    id: str
    amount: int
    amount_received: int = 0
    currency: str
    customer: ExpandableId = None
    status: str
    latest_charge: ExpandableId = None
    presentment_details: PresentmentDetails | None = None
    metadata: Metadata = Field(default_factory=dict)
    created: int | None = None


class ChargeOutcome(StripeModel):
    reason: str | None = None
    seller_message: str | None = None
    type: str | None = None


class Charge(StripeModel):
    id: str
    amount: int
    amount_refunded: int = 0
    currency: str
    customer: ExpandableId = None
    payment_intent: ExpandableId = None
    status: str
    failure_code: str | None = None
    failure_message: str | None = None
    outcome: ChargeOutcome | None = None
    metadata: Metadata = Field(default_factory=dict)
    created: int | None = None


class Period(StripeModel):
    start: int | None = None
    end: int | None = None


class InvoiceLine(StripeModel):
    period: Period | None = None


class InvoiceLines(StripeModel):
    data: list[InvoiceLine] = Field(default_factory=list)


class StatusTransitions(StripeModel):
    paid_at: int | None = None


class Invoice(StripeModel):
    id: str
    customer: ExpandableId = None
    status: str | None = None
    number: str | None = None
    amount_due: int = 0
    amount_paid: int = 0
    currency: str
    billing_reason: str | None = None
    period_start: int | None = None
    period_end: int | None = None
    lines: InvoiceLines | None = None
    hosted_invoice_url: str | None = None
    invoice_pdf: str | None = None
    attempt_count: int = 0
    metadata: Metadata = Field(default_factory=dict)
    parent: dict[str, Any] | None = None
    subscription: ExpandableId = None  # legacy API versions; current ones use `parent`
    status_transitions: StatusTransitions | None = None

    @property
    def subscription_id(self) -> str | None:
        """``parent.subscription_details.subscription`` first, then the legacy field."""
        details = (self.parent or {}).get("subscription_details") or {}
        found = _expandable_id(details.get("subscription"))
        return found if isinstance(found, str) and found else self.subscription

    @property
    def service_period(self) -> tuple[int | None, int | None]:
        """The period the invoice pays for: its lines' service period, else its own."""
        for line in self.lines.data if self.lines else []:
            if line.period and line.period.start and line.period.end:
                return line.period.start, line.period.end
        return self.period_start, self.period_end


class Recurring(StripeModel):
    interval: str | None = None


class Price(StripeModel):
    id: str | None = None
    product: ExpandableId = None
    unit_amount: int | None = None
    recurring: Recurring | None = None
    metadata: Metadata = Field(default_factory=dict)


class SubscriptionItem(StripeModel):
    price: Price | None = None
    quantity: int | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None


class SubscriptionItems(StripeModel):
    data: list[SubscriptionItem] = Field(default_factory=list)


class Subscription(StripeModel):
    id: str
    customer: ExpandableId = None
    status: str
    items: SubscriptionItems = Field(default_factory=SubscriptionItems)
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    canceled_at: int | None = None
    ended_at: int | None = None
    current_period_start: int | None = None  # older API versions only
    current_period_end: int | None = None
    metadata: Metadata = Field(default_factory=dict)


def parse_event(event: WebhookEvent) -> StripeEvent:
    """The stored inbox row's body as a Stripe event envelope."""
    return StripeEvent.model_validate(event.payload())
