"""The hub's tests exercise the hub alone: features' handlers are set aside meanwhile.

Features (billing, calls) register real handlers for the event types these tests use as
generic samples (e.g. Stripe's ``invoice.paid`` fixture, which billing rightly refuses to
match to any account); inside tests/webhooks only the hub's own handlers stay registered.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from askpro.webhooks import registry


@pytest.fixture(autouse=True)
def hub_handlers_only() -> Iterator[None]:
    registry.load_handler_modules()
    saved = copy.deepcopy(registry._handlers)
    registry._handlers.clear()
    for key, handlers in saved.items():
        own = [handler for handler in handlers if handler.__module__.startswith("askpro.webhooks")]
        if own:
            registry._handlers[key] = own
    try:
        yield
    finally:
        registry._handlers.clear()
        registry._handlers.update(saved)
