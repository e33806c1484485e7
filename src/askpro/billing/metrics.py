"""Prometheus metrics of the billing feature."""

from __future__ import annotations

from prometheus_client import Counter

LEDGER_ENTRIES = Counter(
    "askpro_billing_ledger_entries_total",
    "Ledger postings by kind and outcome (posted, duplicate: already counted once).",
    ["kind", "outcome"],
)
PAYMENT_FAILURES = Counter(
    "askpro_billing_payment_failures_total",
    "Failed Stripe payments (charge.failed, invoice.payment_failed, async checkout failures).",
    ["event_type"],
)
OUT_OF_CREDIT = Counter(
    "askpro_billing_out_of_credit_total",
    "Billing accounts that ran out of credit (balance at or below zero, no subscription).",
)
UNCHARGED_CALLS = Counter(
    "askpro_billing_uncharged_calls_total",
    "Ended calls that could not be charged: no company owns their number.",
)
