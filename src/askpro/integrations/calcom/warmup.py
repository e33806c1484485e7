"""Fill the cache: event types, schedules and the next days of slots, per local day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.ratelimit import background_work


async def warm_cache(
    client: CalcomClient,
    *,
    time_zone: str,
    days: int = 7,
    event_type_ids: list[int] | None = None,
    on_step: Callable[[str, int], None] | None = None,
) -> int:
    """Fetch what availability lookups need; ``on_step(label, total)`` after each call.

    Returns the number of slot ranges cached. Background work: it uses at most its share
    of the account's rate budget.
    """
    with background_work():
        return await _warm(client, time_zone, days, event_type_ids, on_step)


async def _warm(
    client: CalcomClient,
    time_zone: str,
    days: int,
    event_type_ids: list[int] | None,
    on_step: Callable[[str, int], None] | None,
) -> int:
    event_types = await client.get_event_types()
    await client.get_schedules()
    ids = event_type_ids or [event_type.id for event_type in event_types]
    today = dt.datetime.now(ZoneInfo(time_zone)).date()
    total = 2 + len(ids) * days
    if on_step is not None:
        on_step("event types and schedules", total)
        on_step("event types and schedules", total)
    for event_type_id in ids:
        for offset in range(days):
            day = today + dt.timedelta(days=offset)
            await client.get_day_slots(event_type_id, day, time_zone)
            if on_step is not None:
                on_step(f"slots {event_type_id} {day.isoformat()}", total)
    return len(ids) * days
