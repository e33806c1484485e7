"""Billing errors. A webhook handler that raises one leaves its event ``failed`` (retried)."""

from __future__ import annotations


class BillingError(Exception):
    """A billing operation could not be carried out; the message says why (safe to log)."""


class UnknownCompany(BillingError):
    """The company named (by id, metadata or dialled number) does not exist (yet)."""


class UnmatchedEvent(BillingError):
    """A provider event cannot be matched to a billing account (yet): retry later."""


class CurrencyMismatch(BillingError):
    """An amount in another currency than the account's; never summed into its balance."""


class BillingNotConfigured(BillingError):
    """No Stripe API key is configured, so no checkout session can be created."""
