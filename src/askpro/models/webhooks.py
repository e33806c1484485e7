"""The webhook inbox: one row per received provider event, the truth for every webhook."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin

WEBHOOK_STATUSES = ("received", "processing", "processed", "failed", "dead", "ignored")


class WebhookEvent(IdMixin, Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "dedup_key"),
        CheckConstraint(
            "status IN ('received', 'processing', 'processed', 'failed', 'dead', 'ignored')",
            name="status",
        ),
        Index(None, "status", "received_at"),
        Index(None, "provider", "event_type", "received_at"),
        Index(None, "company_id", "received_at"),
        Index(None, "entity_key"),
        # The dashboard's count of a company's failed and dead events.
        Index(
            "ix_webhook_events_company_id_failing",
            "company_id",
            postgresql_where=text("status IN ('failed', 'dead')"),
        ),
    )

    provider: Mapped[str] = mapped_column(String(20))
    event_type: Mapped[str] = mapped_column(String(100))
    dedup_key: Mapped[str] = mapped_column(String(300))
    entity_key: Mapped[str | None] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), server_default="received")
    attempts: Mapped[int] = mapped_column(server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    occurred_at: Mapped[dt.datetime | None]
    received_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    processed_at: Mapped[dt.datetime | None]
    body_pruned_at: Mapped[dt.datetime | None]
    replayed_at: Mapped[dt.datetime | None]
    replayed_by: Mapped[str | None] = mapped_column(String(200))

    def payload(self) -> Any:
        """The parsed JSON body (raises ``ValueError`` once retention pruned the body)."""
        if self.body is None:
            raise ValueError(f"webhook event {self.id} has no body (pruned by retention)")
        return json.loads(self.body)
