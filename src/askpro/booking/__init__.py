"""Availability, holds, booking, rescheduling, cancelling and Cal.com sync."""
