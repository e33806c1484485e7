"""Calls, merges and the credit balance announce themselves in the transaction that changes them."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import service as billing
from askpro.customers import service as customers
from askpro.models import OutboundEvent, WebhookEvent
from askpro.outbound.schemas import PAYLOADS, EventType
from askpro.webhooks.registry import handlers_for, load_handler_modules
from tests.fixtures import factories
from tests.fixtures.booking import Salon


async def _events(session: AsyncSession) -> list[OutboundEvent]:
    await session.flush()  # the outbox rows are pending in the session until then
    return list((await session.execute(select(OutboundEvent).order_by(OutboundEvent.id))).scalars())


def _valid(event: OutboundEvent) -> None:
    PAYLOADS[EventType(event.type)].model_validate(event.payload)


async def test_retell_call_events_become_call_events_with_summary(
    session: AsyncSession, salon: Salon
) -> None:
    load_handler_modules()
    call = {
        "call_id": "call-ev", "direction": "inbound", "from_number": "+4917611112222",
        "to_number": salon.number, "start_timestamp": 1764583200000,
        "end_timestamp": 1764583320000, "disconnection_reason": "user_hangup",
        "call_analysis": {"call_summary": "Booked a haircut.", "call_successful": True},
    }  # fmt: skip
    for index, event_type in enumerate(("call_started", "call_ended", "call_analyzed")):
        row = WebhookEvent(
            provider="retell",
            event_type=event_type,
            dedup_key=f"{event_type}:{index}",
            body=json.dumps({"event": event_type, "call": call}).encode(),
        )
        session.add(row)
        await session.flush()
        for handler in handlers_for("retell", event_type):
            await handler(session, row)
    events = await _events(session)
    assert [event.type for event in events] == ["call.started", "call.ended", "call.analyzed"]
    for event in events:
        _valid(event)
    ended = events[1].payload
    assert ended["duration_seconds"] == 120
    assert ended["summary"] == "Booked a haircut."
    assert ended["outcome"] == "user_hangup"
    assert {event.ordering_key for event in events} == {"call:call-ev"}


async def test_a_merge_announces_customer_merged(session: AsyncSession) -> None:
    company = await factories.create_company(session)
    survivor = await factories.create_customer(session, company, name="Lisa")
    loser = await factories.create_customer(session, company, name="L. Weber")
    await customers.merge_duplicates(session, company, survivor.id, [loser.id])
    (event,) = await _events(session)
    assert event.type == "customer.merged"
    assert event.payload == {"survivor_id": survivor.id, "merged_ids": [loser.id]}


async def test_the_balance_crossing_its_lines_announces_billing_events(
    session: AsyncSession,
) -> None:
    company = await factories.create_company(session)
    await billing.adjust(session, company.id, 1500, reason="start", actor="test")
    assert await _events(session) == []  # a credit above the low line says nothing
    await billing.adjust(session, company.id, -1000, reason="spend", actor="test")
    await billing.adjust(session, company.id, -500, reason="spend", actor="test")
    events = await _events(session)
    assert [event.type for event in events] == ["billing.low_balance", "billing.out_of_credit"]
    assert [event.payload["balance_cents"] for event in events] == [500, 0]
    for event in events:
        _valid(event)
