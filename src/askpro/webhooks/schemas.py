"""Inbox rows as the operators, the REST API and the dashboard see them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

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
