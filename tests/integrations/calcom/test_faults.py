"""Real faults: respx for exact wire answers, the stand-in's knobs over real HTTP."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest
import respx

from askpro.integrations.calcom.breaker import CircuitBreaker
from askpro.integrations.calcom.client import CalcomClient, RetryPolicy
from askpro.integrations.calcom.errors import (
    CalcomAuthenticationError,
    CalcomCircuitOpenError,
    CalcomMalformedResponseError,
    CalcomRateLimitError,
    CalcomUnavailableError,
)
from askpro.integrations.calcom.standin.server import RunningStandin
from tests.integrations.calcom.helpers import booking_request, next_weekday_at

BASE = "https://calcom.test"
FAST = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0)
ME = {
    "status": "success",
    "data": {"id": 7, "username": "u", "email": "u@example.com", "timeFormat": 24,
             "defaultScheduleId": None, "weekStart": "Monday", "timeZone": "Europe/Berlin",
             "organizationId": None},
}  # fmt: skip


def envelope(status: int, code: str, message: str) -> dict[str, object]:
    return {
        "status": "error",
        "timestamp": "2026-11-28T08:00:00.000Z",
        "path": "/v2/me",
        "error": {"code": code, "message": message, "details": {"statusCode": status}},
    }


async def test_500s_then_success_is_retried_and_succeeds() -> None:
    async with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v2/me").mock(
            side_effect=[
                httpx.Response(500, json=envelope(500, "InternalServerErrorException", "boom")),
                httpx.Response(503, text="<html>unavailable</html>"),
                httpx.Response(200, json=ME),
            ]
        )
        async with CalcomClient(BASE, "cal_key", retry=FAST) as client:
            me = await client.get_me()
    assert me.id == 7
    assert route.call_count == 3


async def test_500s_from_the_standin_are_retried(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    calcom_standin.state.faults.errors = 2
    event_types = await calcom_client.get_event_types()
    assert len(event_types) == 3
    assert len(calcom_standin.state.requests) == 3


async def test_constant_failures_open_the_breaker_then_half_open_probe_closes_it() -> None:
    breaker = CircuitBreaker(BASE, threshold=3, ttl_seconds=0.3)
    async with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v2/me").mock(return_value=httpx.Response(500, json={}))
        async with CalcomClient(
            BASE, "cal_key", retry=RetryPolicy(attempts=1), breaker=breaker
        ) as client:
            for _ in range(3):
                with pytest.raises(CalcomUnavailableError) as failure:
                    await client.get_me()
                assert not isinstance(failure.value, CalcomCircuitOpenError)
            assert await breaker.state() == "opened"
            calls_when_opened = route.call_count
            durations = []
            for _ in range(20):
                started = time.perf_counter()
                with pytest.raises(CalcomCircuitOpenError):
                    await client.get_me()
                durations.append(time.perf_counter() - started)
            assert route.call_count == calls_when_opened  # not one request while open
            # The median under 5 ms: scheduler hiccups on a loaded 2-core box are not the breaker
            # (that no request went out is asserted above).
            assert statistics.median(durations) < 0.005, durations

            # Cal.com recovers; after the TTL one probe goes through and closes the circuit.
            route.mock(return_value=httpx.Response(200, json=ME))
            await asyncio.sleep(0.35)
            assert (await client.get_me()).id == 7
            assert route.call_count == calls_when_opened + 1
            assert await breaker.state() == "closed"
            assert (await client.get_me()).id == 7


async def test_failed_half_open_probe_reopens_the_breaker() -> None:
    breaker = CircuitBreaker(BASE, threshold=2, ttl_seconds=0.2)
    async with respx.mock(base_url=BASE) as mock:
        mock.get("/v2/me").mock(return_value=httpx.Response(502, text="bad gateway"))
        async with CalcomClient(
            BASE, "cal_key", retry=RetryPolicy(attempts=1), breaker=breaker
        ) as client:
            for _ in range(2):
                with pytest.raises(CalcomUnavailableError):
                    await client.get_me()
            await asyncio.sleep(0.25)
            with pytest.raises(CalcomUnavailableError) as probe:
                await client.get_me()
            assert not isinstance(probe.value, CalcomCircuitOpenError)
            assert await breaker.state() == "opened"
            with pytest.raises(CalcomCircuitOpenError):
                await client.get_me()


async def test_client_errors_do_not_open_the_breaker() -> None:
    breaker = CircuitBreaker(BASE, threshold=2, ttl_seconds=30)
    async with respx.mock(base_url=BASE) as mock:
        mock.get("/v2/bookings/x").mock(
            return_value=httpx.Response(404, json=envelope(404, "NotFoundException", "nope"))
        )
        async with CalcomClient(BASE, "cal_key", breaker=breaker) as client:
            for _ in range(5):
                with pytest.raises(Exception, match="nope"):
                    await client.get_booking("x")
    assert await breaker.state() == "closed"


async def test_429_with_reset_header_waits_and_succeeds_within_the_deadline() -> None:
    throttled = httpx.Response(
        429,
        json=envelope(429, "ThrottlerException", "CustomThrottlerGuard - Too many requests."),
        headers={"X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": "1"},
    )
    async with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v2/me").mock(side_effect=[throttled, httpx.Response(200, json=ME)])
        async with CalcomClient(BASE, "cal_key", retry=FAST) as client:
            started = time.monotonic()
            assert (await client.get_me()).id == 7
            waited = time.monotonic() - started
    assert route.call_count == 2
    assert 0.95 <= waited < 3


async def test_429_with_reset_beyond_the_deadline_raises_rate_limit_error() -> None:
    throttled = httpx.Response(
        429,
        json=envelope(429, "ThrottlerException", "Too many requests"),
        headers={"X-RateLimit-Reset-Default": "60"},
    )
    async with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v2/me").mock(return_value=throttled)
        async with CalcomClient(BASE, "cal_key", retry=FAST, deadlines={"me.get": 2}) as client:
            started = time.monotonic()
            with pytest.raises(CalcomRateLimitError) as error:
                await client.get_me()
    assert time.monotonic() - started < 0.5  # no pointless waiting
    assert error.value.retry_after == 60
    assert route.call_count == 1


async def test_standin_429_knob_with_its_headers(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    calcom_standin.state.faults.rate_limited = 1
    calcom_standin.state.faults.rate_limit_reset_seconds = 1
    started = time.monotonic()
    assert len(await calcom_client.get_schedules()) == 1
    assert time.monotonic() - started >= 0.95


async def test_timeout_is_unavailable(calcom_standin: RunningStandin) -> None:
    calcom_standin.state.faults.timeouts = 10
    calcom_standin.state.faults.timeout_seconds = 1.0
    async with CalcomClient(
        calcom_standin.base_url,
        calcom_standin.api_key,
        retry=FAST,
        timeouts={"me.get": 0.1},
        deadlines={"me.get": 1.0},
    ) as client:
        started = time.monotonic()
        with pytest.raises(CalcomUnavailableError, match=r"did not answer within 0\.1 s"):
            await client.get_me()
    assert time.monotonic() - started < 1.0


async def test_connection_refused_is_unavailable() -> None:
    async with CalcomClient("http://127.0.0.1:9", "cal_key", retry=FAST) as client:
        with pytest.raises(CalcomUnavailableError, match=r"cannot reach Cal\.com"):
            await client.get_me()


async def test_401_is_authentication_error_and_not_retried() -> None:
    async with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v2/event-types").mock(
            return_value=httpx.Response(
                401, json=envelope(401, "UnauthorizedException", "Invalid API Key")
            )
        )
        async with CalcomClient(BASE, "cal_wrong", retry=FAST) as client:
            with pytest.raises(CalcomAuthenticationError, match="Invalid API Key"):
                await client.get_event_types()
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b'{"status": "success", "data": [', "not JSON"),
        (b'{"unexpected": true}', "without the success envelope"),
        (b'{"status": "success", "data": {"id": 1}}', "does not match Me: email"),
    ],
)
async def test_malformed_answers_are_a_clear_error(body: bytes, message: str) -> None:
    async with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v2/me").mock(return_value=httpx.Response(200, content=body))
        async with CalcomClient(BASE, "cal_key", retry=FAST) as client:
            with pytest.raises(CalcomMalformedResponseError, match=message):
                await client.get_me()
    assert route.call_count == 1  # a malformed answer is not retried blindly


async def test_malformed_json_from_the_standin(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    calcom_standin.state.faults.malformed = 1
    with pytest.raises(CalcomMalformedResponseError, match="not JSON"):
        await calcom_client.get_event_types()


async def test_lost_booking_response_is_looked_up_not_booked_twice(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    start = next_weekday_at(15)
    calcom_standin.state.faults.lost_responses = 1
    calcom_standin.state.faults.path_prefix = "/v2/bookings"
    booking = await calcom_client.create_booking(booking_request(start))
    assert booking.start == start
    assert len(calcom_standin.state.bookings) == 1  # one booking, found by its key
    posts = [r for r in calcom_standin.state.requests if r.method == "POST"]
    assert len(posts) == 1


async def test_booking_failing_before_processing_is_retried_once_looked_up(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    start = next_weekday_at(16)
    calcom_standin.state.faults.errors = 1
    calcom_standin.state.faults.path_prefix = "/v2/bookings"
    booking = await calcom_client.create_booking(booking_request(start))
    assert len(calcom_standin.state.bookings) == 1
    methods = [r.method for r in calcom_standin.state.requests]
    assert methods == ["POST", "GET", "POST"]  # failed, looked up (nothing), booked
    assert booking.uid in calcom_standin.state.bookings


async def test_lost_reschedule_and_cancel_responses_are_looked_up(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    start = next_weekday_at(9)
    booking = await calcom_client.create_booking(booking_request(start))
    faults = calcom_standin.state.faults
    faults.path_prefix = "/v2/bookings/"
    faults.lost_responses = 1
    moved = await calcom_client.reschedule_booking(booking.uid, next_weekday_at(12))
    assert moved.rescheduled_from_uid == booking.uid
    assert len(calcom_standin.state.bookings) == 2  # old (cancelled) + one new, not two
    faults.lost_responses = 1
    cancelled = await calcom_client.cancel_booking(moved.uid)
    assert cancelled.status == "cancelled"


async def test_open_breaker_does_not_spend_rate_budget() -> None:
    from askpro.integrations.calcom.ratelimit import RateLimiter

    limiter = RateLimiter("budget-test", limit=50)
    breaker = CircuitBreaker(BASE, threshold=1, ttl_seconds=30)
    async with respx.mock(base_url=BASE) as mock:
        mock.get("/v2/me").mock(return_value=httpx.Response(503, text="down"))
        async with CalcomClient(
            BASE, "cal_key", retry=RetryPolicy(attempts=1), breaker=breaker, rate_limiter=limiter
        ) as client:
            with pytest.raises(CalcomUnavailableError):
                await client.get_me()
            assert await limiter.remaining() == 49
            for _ in range(10):
                with pytest.raises(CalcomCircuitOpenError):
                    await client.get_me()
            assert await limiter.remaining() == 49


async def test_garbled_booking_answer_is_looked_up_not_booked_twice(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    start = next_weekday_at(13)
    calcom_standin.state.faults.path_prefix = "/v2/bookings"
    calcom_standin.state.faults.garbled_responses = 1  # booked, then a body that is not JSON
    booking = await calcom_client.create_booking(booking_request(start))
    assert len(calcom_standin.state.bookings) == 1
    assert booking.uid in calcom_standin.state.bookings
    assert [r.method for r in calcom_standin.state.requests] == ["POST", "GET"]


async def test_job_running_again_with_the_same_key_finds_its_booking(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    start = next_weekday_at(13)
    first = await calcom_client.create_booking(booking_request(start), idempotency_key="appt-7")
    again = await calcom_client.create_booking(
        booking_request(start), idempotency_key="appt-7", check_existing=True
    )
    assert again.uid == first.uid
    assert len(calcom_standin.state.bookings) == 1
    assert [r.method for r in calcom_standin.state.requests] == ["POST", "GET"]


async def test_unknown_fields_and_statuses_are_tolerated_missing_required_fields_are_not() -> None:
    booking = {
        "id": 1, "uid": "u1", "title": "t", "status": "awaiting_host", "start": "2031-01-06T09:00:00.000Z",
        "end": "2031-01-06T09:30:00.000Z", "duration": 30, "eventType": {"id": 1001, "slug": "haircut"},
        "hosts": [], "attendees": [], "somethingNew": {"nested": True},
    }  # fmt: skip
    async with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v2/bookings/u1").mock(
            return_value=httpx.Response(200, json={"status": "success", "data": booking})
        )
        async with CalcomClient(BASE, "cal_key", retry=FAST) as client:
            fetched = await client.get_booking("u1")
            assert (fetched.status, fetched.resolved_event_type_id) == ("awaiting_host", 1001)
            route.mock(
                return_value=httpx.Response(
                    200, json={"status": "success", "data": {**booking, "uid": None}}
                )
            )
            with pytest.raises(CalcomMalformedResponseError, match="uid"):
                await client.get_booking("u1")
