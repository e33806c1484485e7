"""Guarantees across processes: four ``askpro serve --no-worker``, two workers, one Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from askpro.ops.cluster import Cluster, running_cluster
from askpro.tenancy.demo import DEMO_PHONE_NUMBER
from tests.cluster.checks import wait_until
from tests.cluster.conftest import new_database, query, scalar
from tests.cluster.services import PrivateRedis
from tests.cluster.traffic import Spreader, gather_limited, topup_body
from tests.fixtures.billing import retell_call_ended
from tests.fixtures.database import drop_test_database

WEB = 4


@pytest.fixture(scope="module")
async def cluster(
    cluster_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    directory = tmp_path_factory.mktemp("guarantees")
    redis = PrivateRedis(directory / "redis.log")
    redis.start()
    name, url = new_database(cluster_server)
    try:
        async with running_cluster(
            database_url=url,
            redis_url=redis.url,
            web_count=WEB,
            worker_count=2,
            log_dir=directory / "processes",
            settings={"database_pool_size": "3", "calcom_breaker_reset_seconds": "3"},
        ) as running:
            yield running
    finally:
        redis.stop()
        drop_test_database(cluster_server, name)


def weekday_in(days: int) -> dt.date:
    day = dt.date.today() + dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


async def test_duplicate_deliveries_over_every_process_are_one_call_and_one_charge(
    cluster: Cluster,
) -> None:
    call_id = f"call_dup_{uuid.uuid4().hex[:12]}"
    body = json.dumps(retell_call_ended(call_id, DEMO_PHONE_NUMBER, duration_ms=125_000)).encode()
    async with Spreader(cluster.web_urls) as spreader:
        statuses = await asyncio.gather(
            *(spreader.retell(body, url) for url in cluster.web_urls for _ in range(5))
        )
    assert set(statuses) == {204}, statuses

    async def processed() -> bool:
        status = await scalar(
            cluster.database_url,
            "SELECT status FROM webhook_events WHERE provider = 'retell' AND convert_from(body, 'UTF8') LIKE %s",
            f"%{call_id}%",
        )
        return bool(status in ("processed", "ignored"))

    await wait_until(processed, 60, "the call_ended event processed")
    url = cluster.database_url
    assert await scalar(url, "SELECT count(*) FROM calls WHERE call_id = %s", call_id) == 1
    assert (
        await scalar(
            url,
            "SELECT count(*) FROM ledger_entries WHERE kind = 'call_charge' "
            "AND external_reference = %s",
            call_id,
        )
        == 1
    )


async def test_one_topup_delivered_to_every_process_is_one_ledger_entry(cluster: Cluster) -> None:
    url = cluster.database_url
    balance = "SELECT balance_cents FROM companies WHERE id = %s"
    before = await scalar(url, balance, cluster.company_id)
    intent = f"pi_everywhere_{uuid.uuid4().hex[:10]}"
    body = topup_body(cluster.company_id or 0, intent, amount_cents=700)
    async with Spreader(cluster.web_urls) as spreader:
        statuses = await asyncio.gather(
            *(spreader.stripe(body, url) for url in cluster.web_urls for _ in range(3))
        )
    assert set(statuses) == {200}, statuses

    async def credited() -> bool:
        return bool(
            await scalar(
                url, "SELECT count(*) FROM ledger_entries WHERE external_reference = %s", intent
            )
        )

    await wait_until(credited, 60, "the top-up credited")
    await asyncio.sleep(2)  # any second credit would have landed by now
    assert (
        await scalar(
            url, "SELECT count(*) FROM ledger_entries WHERE external_reference = %s", intent
        )
        == 1
    )
    assert await scalar(url, balance, cluster.company_id) - before == 700
    assert (
        await scalar(
            url, "SELECT count(*) FROM webhook_events WHERE dedup_key = %s", f"evt_{intent}"
        )
        == 1
    )


async def test_the_slot_cache_is_filled_once_for_all_processes(cluster: Cluster) -> None:
    day = weekday_in(40).isoformat()
    requests = cluster.standin.state.requests
    seen = len(requests)
    async with Spreader(cluster.web_urls) as spreader:
        answers = await asyncio.gather(
            *(
                spreader.tool(
                    "check_availability",
                    {"service": "Haircut", "date": day},
                    f"call_cache_{index}",
                )
                for index in range(40)
            )
        )
    assert {status for status, _ in answers} == {200}
    assert all(answer["options"] for _, answer in answers), answers[0]
    fetched = Counter(
        json.dumps(request.query, sort_keys=True)
        for request in requests[seen:]
        if request.path == "/v2/slots"
    )
    assert fetched, "the stand-in was never asked for slots"
    assert max(fetched.values()) == 1, f"a day's slots were fetched more than once: {fetched}"


async def test_fifty_bookings_of_one_slot_over_every_process_respect_capacity(
    cluster: Cluster,
) -> None:
    day = weekday_in(45).isoformat()
    args = {"service": "Haircut", "date": day, "time": "10:00"}
    async with Spreader(cluster.web_urls) as spreader:
        answers = await asyncio.gather(
            *(
                spreader.tool(
                    "book_appointment",
                    {**args, "customer_name": f"Caller {index}"},
                    f"call_race_{index}",
                    from_number=f"+4915220{index:06d}",
                )
                for index in range(50)
            )
        )
    assert {status for status, _ in answers} == {200}, Counter(s for s, _ in answers)
    outcomes = Counter(answer["outcome"] for _, answer in answers)
    booked = outcomes["booked"] + outcomes["pending_confirmation"]
    url = cluster.database_url
    capacity = await scalar(  # the staff members who offer the service
        url,
        "SELECT count(*) FROM staff_services JOIN services ON services.id = service_id "
        "WHERE services.company_id = %s AND services.name = 'Haircut'",
        cluster.company_id,
    )
    live = await query(
        url,
        "SELECT staff_id FROM appointments WHERE status = 'booked' "
        "AND starts_at = (%s::date + time '10:00') AT TIME ZONE 'Europe/Berlin'",
        day,
    )
    assert 1 <= booked == len(live) <= capacity, outcomes  # nobody booked twice
    overlaps = await scalar(
        url,
        "SELECT count(*) FROM appointments a JOIN appointments b ON a.staff_id = b.staff_id "
        "AND a.id < b.id AND a.status IN ('held', 'booked') AND b.status IN ('held', 'booked') "
        "AND tstzrange(a.blocks_from, a.blocks_until) && tstzrange(b.blocks_from, b.blocks_until)",
    )
    assert overlaps == 0


async def test_a_breaker_opened_by_one_process_is_open_in_every_other(cluster: Cluster) -> None:
    state = cluster.standin.state
    state.faults.down = True
    try:
        async with Spreader(cluster.web_urls) as spreader:
            for offset in range(4):  # reads are retried: a few calls reach the threshold
                await spreader.tool(
                    "check_availability",
                    {"service": "Haircut", "date": weekday_in(50 + offset).isoformat()},
                    f"call_breaker_{offset}",
                    url=cluster.web_urls[0],
                )
        reached = len(state.requests)
        async with httpx.AsyncClient(timeout=10) as client:
            for url in cluster.web_urls[1:]:
                report = (await client.get(url + "/api/health/calcom")).json()
                assert report["accounts"][0]["breaker"] == "opened", report
        assert len(state.requests) == reached, "an open breaker still called Cal.com"
    finally:
        state.faults.down = False

    probes = itertools.cycle(range(2, 20))  # days no other test looks at; cached only once fetched

    async def closed_again() -> bool:
        async with Spreader(cluster.web_urls[2:3]) as spreader:
            _, answer = await spreader.tool(
                "check_availability",
                {"service": "Haircut", "date": weekday_in(next(probes)).isoformat()},
                "call_breaker_probe",
            )
        return bool(answer.get("options"))

    await wait_until(closed_again, 30, "the breaker closed again after Cal.com recovered")


async def test_four_processes_share_one_cal_com_rate_budget(cluster: Cluster) -> None:
    """120 requests per minute per API key, whichever process sends them (runs last: it
    spends the whole budget). 165 different days' slots are asked for across the four
    processes: with a budget each, all of them would reach the stand-in."""
    requests = cluster.standin.state.requests
    seen = len(requests)
    started = time.monotonic()
    today = dt.date.today()
    async with Spreader(cluster.web_urls, timeout=30) as spreader:
        answers = await gather_limited(
            40,
            *(
                spreader.tool(
                    "check_availability",
                    {"service": service, "date": (today + dt.timedelta(days=day)).isoformat()},
                    f"call_budget_{service}_{day}",
                )
                for service in ("Haircut", "Colouring", "Beard trim")
                for day in range(1, 56)
            ),
        )
    elapsed = time.monotonic() - started
    reached = len(requests) - seen
    outcomes = Counter(answer.get("outcome") for _, answer in answers)
    assert elapsed < 60, "the burst must fit in one window for the bound below"
    assert reached <= 120, f"{reached} requests reached Cal.com in {elapsed:.0f} s"
    assert outcomes["upstream_unavailable"] > 0, f"the budget was never binding: {outcomes}"
    assert {status for status, _ in answers} == {200}
