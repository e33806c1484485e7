"""Outbound events: signed Standard Webhooks deliveries of what happened to a company."""
