"""Which code handles which provider event.

Features register handlers with :func:`handles`; the processing job runs every handler
registered for ``(provider, event_type)`` in registration order, inside the job's
transaction. A handler receives the stored inbox row and must be idempotent: the same
event may be processed again (retries, replays), and an older event must never overwrite
newer state (decide with ``event.occurred_at`` or the provider's own sequence).

Handler modules are listed in ``HANDLER_MODULES`` so every worker imports them before
processing; a feature adds its module name there (one line).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import WebhookEvent

Handler = Callable[[AsyncSession, WebhookEvent], Awaitable[None]]

HANDLER_MODULES: list[str] = [
    "askpro.webhooks.logging_handlers",
    "askpro.calls.handlers",
    "askpro.integrations.calcom.sync.handlers",
    "askpro.billing.call_charging",
    "askpro.integrations.stripe.checkout",
    "askpro.integrations.stripe.payment_intents",
    "askpro.integrations.stripe.invoices",
    "askpro.integrations.stripe.subscriptions",
    "askpro.integrations.stripe.charges",
]

_handlers: dict[tuple[str, str], list[Handler]] = {}


def handles(provider: str, *event_types: str) -> Callable[[Handler], Handler]:
    """Register the decorated coroutine for each of ``event_types`` of ``provider``."""

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            registered = _handlers.setdefault((provider, event_type), [])
            if handler not in registered:
                registered.append(handler)
        return handler

    return register


def handlers_for(provider: str, event_type: str) -> list[Handler]:
    return list(_handlers.get((provider, event_type), ()))


def load_handler_modules() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)


# The Retell inbound-call webhook is answered synchronously: the booking feature installs the
# function that builds the answer; until then the hub answers with an empty `call_inbound`.
InboundResponder = Callable[[AsyncSession, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _empty_inbound_answer(_session: AsyncSession, _payload: dict[str, Any]) -> dict[str, Any]:
    return {"call_inbound": {}}


_inbound_responder: InboundResponder = _empty_inbound_answer


def set_inbound_responder(responder: InboundResponder) -> None:
    global _inbound_responder
    _inbound_responder = responder


def inbound_responder() -> InboundResponder:
    return _inbound_responder
