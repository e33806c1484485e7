"""The answer to Retell's inbound-call webhook: who is calling whom, and what to offer.

Installed into the webhook hub with ``set_inbound_responder``; the hub verifies the
signature, records the event and returns what :func:`build_inbound_answer` builds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import service as billing_service
from askpro.customers import service as customers
from askpro.integrations.retell import catalog
from askpro.integrations.retell.metrics import INBOUND_ANSWERS
from askpro.kit.time import utc_now, zone
from askpro.models import Company
from askpro.observability import get_logger
from askpro.runtime import get_runtime

log = get_logger(__name__)


async def should_take_message(session: AsyncSession, company: Company) -> bool:
    """True when the agent must not book: the company is suspended, or billing says its
    paying account is out of credit (balance at or below zero, no active subscription)."""
    if company.status == "suspended":
        return True
    return await billing_service.is_out_of_credit(session, company.id)


async def build_inbound_answer(session: AsyncSession, payload: dict[str, Any]) -> dict[str, Any]:
    inbound = payload.get("call_inbound") if isinstance(payload, dict) else None
    inbound = inbound if isinstance(inbound, dict) else {}
    # The number's company, branch and services: seconds old from the per-process catalogue
    # (one round trip when it has to load them; see catalog.py).
    entry = await catalog.entry_for_number(get_runtime(), inbound.get("to_number"))
    route = entry.route if entry is not None else None
    if route is None:
        INBOUND_ANSWERS.labels("unknown_number").inc()
        log.warning("retell.inbound_unknown_number")
        return {"call_inbound": {}}
    company = route.company
    branch = route.branch
    customer = await customers.find_by_phone(session, company, inbound.get("from_number"))
    services = route.services or []
    time_zone = route.time_zone
    now = utc_now().astimezone(zone(time_zone))
    take_message = await should_take_message(session, company)
    variables = {
        "company_name": company.name,
        "branch_name": branch.name if branch else company.name,
        "customer_name": (customer.name or "") if customer else "",
        "customer_known": "true" if customer is not None else "false",
        "current_date": now.date().isoformat(),
        "current_weekday": now.strftime("%A"),
        "current_time": now.strftime("%H:%M"),
        "time_zone": time_zone,
        "language": company.locale,
        "services": ", ".join(f"{name} ({minutes} min)" for name, minutes in services),
        "booking_mode": "take_message" if take_message else "book",
        "agent_instruction": (
            "Do not book, move or cancel appointments; take a message for the business "
            "with take_message, or request_callback when the caller wants to be called back."
            if take_message
            else "You may check availability and book, move or cancel appointments; when "
            "nothing suitable is free, offer take_message or request_callback."
        ),
    }
    metadata = {
        "company_id": str(company.id),
        "branch_id": str(branch.id) if branch else "",
        "customer_id": str(customer.id) if customer else "",
    }
    answer: dict[str, Any] = {"dynamic_variables": variables, "metadata": metadata}
    if route.agent_id:
        answer["override_agent_id"] = route.agent_id
    INBOUND_ANSWERS.labels("take_message" if take_message else "answered").inc()
    return {"call_inbound": answer}
