"""Retell ``call_ended`` → one ``call_charge`` (separate from the calls feature's handler)."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.charging import charge_call
from askpro.billing.errors import BillingError
from askpro.billing.metrics import UNCHARGED_CALLS
from askpro.kit.phone import normalize_phone
from askpro.models import Call, PhoneNumber, WebhookEvent
from askpro.observability import get_logger
from askpro.webhooks.registry import handles

log = get_logger(__name__)


def call_duration_ms(call: dict[str, Any]) -> int:
    """``duration_ms``, else ``end_timestamp - start_timestamp`` (epoch ms), else 0."""
    duration = call.get("duration_ms")
    if isinstance(duration, int | float) and duration >= 0:
        return int(duration)
    start, end = call.get("start_timestamp"), call.get("end_timestamp")
    if isinstance(start, int | float) and isinstance(end, int | float) and end > start:
        return int(end - start)
    return 0


def our_number(call: dict[str, Any]) -> str | None:
    """The company's number: the dialled one for inbound calls, the caller id for outbound."""
    number = (
        call.get("from_number") if call.get("direction") == "outbound" else call.get("to_number")
    )
    return number if isinstance(number, str) and number else None


async def company_for_number(session: AsyncSession, number: str) -> int | None:
    candidates = {number}
    with contextlib.suppress(ValueError):
        candidates.add(normalize_phone(number))
    return await session.scalar(
        select(PhoneNumber.company_id).where(PhoneNumber.number.in_(candidates)).limit(1)
    )


@handles("retell", "call_ended")
async def charge_ended_call(session: AsyncSession, event: WebhookEvent) -> None:
    """Charge the call's company once (keyed by the call id).

    The company is the one the calls feature recorded for the call, else the owner of the
    company's number on the call. A call to a number no company owns is not charged: it is
    logged and counted (``askpro_billing_uncharged_calls_total``) rather than failed, because
    failing would also roll back the calls feature's record of the call in this transaction;
    a replay after the number is registered charges it (still once).
    """
    payload = event.payload()
    call = payload.get("call") or payload.get("data")
    if not isinstance(call, dict) or not call.get("call_id"):
        raise BillingError(f"retell event {event.id} carries no call object with a call_id")
    call_id = str(call["call_id"])
    company_id = await session.scalar(select(Call.company_id).where(Call.call_id == call_id))
    number = our_number(call)
    if company_id is None and number is not None:
        company_id = await company_for_number(session, number)
    if company_id is None:
        UNCHARGED_CALLS.inc()
        log.warning("billing.call.no_company", call_id=call_id, number=number)
        return
    await charge_call(
        session, company_id=company_id, call_id=call_id, duration_ms=call_duration_ms(call)
    )
