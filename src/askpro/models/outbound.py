"""Outbound events: the endpoints a company subscribes, the outbox, deliveries and attempts.

An ``OutboundEvent`` row is written in the same transaction as the change it describes, so
an event exists exactly when its change committed. Deliveries fan it out to the endpoints
subscribed at that time (one row per event and endpoint, unique); every HTTP attempt of a
delivery leaves one ``DeliveryAttempt`` row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin, TimestampMixin


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """A company's receiver URL, the event types it wants and its signing secret(s).

    During a rotation both secrets sign until ``previous_secret_expires_at``.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index(None, "company_id", "id"),)

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    follow_redirects: Mapped[bool] = mapped_column(Boolean, server_default="false")
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[dt.datetime | None]
    # Why askpro switched the endpoint off (``gone`` on a 410, ``failing`` after long failure).
    disabled_reason: Mapped[str | None] = mapped_column(String(40))
    disabled_at: Mapped[dt.datetime | None]
    failing_since: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]


class OutboundEvent(IdMixin, Base):
    """One business event (the outbox row): type, payload version, stable message id."""

    __tablename__ = "outbound_events"
    __table_args__ = (
        Index(None, "company_id", "id"),
        Index("ix_outbound_events_unfanned", "id", postgresql_where=text("fanned_out_at IS NULL")),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    # Deliveries to one endpoint with the same key go out in event order (e.g. one appointment).
    ordering_key: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    fanned_out_at: Mapped[dt.datetime | None]


class OutboundDelivery(IdMixin, Base):
    """One event to one endpoint; ``leased_until`` marks an attempt in flight."""

    __tablename__ = "outbound_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed', 'cancelled')", name="status"),
        Index(None, "event_id", "endpoint_id", unique=True),
        Index(None, "endpoint_id", "ordering_key", "event_id"),
        Index(None, "company_id", "id"),
        Index(
            "ix_outbound_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbound_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    ordering_key: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    leased_until: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))


class DeliveryAttempt(IdMixin, Base):
    """One HTTP attempt: status, latency and the start of the receiver's answer."""

    __tablename__ = "outbound_delivery_attempts"
    __table_args__ = (
        Index(None, "delivery_id", "id"),
        Index(None, "company_id"),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_snippet: Mapped[str | None] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))


class CallerMessage(IdMixin, TimestampMixin, Base):
    """A message or a call-back request the agent took from a caller."""

    __tablename__ = "caller_messages"
    __table_args__ = (
        CheckConstraint("kind IN ('message', 'callback')", name="kind"),
        CheckConstraint("urgency IN ('low', 'normal', 'high')", name="urgency"),
        CheckConstraint("status IN ('open', 'done')", name="status"),
        Index(None, "company_id", "id"),
        Index(None, "call_id"),
        Index(None, "customer_id"),
    )

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    caller_number: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(10), server_default="normal")
    callback_window: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), server_default="open")
