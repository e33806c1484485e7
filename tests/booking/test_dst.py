"""Daylight saving time: availability and booking on the change-over Sundays in Berlin."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from askpro.booking.gateway import GATEWAY_FACTORY_KEY, OpeningHours
from askpro.booking.schemas import Outcome
from askpro.booking.service import BookRequest, book
from askpro.db import Database
from askpro.integrations.retell.messages import spoken_time
from askpro.integrations.retell.tool_handlers import NonexistentLocalTime, local_instant
from askpro.models import Company, Service
from askpro.runtime import Runtime
from tests.fixtures.booking import BERLIN, FakeCalendar, Salon
from tests.fixtures.retell import post_tool

SPRING = dt.date(2027, 3, 28)  # last Sunday of March: 02:00 CET → 03:00 CEST
AUTUMN = dt.date(2027, 10, 31)  # last Sunday of October: 03:00 CEST → 02:00 CET
NIGHT = OpeningHours(
    opens=dt.time(0, 0), closes=dt.time(6, 0), weekdays=frozenset(range(7)), step_minutes=30
)


def _service(minutes: int) -> Service:
    return Service(
        name="x", duration_minutes=minutes, buffer_before_minutes=0, buffer_after_minutes=0
    )


def _day_range(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).astimezone(dt.UTC)


def test_opening_hours_follow_local_time_on_both_change_days() -> None:
    hours = OpeningHours(weekdays=frozenset(range(7)))
    for day, offset in ((SPRING, 2), (AUTUMN, 1)):
        slots = hours.slots(30, *_day_range(day, BERLIN), "Europe/Berlin")
        assert slots[0] == dt.datetime.combine(day, dt.time(9 - offset), dt.UTC)
        assert slots[0].astimezone(BERLIN).time() == dt.time(9, 0)
        assert slots[-1].astimezone(BERLIN).time() == dt.time(17, 30)


def test_night_slots_skip_the_missing_hour_and_keep_the_repeated_one() -> None:
    spring = NIGHT.slots(30, *_day_range(SPRING, BERLIN), "Europe/Berlin")
    spring_local = [slot.astimezone(BERLIN).strftime("%H:%M") for slot in spring]
    # 00:00-06:00 local is only 5 real hours that night: 02:xx does not exist.
    assert spring_local[:5] == ["00:00", "00:30", "01:00", "01:30", "03:00"]
    assert not any(label.startswith("02:") for label in spring_local)
    assert spring[-1] - spring[0] == dt.timedelta(hours=4, minutes=30)
    autumn = NIGHT.slots(30, *_day_range(AUTUMN, BERLIN), "Europe/Berlin")
    autumn_local = [slot.astimezone(BERLIN).strftime("%H:%M%z") for slot in autumn]
    # 02:00-03:00 happens twice: once in summer time, once in winter time.
    assert "02:30+0200" in autumn_local
    assert "02:30+0100" in autumn_local
    assert autumn[-1] - autumn[0] == dt.timedelta(hours=6, minutes=30)


async def _berlin_salon(database: Database, salon: Salon) -> None:
    async with database.sessions() as session:
        company = await session.get(Company, salon.company.id)
        company.booking_horizon_days = 800
        await session.commit()


async def test_booking_across_the_spring_gap_lasts_real_minutes(
    database: Database, salon: Salon
) -> None:
    await _berlin_salon(database, salon)
    calendar = FakeCalendar(hours=NIGHT)
    now = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    start = local_instant(SPRING, dt.time(1, 30), "Europe/Berlin")
    assert start == dt.datetime(2027, 3, 28, 0, 30, tzinfo=dt.UTC)
    result = await book(
        database,
        BookRequest(company_id=salon.company.id, service_id=salon.haircut.id, start=start),
        gateway=calendar,
        now=now,
    )
    assert result.outcome is Outcome.BOOKED
    end_local = result.appointment.end.astimezone(BERLIN)
    assert end_local.strftime("%H:%M%z") == "03:00+0200"  # 30 real minutes, not 02:00
    assert spoken_time(result.appointment.start, "Europe/Berlin", "de") == (
        "Sonntag, 28. März um 01:30 Uhr"
    )
    # A wall-clock time inside the gap does not exist: never silently shifted an hour.
    with pytest.raises(NonexistentLocalTime):
        local_instant(SPRING, dt.time(2, 30), "Europe/Berlin")


async def test_repeated_autumn_hour_books_both_occurrences(
    database: Database, salon: Salon
) -> None:
    await _berlin_salon(database, salon)
    calendar = FakeCalendar(hours=NIGHT)
    now = dt.datetime(2027, 10, 1, tzinfo=dt.UTC)
    first = dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC)  # 02:30 CEST
    second = dt.datetime(2027, 10, 31, 1, 30, tzinfo=dt.UTC)  # 02:30 CET
    assert local_instant(AUTUMN, dt.time(2, 30), "Europe/Berlin") == first
    results = [
        await book(
            database,
            BookRequest(
                company_id=salon.company.id,
                service_id=salon.haircut.id,
                staff_id=salon.anna.id,
                start=moment,
            ),
            gateway=calendar,
            now=now,
        )
        for moment in (first, second)
    ]
    assert [result.outcome for result in results] == [Outcome.BOOKED, Outcome.BOOKED]
    assert [r.appointment.start.astimezone(BERLIN).strftime("%H:%M%z") for r in results] == [
        "02:30+0200",
        "02:30+0100",
    ]


async def test_agent_offers_local_times_on_the_spring_sunday(
    client: httpx.AsyncClient, runtime: Runtime, salon: Salon
) -> None:
    await _berlin_salon(runtime.database, salon)
    runtime.extras[GATEWAY_FACTORY_KEY] = lambda company, settings: FakeCalendar(
        hours=OpeningHours(weekdays=frozenset(range(7)), step_minutes=60)
    )
    body = (
        await post_tool(
            client,
            "check_availability",
            {"service": "Haircut", "date": SPRING.isoformat(), "part_of_day": "morning"},
            call_id="dst-call",
            to_number=salon.number,
        )
    ).json()
    assert body["outcome"] == "available"
    assert [option["start"] for option in body["options"]] == [
        "2027-03-28T09:00:00+02:00",
        "2027-03-28T10:00:00+02:00",
        "2027-03-28T11:00:00+02:00",
    ]
    assert "Sonntag, 28. März um 09:00 Uhr" in body["message"]
    gap = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": SPRING.isoformat(), "time": "02:30"},
            call_id="dst-call",
            to_number=salon.number,
        )
    ).json()
    assert gap["outcome"] == "invalid_request"
    assert gap["missing"] == ["time"]
    assert "umgestellt" in gap["message"]


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "America/Sao_Paulo", "Pacific/Chatham", "Europe/London"]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone_name=st.sampled_from(ZONES),
    day=st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2028, 12, 31)),
    opens=st.integers(min_value=0, max_value=12),
    length=st.integers(min_value=1, max_value=11),
    duration=st.sampled_from([15, 30, 45, 60, 90]),
)
def test_slots_are_local_wall_times_with_real_durations(
    zone_name: str, day: dt.date, opens: int, length: int, duration: int
) -> None:
    tz = ZoneInfo(zone_name)
    hours = OpeningHours(
        opens=dt.time(opens),
        closes=dt.time(opens + length),
        weekdays=frozenset(range(7)),
        step_minutes=15,
    )
    slots = hours.slots(duration, *_day_range(day, tz), zone_name)
    closing = dt.datetime.combine(day, dt.time(opens + length), tz)
    for previous, current in itertools.pairwise(slots):
        assert current - previous == dt.timedelta(minutes=15)  # real minutes, never 75 or 0
    for slot in slots:
        assert slot.tzinfo is not None
        local = slot.astimezone(tz)
        assert local.date() == day
        assert local.time() >= dt.time(opens)
        assert slot + dt.timedelta(minutes=duration) <= closing
        # What the agent says is the wall-clock time of the instant.
        assert f"{local:%H:%M}" in spoken_time(slot, zone_name, "en")
        # And the agent's words map back to this instant (or, in the repeated autumn
        # hour, to the first of the two instants with that wall-clock time).
        back = local_instant(day, local.time(), zone_name)
        assert back == slot or (back < slot and back.astimezone(tz).time() == local.time())
