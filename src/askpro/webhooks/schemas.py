"""Inbox rows as the operators, the REST API and the dashboard see them."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from askpro.kit.types import Instant
from askpro.models import WebhookEvent


class WebhookEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    event_type: str
    status: str
    attempts: int
    dedup_key: str
    entity_key: str | None
    company_id: int | None
    correlation_id: str | None
    last_error: str | None
    occurred_at: dt.datetime | None
    received_at: dt.datetime
    processed_at: dt.datetime | None
    replayed_at: dt.datetime | None
    replayed_by: str | None
    body_pruned_at: dt.datetime | None


class WebhookEventDetail(WebhookEventOut):
    headers: dict[str, Any]
    # The parsed body; None once retention pruned it (or when it is not JSON).
    payload: Any | None

    @classmethod
    def from_row(cls, row: WebhookEvent) -> WebhookEventDetail:
        try:
            payload = row.payload()
        except ValueError:
            payload = None
        headers = {k: v for k, v in row.headers.items() if "signature" not in k.lower()}
        base = WebhookEventOut.model_validate(row).model_dump()
        return cls(**base, headers=headers, payload=payload)


WebhookProvider = Literal["retell", "calcom", "stripe"]
WebhookStatus = Literal["received", "processing", "processed", "failed", "dead", "ignored"]
# Bulk replays are bounded so one request cannot enqueue an unbounded backlog.
MAX_BULK_REPLAY = 1000


class WebhookReplayFilter(BaseModel):
    """Which events a bulk replay resets: one status, optionally one provider and a start."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"status": "dead", "provider": "stripe", "since": "2030-01-01T00:00:00Z"}]
        },
    )

    status: Literal["failed", "dead"]
    provider: WebhookProvider | None = None
    since: Instant | None = Field(
        default=None, description="Only events received at or after this time."
    )
    limit: int = Field(
        default=MAX_BULK_REPLAY,
        ge=1,
        le=MAX_BULK_REPLAY,
        description=f"At most this many events, oldest first (max {MAX_BULK_REPLAY}).",
    )


class WebhookReplayOut(BaseModel):
    count: int = Field(description="How many events were reset and queued again.")
    replayed: list[int]
    skipped: list[int] = Field(
        description="Matched but not replayed: in flight meanwhile or body pruned."
    )
    limited: bool = Field(description="True when the limit was reached: there may be more.")
