"""Retell ``call_ended`` → one ``call_charge`` (separate from the calls feature's handler)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.charging import charge_call
from askpro.billing.errors import BillingError
from askpro.billing.metrics import UNCHARGED_CALLS
from askpro.integrations.retell.call import RetellCall
from askpro.models import Call, WebhookEvent
from askpro.observability import get_logger
from askpro.tenancy.service import route_for_number
from askpro.webhooks.registry import handles

log = get_logger(__name__)


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
    retell_call = RetellCall.from_payload(call)
    call_id = str(call["call_id"])
    company_id = await session.scalar(select(Call.company_id).where(Call.call_id == call_id))
    number = retell_call.our_number
    if company_id is None and number is not None:
        route = await route_for_number(session, number)
        company_id = route.company.id if route else None
    if company_id is None:
        UNCHARGED_CALLS.inc()
        log.warning("billing.call.no_company", call_id=call_id, number=number)
        return
    await charge_call(
        session, company_id=company_id, call_id=call_id, duration_ms=retell_call.billable_ms
    )
