"""A short-lived per-process copy of what read-only tool calls look up on every request.

Listing free times is the agent's hottest call, answering an inbound call the first; the
dialled number's company, branch, services and qualified staff change rarely, so they are
kept for a few seconds (detached ORM rows, only read): a change to them (a suspension, a
new service) reaches new calls within ``TTL_SECONDS``. Everything that writes reads fresh
rows in its own transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from askpro.booking.service import BookingContext
from askpro.models import Service
from askpro.runtime import Runtime
from askpro.tenancy.service import Route, e164_or_none, route_for_number

CATALOG_KEY = "retell.catalog"
TTL_SECONDS = 5.0


@dataclass
class CatalogEntry:
    route: Route
    expires_at: float
    services: list[Service] | None = None
    contexts: dict[tuple[int, int | None], BookingContext] = field(default_factory=dict)


def _entries(runtime: Runtime) -> dict[str, CatalogEntry]:
    entries: dict[str, CatalogEntry] = runtime.extras.setdefault(CATALOG_KEY, {})
    return entries


async def entry_for_number(runtime: Runtime, number: str | None) -> CatalogEntry | None:
    e164 = e164_or_none(number)
    if e164 is None:
        return None
    entries = _entries(runtime)
    entry = entries.get(e164)
    if entry is not None and entry.expires_at > time.monotonic():
        return entry
    async with runtime.database.autocommit_sessions() as session:
        route = await route_for_number(session, e164, with_services=True)
        session.expunge_all()
    if route is None:
        entries.pop(e164, None)
        return None
    entry = CatalogEntry(route, expires_at=time.monotonic() + TTL_SECONDS)
    entries[e164] = entry
    return entry
