"""Booking: availability, holds, book / reschedule / cancel, and the Cal.com sync outbox."""
