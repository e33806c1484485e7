"""Stripe event handlers for billing: one module per event family, one handler per type."""
