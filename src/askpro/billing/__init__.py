"""Billing: prepaid credit ledger, payments, invoices, subscriptions and call charging."""
