"""The availability cache: single flight, TTL, invalidation by bookings."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from askpro.integrations.calcom.cache import CalcomCache
from askpro.integrations.calcom.client import CalcomClient, RetryPolicy
from askpro.integrations.calcom.standin.server import RunningStandin
from tests.integrations.calcom.helpers import booking_request, next_weekday_at


@pytest.fixture
async def cached_client(calcom_standin: RunningStandin) -> AsyncIterator[CalcomClient]:
    cache = CalcomCache(namespace="test:calcom-cache", slots_ttl=60)
    async with CalcomClient(
        calcom_standin.base_url,
        calcom_standin.api_key,
        cache=cache,
        retry=RetryPolicy(attempts=2, wait_initial=0.01, wait_max=0.02, wait_jitter=0),
    ) as client:
        yield client
    await cache.close()


def slot_requests(standin: RunningStandin) -> int:
    return sum(1 for r in standin.state.requests if r.path == "/v2/slots")


async def test_100_concurrent_identical_misses_make_one_upstream_call(
    cached_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    calcom_standin.state.faults.latency_seconds = 0.2  # the misses overlap for sure
    monday = next_weekday_at(0)
    window = (monday, monday + dt.timedelta(days=1))
    results = await asyncio.gather(*(cached_client.get_slots(1001, *window) for _ in range(100)))
    assert slot_requests(calcom_standin) == 1
    assert all(result == results[0] for result in results)
    assert len(results[0]) == 18
    # Warm: no further upstream calls.
    await cached_client.get_slots(1001, *window)
    assert slot_requests(calcom_standin) == 1
    # A different range or event type is a different entry.
    await cached_client.get_slots(1002, *window)
    assert slot_requests(calcom_standin) == 2


async def test_a_failed_fetch_is_shared_but_not_cached(
    cached_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    calcom_standin.state.faults.errors = 2  # both attempts of the one shared fetch fail
    calcom_standin.state.faults.latency_seconds = 0.05
    monday = next_weekday_at(0)
    window = (monday, monday + dt.timedelta(days=1))
    outcomes = await asyncio.gather(
        *(cached_client.get_slots(1001, *window) for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(outcome, Exception) for outcome in outcomes)
    assert slot_requests(calcom_standin) == 2
    assert len(await cached_client.get_slots(1001, *window)) == 18
    assert slot_requests(calcom_standin) == 3


async def test_booking_reschedule_and_cancel_invalidate_the_event_types_slots(
    cached_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    start = next_weekday_at(10)
    window = (start - dt.timedelta(hours=2), start + dt.timedelta(hours=9))

    async def starts(event_type_id: int) -> list[dt.datetime]:
        return [slot.start for slot in await cached_client.get_slots(event_type_id, *window)]

    assert start in await starts(1001)
    assert start in await starts(1003)
    before = slot_requests(calcom_standin)

    booking = await cached_client.create_booking(booking_request(start))
    assert start not in await starts(1001)  # refetched: the booked slot is gone
    assert slot_requests(calcom_standin) == before + 1
    await starts(1003)  # other event types keep their entries (TTL bounds their staleness)
    assert slot_requests(calcom_standin) == before + 1

    moved = await cached_client.reschedule_booking(booking.uid, start + dt.timedelta(hours=2))
    assert start in await starts(1001)
    assert start + dt.timedelta(hours=2) not in await starts(1001)
    await cached_client.cancel_booking(moved.uid)
    assert start + dt.timedelta(hours=2) in await starts(1001)
    assert slot_requests(calcom_standin) == before + 3  # one refetch after each change


async def test_slot_taken_elsewhere_invalidates_after_the_conflict(
    cached_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    start = next_weekday_at(11)
    window = (start - dt.timedelta(hours=1), start + dt.timedelta(hours=1))
    assert start in [s.start for s in await cached_client.get_slots(1001, *window)]
    # Someone books through Cal.com's own page: our cache still shows the slot ...
    event_type = calcom_standin.state.event_types[1001]
    attendee = {"name": "Web", "email": "web@example.com", "timeZone": "Europe/Berlin"}
    calcom_standin.state.new_booking(event_type, start, attendee)
    assert start in [s.start for s in await cached_client.get_slots(1001, *window)]
    # ... until our booking attempt fails, which drops the stale entries.
    with pytest.raises(Exception, match="already has booking"):
        await cached_client.create_booking(booking_request(start))
    assert start not in [s.start for s in await cached_client.get_slots(1001, *window)]


async def test_catalogue_is_cached(
    cached_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    for _ in range(3):
        assert len(await cached_client.get_event_types()) == 3
        assert len(await cached_client.get_schedules()) == 1
    paths = [r.path for r in calcom_standin.state.requests]
    assert paths.count("/v2/event-types") == 1
    assert paths.count("/v2/schedules") == 1
