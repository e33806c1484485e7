"""Retell call events in any order give the same call row; later events never erase data."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from sqlalchemy import select

from askpro.db import Database
from askpro.models import Call, Customer, WebhookEvent
from askpro.webhooks.registry import handlers_for, load_handler_modules
from tests.fixtures.booking import Salon
from tests.fixtures.webhooks import sample

SAMPLE_CALL = sample("retell/call_ended.webhook.json")["call"]
CALLER = "+4917611112222"
_deliveries = itertools.count()


def _events(salon: Salon) -> dict[str, dict[str, Any]]:
    ended = copy.deepcopy(SAMPLE_CALL)
    ended.update(call_id="call-order", from_number=CALLER, to_number=salon.number)
    started = {
        key: ended[key]
        for key in (
            "call_id",
            "agent_id",
            "call_type",
            "direction",
            "from_number",
            "to_number",
            "start_timestamp",
        )
    }
    started["call_status"] = "ongoing"
    transcript = {**started, "transcript": "Agent: Hallo"}
    analyzed = copy.deepcopy(ended)
    analyzed["call_status"] = "ended"
    analyzed["call_analysis"] = {
        "call_summary": "Booked a haircut.",
        "user_sentiment": "Positive",
        "call_successful": True,
    }
    return {
        "call_started": {"event": "call_started", "call": started},
        "transcript_updated": {"event": "transcript_updated", "call": transcript},
        "call_ended": {"event": "call_ended", "call": ended},
        "call_analyzed": {"event": "call_analyzed", "call": analyzed},
    }


async def _deliver(database: Database, event_type: str, payload: dict[str, Any]) -> None:
    load_handler_modules()
    async with database.sessions() as session:
        event = WebhookEvent(
            provider="retell",
            event_type=event_type,
            dedup_key=f"{event_type}:{payload['call']['call_id']}:{next(_deliveries)}",
            body=json.dumps(payload).encode(),
        )
        session.add(event)
        await session.flush()
        handlers = handlers_for("retell", event_type)
        assert handlers, f"no handler registered for {event_type}"
        for handler in handlers:
            await handler(session, event)
        await session.commit()


def _state(call: Call) -> dict[str, Any]:
    return {
        column: getattr(call, column)
        for column in (
            "company_id",
            "branch_id",
            "customer_id",
            "agent_id",
            "from_number",
            "to_number",
            "direction",
            "status",
            "started_at",
            "ended_at",
            "duration_ms",
            "disconnection_reason",
            "transcript",
            "summary",
            "sentiment",
            "analysis",
            "last_event_at_ms",
        )
    }


async def test_every_order_of_events_gives_the_same_row(database: Database, salon: Salon) -> None:
    events = _events(salon)
    final_states = []
    for order in itertools.permutations(events):
        for event_type in order:
            await _deliver(database, event_type, events[event_type])
        async with database.sessions() as session:
            call = (await session.execute(select(Call))).scalar_one()
            final_states.append(_state(call))
            await session.delete(call)
            await session.commit()
    first = final_states[0]
    for state in final_states:
        assert state == first
    assert first["status"] == "ended"
    assert first["summary"] == "Booked a haircut."
    assert first["sentiment"] == "Positive"
    # The longest transcript wins (the sample's own transcript is a short placeholder).
    longest = max(SAMPLE_CALL["transcript"], "Agent: Hallo", key=len)
    assert first["transcript"] == longest
    assert first["duration_ms"] == 1714608491736 - 1714608475945
    assert first["company_id"] == salon.company.id
    assert first["branch_id"] == salon.branch.id


async def test_later_event_never_erases_and_replays_are_harmless(
    database: Database, salon: Salon
) -> None:
    events = _events(salon)
    for event_type in ("call_analyzed", "call_started", "transcript_updated", "call_analyzed"):
        await _deliver(database, event_type, events[event_type])
    async with database.sessions() as session:
        call = (await session.execute(select(Call))).scalar_one()
        assert call.summary == "Booked a haircut."
        assert call.status == "ended"
        assert call.ended_at is not None
        assert call.transcript is not None
        assert len(call.transcript) >= len("Agent: Hallo")
        customer = await session.get(Customer, call.customer_id)
        assert customer.phone == CALLER


async def test_odd_field_values_never_break_the_handler(database: Database, salon: Salon) -> None:
    odd = {
        "call_id": "odd-call",
        "direction": "inbound",
        "from_number": 4917612345,  # not a string
        "to_number": salon.number,
        "agent_id": ["not", "a", "string"],
        "call_status": "teleported",
        "start_timestamp": "yesterday",
        "disconnection_reason": "x" * 500,
        "call_analysis": "not an object",
    }
    await _deliver(database, "call_ended", {"event": "call_ended", "call": odd})
    async with database.sessions() as session:
        call = (await session.execute(select(Call).where(Call.call_id == "odd-call"))).scalar_one()
        assert call.from_number is None
        assert call.agent_id is None
        assert call.status == "ended"
        assert call.started_at is None
        assert len(call.disconnection_reason) == 100
