"""Queries of the outbound feature; every tenant query takes ``company_id`` first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest, SortKey, paginate
from askpro.models import (
    CallerMessage,
    DeliveryAttempt,
    OutboundDelivery,
    OutboundEvent,
    WebhookEndpoint,
)

# New events become one delivery per subscribed endpoint that existed when they happened.
FAN_OUT = text(
    """
WITH batch AS (
    SELECT id FROM outbound_events WHERE fanned_out_at IS NULL
    ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE outbound_events e SET fanned_out_at = now() FROM batch WHERE e.id = batch.id
    RETURNING e.id, e.company_id, e.type, e.ordering_key, e.created_at
)
INSERT INTO outbound_deliveries (company_id, event_id, endpoint_id, ordering_key)
SELECT m.company_id, m.id, w.id, m.ordering_key
FROM marked m JOIN webhook_endpoints w
  ON w.company_id = m.company_id AND m.type = ANY(w.event_types) AND w.created_at <= m.created_at
ON CONFLICT DO NOTHING
"""
)

# Due deliveries of enabled endpoints, leased for one attempt. A delivery waits while an
# earlier event with the same ordering key to the same endpoint is still pending.
CLAIM = text(
    """
UPDATE outbound_deliveries d
SET leased_until = now() + make_interval(secs => :lease_seconds), attempts = d.attempts + 1
WHERE d.id IN (
    SELECT c.id FROM outbound_deliveries c
    JOIN webhook_endpoints w ON w.id = c.endpoint_id AND w.enabled
    WHERE c.status = 'pending' AND c.next_attempt_at <= now()
      AND (c.leased_until IS NULL OR c.leased_until < now())
      AND NOT EXISTS (
          SELECT 1 FROM outbound_deliveries earlier
          WHERE earlier.endpoint_id = c.endpoint_id
            AND earlier.ordering_key = c.ordering_key
            AND earlier.status = 'pending'
            AND earlier.event_id < c.event_id
      )
    ORDER BY c.next_attempt_at, c.id
    LIMIT :limit
    FOR UPDATE OF c SKIP LOCKED
)
RETURNING d.id
"""
)


async def fan_out(session: AsyncSession, limit: int) -> int:
    result = await session.execute(FAN_OUT, {"limit": limit})
    return int(getattr(result, "rowcount", 0) or 0)


async def claim(session: AsyncSession, limit: int, lease_seconds: float) -> list[int]:
    rows = await session.execute(CLAIM, {"limit": limit, "lease_seconds": lease_seconds})
    return sorted(int(row[0]) for row in rows)


Bundle = tuple[OutboundDelivery, OutboundEvent, WebhookEndpoint]


async def bundles(session: AsyncSession, delivery_ids: Sequence[int]) -> list[Bundle]:
    """Each delivery with its event and endpoint, in delivery order (one query)."""
    rows = await session.execute(
        select(OutboundDelivery, OutboundEvent, WebhookEndpoint)
        .join(OutboundEvent, OutboundEvent.id == OutboundDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == OutboundDelivery.endpoint_id)
        .where(OutboundDelivery.id.in_(delivery_ids))
        .order_by(OutboundDelivery.id)
    )
    return [(row[0], row[1], row[2]) for row in rows.all()]


async def lock_for_recording(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> tuple[dict[int, OutboundDelivery], dict[int, WebhookEndpoint]]:
    """Lock the deliveries and their endpoints, always in id order (no deadlocks)."""
    deliveries = {
        row.id: row
        for row in (
            await session.execute(
                select(OutboundDelivery)
                .where(OutboundDelivery.id.in_(delivery_ids))
                .order_by(OutboundDelivery.id)
                .with_for_update()
            )
        ).scalars()
    }
    endpoint_ids = sorted({row.endpoint_id for row in deliveries.values()})
    endpoints = {
        row.id: row
        for row in (
            await session.execute(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.id.in_(endpoint_ids))
                .order_by(WebhookEndpoint.id)
                .with_for_update()
            )
        ).scalars()
    }
    return deliveries, endpoints


# -- endpoints ----------------------------------------------------------------------------


async def get_endpoint(
    session: AsyncSession, company_id: int, endpoint_id: int, *, for_update: bool = False
) -> WebhookEndpoint | None:
    statement = select(WebhookEndpoint).where(
        WebhookEndpoint.company_id == company_id, WebhookEndpoint.id == endpoint_id
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def page_endpoints(
    session: AsyncSession, company_id: int, page: PageRequest
) -> tuple[list[WebhookEndpoint], str | None]:
    statement = select(WebhookEndpoint).where(WebhookEndpoint.company_id == company_id)
    return await paginate(session, statement, [SortKey(WebhookEndpoint.id)], page)


async def stalled_endpoints(
    session: AsyncSession, company_id: int, askpro_reasons: Sequence[str]
) -> list[tuple[WebhookEndpoint, int]]:
    """Endpoints switched off for one of ``askpro_reasons``, or enabled but failing since a
    time, each with its pending deliveries counted (one query, switched-off ones first)."""
    pending = func.count(OutboundDelivery.id)
    rows = await session.execute(
        select(WebhookEndpoint, pending)
        .outerjoin(
            OutboundDelivery,
            and_(
                OutboundDelivery.company_id == company_id,
                OutboundDelivery.endpoint_id == WebhookEndpoint.id,
                OutboundDelivery.status == "pending",
            ),
        )
        .where(
            WebhookEndpoint.company_id == company_id,
            or_(
                and_(
                    WebhookEndpoint.enabled.is_(False),
                    WebhookEndpoint.disabled_reason.in_(askpro_reasons),
                ),
                and_(WebhookEndpoint.enabled, WebhookEndpoint.failing_since.is_not(None)),
            ),
        )
        .group_by(WebhookEndpoint.id)
        .order_by(WebhookEndpoint.enabled, WebhookEndpoint.id)
    )
    return [(row[0], int(row[1])) for row in rows.all()]


# -- deliveries ---------------------------------------------------------------------------

DeliveryRow = tuple[OutboundDelivery, OutboundEvent]


def _deliveries(company_id: int) -> Any:
    return (
        select(OutboundDelivery, OutboundEvent)
        .join(OutboundEvent, OutboundEvent.id == OutboundDelivery.event_id)
        .where(OutboundDelivery.company_id == company_id)
    )


async def page_deliveries(
    session: AsyncSession,
    company_id: int,
    endpoint_id: int,
    page: PageRequest,
    *,
    status: str | None,
) -> tuple[list[DeliveryRow], str | None]:
    statement = select(OutboundDelivery).where(
        OutboundDelivery.company_id == company_id, OutboundDelivery.endpoint_id == endpoint_id
    )
    if status is not None:
        statement = statement.where(OutboundDelivery.status == status)
    deliveries, cursor = await paginate(
        session, statement, [SortKey(OutboundDelivery.id)], page, descending=True
    )
    ids = [delivery.event_id for delivery in deliveries]
    events = {
        event.id: event
        for event in (
            await session.execute(select(OutboundEvent).where(OutboundEvent.id.in_(ids)))
        ).scalars()
    }
    return [(delivery, events[delivery.event_id]) for delivery in deliveries], cursor


async def get_delivery(
    session: AsyncSession, company_id: int, endpoint_id: int, delivery_id: int
) -> DeliveryRow | None:
    row = (
        await session.execute(
            _deliveries(company_id).where(
                OutboundDelivery.endpoint_id == endpoint_id, OutboundDelivery.id == delivery_id
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def attempts_of(session: AsyncSession, delivery_id: int) -> list[DeliveryAttempt]:
    rows = await session.execute(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery_id)
        .order_by(DeliveryAttempt.id)
    )
    return list(rows.scalars().all())


async def reset_deliveries(
    session: AsyncSession,
    company_id: int,
    endpoint_id: int,
    *,
    delivery_ids: Sequence[int] | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 1000,
) -> list[int]:
    """Put deliveries back to ``pending`` now (same event, so the same ``webhook-id``)."""
    chosen = select(OutboundDelivery.id).where(
        OutboundDelivery.company_id == company_id,
        OutboundDelivery.endpoint_id == endpoint_id,
        OutboundDelivery.leased_until.is_(None) | (OutboundDelivery.leased_until < func.now()),
    )
    if delivery_ids is not None:
        chosen = chosen.where(OutboundDelivery.id.in_(delivery_ids))
    if status is not None:
        chosen = chosen.where(OutboundDelivery.status == status)
    if since is not None:
        chosen = chosen.where(OutboundDelivery.created_at >= since)
    chosen = chosen.order_by(OutboundDelivery.id).limit(limit)
    rows = await session.execute(
        update(OutboundDelivery)
        .where(OutboundDelivery.id.in_(chosen.scalar_subquery()))
        .values(status="pending", next_attempt_at=func.now(), leased_until=None)
        .returning(OutboundDelivery.id)
    )
    return sorted(int(row[0]) for row in rows)


# -- messages -----------------------------------------------------------------------------


async def page_messages(
    session: AsyncSession,
    company_id: int,
    page: PageRequest,
    *,
    kind: str | None,
    status: str | None,
    call_id: int | None,
) -> tuple[list[CallerMessage], str | None]:
    statement = select(CallerMessage).where(CallerMessage.company_id == company_id)
    if kind is not None:
        statement = statement.where(CallerMessage.kind == kind)
    if status is not None:
        statement = statement.where(CallerMessage.status == status)
    if call_id is not None:
        statement = statement.where(CallerMessage.call_id == call_id)
    return await paginate(session, statement, [SortKey(CallerMessage.id)], page, descending=True)


async def get_message(
    session: AsyncSession, company_id: int, message_id: int
) -> CallerMessage | None:
    return (
        await session.execute(
            select(CallerMessage).where(
                CallerMessage.company_id == company_id, CallerMessage.id == message_id
            )
        )
    ).scalar_one_or_none()


async def messages_of_call(
    session: AsyncSession, company_id: int, call_row_id: int
) -> list[CallerMessage]:
    rows = await session.execute(
        select(CallerMessage)
        .where(CallerMessage.company_id == company_id, CallerMessage.call_id == call_row_id)
        .order_by(CallerMessage.id)
    )
    return list(rows.scalars().all())
