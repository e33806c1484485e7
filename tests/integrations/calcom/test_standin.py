"""The stand-in's own semantics: time zones, the throttler, overrides, the version header."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from askpro.integrations.calcom.client import CalcomClient, RetryPolicy
from askpro.integrations.calcom.errors import CalcomRateLimitError, CalcomValidationError
from askpro.integrations.calcom.standin.server import RunningStandin


def monday_of(year: int, month: int, day: int) -> dt.date:
    date = dt.date(year, month, day)
    while date.weekday() != 0:
        date += dt.timedelta(days=1)
    return date


async def test_slots_follow_berlin_wall_clock_across_daylight_saving(
    calcom_client: CalcomClient,
) -> None:
    summer = monday_of(2031, 7, 1)
    winter = monday_of(2031, 12, 1)
    summer_slots = await calcom_client.get_day_slots(1001, summer, "Europe/Berlin")
    winter_slots = await calcom_client.get_day_slots(1001, winter, "Europe/Berlin")
    assert summer_slots[0].start.astimezone(dt.UTC).hour == 7  # 09:00 CEST
    assert winter_slots[0].start.astimezone(dt.UTC).hour == 8  # 09:00 CET
    assert summer_slots[0].start.utcoffset() == dt.timedelta(hours=2)
    assert len(summer_slots) == len(winter_slots) == 18


async def test_schedule_override_replaces_the_days_hours(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    day = monday_of(2031, 7, 1)
    calcom_standin.state.schedule.overrides[day] = ("12:00", "13:00")
    slots = await calcom_client.get_day_slots(1001, day, "Europe/Berlin")
    assert [slot.start.astimezone(dt.UTC).time() for slot in slots] == [
        dt.time(10, 0),
        dt.time(10, 30),
    ]


async def test_throttler_answers_calcoms_429_after_120_requests_a_minute(
    calcom_standin: RunningStandin,
) -> None:
    headers = {"Authorization": f"Bearer {calcom_standin.api_key}"}
    async with httpx.AsyncClient(base_url=calcom_standin.base_url, headers=headers) as http:
        answers = await asyncio.gather(*(http.get("/v2/me") for _ in range(121)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(200) == 120
    throttled = next(answer for answer in answers if answer.status_code == 429)
    assert throttled.json()["error"]["code"] == "ThrottlerException"
    assert throttled.json()["error"]["message"].startswith("CustomThrottlerGuard")
    assert throttled.headers["X-RateLimit-Limit-Default"] == "120"
    assert throttled.headers["X-RateLimit-Remaining-Default"] == "0"
    assert 55 <= int(throttled.headers["X-RateLimit-Reset-Default"]) <= 60


async def test_client_without_limiter_gets_rate_limit_error_from_calcoms_429(
    calcom_standin: RunningStandin,
) -> None:
    calcom_standin.state.rate_limit_per_minute = 3
    async with CalcomClient(
        calcom_standin.base_url, calcom_standin.api_key, retry=RetryPolicy(attempts=3)
    ) as client:
        for _ in range(3):
            await client.get_me()
        with pytest.raises(CalcomRateLimitError) as error:
            await client.get_me()
    assert error.value.status == 429
    assert 55 <= error.value.retry_after <= 60  # blocked for a minute: beyond the deadline


async def test_missing_api_version_is_rejected_by_the_strict_standin(
    calcom_standin: RunningStandin,
) -> None:
    headers = {"Authorization": f"Bearer {calcom_standin.api_key}"}
    async with httpx.AsyncClient(base_url=calcom_standin.base_url, headers=headers) as http:
        answer = await http.get("/v2/event-types")
    assert answer.status_code == 400
    assert "cal-api-version" in answer.json()["error"]["message"]


async def test_configured_versions_are_sent(calcom_standin: RunningStandin) -> None:
    from askpro.integrations.calcom.client import ApiVersions

    async with CalcomClient(
        calcom_standin.base_url,
        calcom_standin.api_key,
        versions=ApiVersions(bookings="2026-02-25"),
    ) as client:
        await client.list_bookings()
        client.versions = ApiVersions(bookings="1999-01-01")
        with pytest.raises(CalcomValidationError, match="cal-api-version"):
            await client.list_bookings()
    assert calcom_standin.state.requests[0].api_version == "2026-02-25"
