"""Upsert calls from Retell events so that any order of events gives the same row.

Merge rules, applied in one ``INSERT … ON CONFLICT (call_id) DO UPDATE`` (race-safe):
- a value never turns back into NULL: an event without a field keeps what is stored;
- ``status`` only moves forward (registered → ongoing → ended/not_connected/error);
- the transcript keeps the longest version (transcripts only grow during a call);
- identity fields (company, branch, customer, numbers, start) keep their first value;
- end, duration, disconnection, cost and analysis take the newest non-null value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, literal, null
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.customers import service as customers
from askpro.integrations.retell.call import RetellCall
from askpro.models import Call
from askpro.tenancy.service import Route, e164_or_none, route_for_number

STATUS_RANK = {"registered": 0, "ongoing": 1, "ended": 2, "not_connected": 2, "error": 3}
FINAL_EVENTS = frozenset({"call_ended", "call_analyzed"})


def _number(raw: object) -> str | None:
    """The E.164 form, else the raw text if it fits the column (e.g. ``anonymous``)."""
    e164 = e164_or_none(raw)
    if e164 is not None:
        return e164
    return raw if isinstance(raw, str) and 0 < len(raw) <= 20 else None


def _text(raw: object, limit: int) -> str | None:
    return raw[:limit] if isinstance(raw, str) and raw else None


def _ms(value: Any) -> dt.datetime | None:
    if isinstance(value, int | float) and value > 0:
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    return None


def _status(event_type: str, call: dict[str, Any]) -> str | None:
    status = call.get("call_status")
    status = status if status in STATUS_RANK else None
    if event_type in FINAL_EVENTS and STATUS_RANK.get(status or "registered", 0) < 2:
        return "ended"  # the event itself says the call is over
    return status


def _rank(column: Any) -> Any:
    return case(*((column == literal(name), rank) for name, rank in STATUS_RANK.items()), else_=-1)


async def upsert_from_event(session: AsyncSession, event_type: str, call: dict[str, Any]) -> Call:
    """Apply one Retell event's call object to the call row (created when new)."""
    retell_call = RetellCall.from_payload(call)
    direction = call.get("direction")
    their_number = retell_call.caller_number
    route = await route_for_number(session, retell_call.our_number)
    customer_id = None
    if route is not None:
        customer = await customers.find_by_phone(session, route.company, their_number)
        if customer is None and customers.phone_or_none(their_number, route.company.country):
            customer = await customers.find_or_create(session, route.company, their_number)
        customer_id = customer.id if customer else None
    analysis = call.get("call_analysis") if isinstance(call.get("call_analysis"), dict) else None
    stamps = [
        value
        for value in (call.get("start_timestamp"), call.get("end_timestamp"))
        if isinstance(value, int)
    ]
    values: dict[str, Any] = {
        "call_id": str(call["call_id"]),
        "company_id": route.company.id if route else None,
        "branch_id": route.branch_id if route else None,
        "customer_id": customer_id,
        "agent_id": _text(call.get("agent_id"), 100),
        "from_number": _number(call.get("from_number")),
        "to_number": _number(call.get("to_number")),
        "direction": _text(direction, 20),
        "status": _status(event_type, call),
        "started_at": _ms(call.get("start_timestamp")),
        "ended_at": _ms(call.get("end_timestamp")),
        "duration_ms": call.get("duration_ms")
        if isinstance(call.get("duration_ms"), int)
        else _duration(call),
        "disconnection_reason": _text(call.get("disconnection_reason"), 100),
        "transcript": _text(call.get("transcript"), 1_000_000),
        "summary": _text((analysis or {}).get("call_summary"), 100_000),
        "sentiment": _text((analysis or {}).get("user_sentiment"), 20),
        "analysis": analysis,
        "cost": call.get("call_cost") if isinstance(call.get("call_cost"), dict) else None,
        "last_event_at_ms": max(stamps) if stamps else None,
    }
    return await _upsert(session, values)


def _duration(call: dict[str, Any]) -> int | None:
    start, end = call.get("start_timestamp"), call.get("end_timestamp")
    if isinstance(start, int) and isinstance(end, int) and end >= start:
        return end - start
    return None


async def _upsert(session: AsyncSession, values: dict[str, Any]) -> Call:
    # SQL NULL, not JSON 'null', so COALESCE keeps what an earlier event stored.
    values = {
        name: null() if value is None and name in ("analysis", "cost") else value
        for name, value in values.items()
    }
    statement = insert(Call).values(**values)
    new, old = statement.excluded, Call.__table__.c
    keep_first = ("company_id", "branch_id", "customer_id", "agent_id", "from_number",
                  "to_number", "direction", "started_at")  # fmt: skip
    newest = ("ended_at", "duration_ms", "disconnection_reason", "summary", "sentiment",
              "analysis", "cost")  # fmt: skip
    update: dict[str, Any] = {name: func.coalesce(old[name], new[name]) for name in keep_first}
    update.update({name: func.coalesce(new[name], old[name]) for name in newest})
    update["status"] = _forward_status(old.status, new.status)
    update["transcript"] = _longest(old.transcript, new.transcript)
    update["last_event_at_ms"] = func.greatest(old.last_event_at_ms, new.last_event_at_ms)
    update["updated_at"] = func.now()
    statement = statement.on_conflict_do_update(index_elements=["call_id"], set_=update)
    call_id = (await session.execute(statement.returning(Call.id))).scalar_one()
    call = await session.get(Call, call_id, populate_existing=True)
    assert call is not None
    return call


def _forward_status(old: Any, new: Any) -> Any:
    return case((_rank(new) > _rank(old), new), else_=old)


def _longest(old: Any, new: Any) -> Any:
    return case(
        (old.is_(None), new),
        (new.is_(None), old),
        (func.length(new) > func.length(old), new),
        # Equal lengths: a fixed tie-break, so the order of arrival never matters.
        ((func.length(new) == func.length(old)) & (new > old), new),
        else_=old,
    )


async def ensure_call(session: AsyncSession, route: Route, call: RetellCall) -> Call:
    """The call row a tool call belongs to (created before ``call_started`` if need be)."""
    assert call.call_id is not None
    return await _upsert(
        session,
        {
            "call_id": call.call_id,
            "company_id": route.company.id,
            "branch_id": route.branch_id,
            "customer_id": None,
            "agent_id": _text(call.agent_id, 100),
            "from_number": _number(call.from_number),
            "to_number": _number(call.to_number),
            "direction": call.direction.value,
            "status": "ongoing",
            "started_at": None,
            "ended_at": None,
            "duration_ms": None,
            "disconnection_reason": None,
            "transcript": None,
            "summary": None,
            "sentiment": None,
            "analysis": None,
            "cost": None,
            "last_event_at_ms": None,
        },
    )
