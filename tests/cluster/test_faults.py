"""Real faults under load: SIGKILL, SIGSTOP, PostgreSQL and Redis stopped, Cal.com down.

Every acknowledged webhook must be processed once, with one effect; the tally of all of
them is printed at the end of the run (``tests/cluster/conftest.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from askpro.ops.cluster import running_cluster
from tests.cluster.conftest import query, scalar
from tests.cluster.services import PrivatePostgres, PrivateRedis
from tests.cluster.tally import TALLY
from tests.cluster.traffic import Spreader, topup_body
from tests.fixtures.billing import stripe_event
from tests.fixtures.database import create_test_database, ensure_template

ROOT = Path(__file__).resolve().parents[2]
SMALL_POOLS = {"database_pool_size": "3", "calcom_breaker_reset_seconds": "3"}


async def wait_until(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, f"not reached within {within:g} s: {what}"
        await asyncio.sleep(0.5)


async def deliver_topups(
    spreader: Spreader, company_id: int, intents: list[str], *, pace: float, retries: int = 8
) -> tuple[set[str], Counter[int]]:
    """Send each top-up until some process acknowledges it (as Stripe retries a failure)."""
    acknowledged: set[str] = set()
    statuses: Counter[int] = Counter()
    for intent in intents:
        body = topup_body(company_id, intent)
        for attempt in range(retries):
            status = await spreader.stripe(body)
            statuses[status] += 1
            if status == 200:
                acknowledged.add(intent)
                break
            await asyncio.sleep(0.2 * (attempt + 1))
        await asyncio.sleep(pace)
    return acknowledged, statuses


async def settle_and_count(url: str, intents: set[str], within: float = 150) -> None:
    """Wait until every stored event is processed; tally effects; assert nothing is lost."""

    async def all_processed() -> bool:
        waiting = await scalar(
            url, "SELECT count(*) FROM webhook_events WHERE status NOT IN ('processed', 'ignored')"
        )
        return bool(waiting == 0)

    await wait_until(all_processed, within, "every stored event processed")
    rows = await query(
        url,
        "SELECT e.dedup_key, e.status, (SELECT count(*) FROM ledger_entries l "
        " WHERE l.kind = 'topup' AND 'evt_' || l.external_reference = e.dedup_key) "
        "FROM webhook_events e WHERE e.provider = 'stripe'",
    )
    effects = {key.removeprefix("evt_"): count for key, _, count in rows}
    processed = sum(status == "processed" for _, status, _ in rows)
    duplicated = sum(max(count - 1, 0) for count in effects.values())
    lost = sum(1 for intent in intents if effects.get(intent, 0) != 1)
    TALLY.add(acknowledged=len(intents), processed=processed, duplicated=duplicated, lost=lost)
    assert duplicated == 0
    assert lost == 0, "an acknowledged top-up was not credited exactly once"


async def test_killed_workers_and_web_processes_lose_no_acknowledged_event(
    fresh_database: str, cluster_logs: Path
) -> None:
    """The issue's run: SIGKILL the worker six times while 300 Stripe events arrive."""
    async with running_cluster(
        database_url=fresh_database,
        web_count=2,
        worker_count=1,
        log_dir=cluster_logs,
        settings=SMALL_POOLS,
    ) as cluster:
        intents = [f"pi_kill_{uuid.uuid4().hex[:8]}_{n}" for n in range(300)]

        async def kill_six_workers_and_one_web_process() -> None:
            for round_ in range(6):
                await asyncio.sleep(1.5)
                cluster.workers[-1].kill()
                TALLY.faults_injected += 1
                cluster.add_worker()
                if round_ == 2:
                    cluster.web[1].kill()
                    TALLY.faults_injected += 1
                    await asyncio.sleep(1)
                    await cluster.restart(cluster.web[1])

        async with Spreader(cluster.web_urls) as spreader:
            killer = asyncio.create_task(kill_six_workers_and_one_web_process())
            acknowledged, statuses = await deliver_topups(
                spreader, cluster.company_id or 0, intents, pace=0.03
            )
            await killer
        assert acknowledged == set(intents), statuses
        await settle_and_count(cluster.database_url, acknowledged)
        # The last worker, started right after a kill, is alive and heartbeating.
        assert await cluster.live_workers(within_seconds=10) >= 1
        async with httpx.AsyncClient() as client:
            ready = (await client.get(cluster.web_urls[0] + "/health/ready")).json()
        assert ready["checks"]["workers"]["workers_alive"] >= 1
        assert ready["checks"]["workers"]["received_events"] == 0


async def test_a_hung_worker_s_jobs_are_taken_over(fresh_database: str, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    async with running_cluster(
        database_url=fresh_database,
        web_count=1,
        worker_count=2,
        worker_concurrency=2,
        log_dir=tmp_path / "processes",
        settings=SMALL_POOLS | {"test_marker_dir": str(markers), "test_handler_sleep": "2"},
        worker_preload=["tests.webhooks.slow_handlers"],
        python_path=[str(ROOT)],
    ) as cluster:
        async with Spreader(cluster.web_urls) as spreader:
            for index in range(6):
                body = json.dumps(stripe_event("test.slow", {}, event_id=f"evt_hang_{index}"))
                assert await spreader.stripe(body.encode()) == 200
        hung = cluster.workers[0]

        async def hung_worker_has_a_job() -> bool:
            return any(path.name.endswith(f"-{hung.pid}") for path in markers.glob("started-*"))

        await wait_until(hung_worker_has_a_job, 60, "the first worker runs a job")
        hung.pause()  # SIGSTOP: alive, holding its connections, doing nothing
        TALLY.faults_injected += 1
        taken = {path.name.split("-")[1] for path in markers.glob(f"started-*-{hung.pid}")}
        await settle_and_count(cluster.database_url, set(), within=120)
        rows = dict(
            await query(
                cluster.database_url,
                "SELECT id::text, attempts FROM webhook_events WHERE status = 'processed'",
            )
        )
        assert len(rows) == 6
        TALLY.add(acknowledged=6, processed=0, duplicated=0, lost=0)
        for event_id in taken - {
            p.name.split("-")[1] for p in markers.glob(f"finished-*-{hung.pid}")
        }:
            assert rows[event_id] >= 2, "a job of the hung worker was finished by another"


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(ROOT / "var" / "test-cluster-pg")
    yield server
    server.release()


async def test_postgres_stopped_during_ingest_and_booking_answers_503_and_loses_nothing(
    private_postgres: PrivatePostgres, cluster_logs: Path
) -> None:
    ensure_template(private_postgres.url)
    url = create_test_database(private_postgres.url, "askpro_test_cluster_pgdown")
    async with running_cluster(
        database_url=url, web_count=2, worker_count=1, log_dir=cluster_logs, settings=SMALL_POOLS
    ) as cluster:
        intents = [f"pi_pgdown_{n}" for n in range(150)]
        booked: list[dict[str, object]] = []
        booking_statuses: Counter[int] = Counter()

        async def book_while_it_happens(spreader: Spreader) -> None:
            day = dt.date.today() + dt.timedelta(days=10)
            for index in range(40):
                status, answer = await spreader.tool(
                    "book_appointment",
                    {
                        "service": "Beard trim",
                        "date": (day + dt.timedelta(days=index // 8)).isoformat(),
                        "time": f"{9 + index % 8}:30",
                        "customer_name": f"Caller {index}",
                    },
                    f"call_pgdown_{index}",
                    from_number=f"+4915230{index:06d}",
                )
                booking_statuses[status] += 1
                if status == 200 and answer.get("outcome") in ("booked", "pending_confirmation"):
                    booked.append(answer)
                await asyncio.sleep(0.25)

        async def stop_and_start_postgres() -> None:
            await asyncio.sleep(3)
            await asyncio.to_thread(private_postgres.stop)
            TALLY.faults_injected += 1
            await asyncio.sleep(5)
            await asyncio.to_thread(private_postgres.start)

        async with Spreader(cluster.web_urls, timeout=15) as spreader:
            fault = asyncio.create_task(stop_and_start_postgres())
            booking = asyncio.create_task(book_while_it_happens(spreader))
            acknowledged, statuses = await deliver_topups(
                spreader, cluster.company_id or 0, intents, pace=0.05, retries=20
            )
            await fault
            await booking
        assert statuses[503] > 0, f"no 503 while the database was down: {statuses}"
        assert set(statuses) <= {200, 503}, statuses
        stored = {
            key.removeprefix("evt_")
            for (key,) in await query(url, "SELECT dedup_key FROM webhook_events")
        }
        assert acknowledged <= stored, "a 2xx went out for an event that was not stored"
        assert acknowledged == set(intents)
        await settle_and_count(url, acknowledged)
        assert set(booking_statuses) <= {200, 503}, booking_statuses
        ids = [answer["appointment"]["id"] for answer in booked]  # type: ignore[index]
        found = await scalar(
            url, "SELECT count(*) FROM appointments WHERE id = ANY(%s) AND status = 'booked'", ids
        )
        assert found == len(ids) > 0, "a booking the caller was told about is missing"


async def test_redis_stopped_falls_back_per_process_and_resumes_shared_state(
    fresh_database: str, private_redis: PrivateRedis, cluster_logs: Path
) -> None:
    async with (
        running_cluster(
            database_url=fresh_database,
            redis_url=private_redis.url,
            web_count=2,
            worker_count=1,
            log_dir=cluster_logs,
            settings=SMALL_POOLS,
        ) as cluster,
        Spreader(cluster.web_urls) as spreader,
        httpx.AsyncClient() as client,
    ):
        day = dt.date.today() + dt.timedelta(days=5)

        async def availability(offset: int) -> None:
            args = {"service": "Haircut", "date": (day + dt.timedelta(days=offset)).isoformat()}
            status, answer = await spreader.tool("check_availability", args, f"call_r_{offset}")
            assert status == 200, answer

        await availability(0)
        private_redis.stop()
        TALLY.faults_injected += 1
        for offset in range(1, 21):
            await availability(offset % 10)
        intents = [f"pi_redis_{n}" for n in range(20)]
        acknowledged, statuses = await deliver_topups(
            spreader, cluster.company_id or 0, intents, pace=0
        )
        assert set(statuses) == {200}
        for url in cluster.web_urls:
            ready = await client.get(url + "/health/ready")
            body = ready.json()
            assert ready.status_code == 200, body
            assert body["status"] == "degraded"
            assert body["checks"]["redis"]["ok"] is False
            assert "calcom.ratelimit" in body["checks"]["shared_state"]["fallback"], body
            metrics = (await client.get(url + "/metrics")).text
            assert 'askpro_shared_state_fallback{component="calcom.ratelimit"} 1.0' in metrics
        assert not [s for s in spreader.statuses if s >= 500 or s == 0]

        private_redis.start()  # same port, empty: what it holds now was written after

        fresh_days = iter(range(12, 50))

        async def shared_again() -> bool:
            await availability(next(fresh_days))  # a cache miss: every component is used
            for url in cluster.web_urls:
                body = (await client.get(url + "/health/ready")).json()
                still[url] = body["checks"]["shared_state"]["fallback"]
            return not any(still.values())

        still: dict[str, object] = {}
        await wait_until(shared_again, 30, f"every process back on Redis: {still}")
        assert private_redis.keys("askpro:calcom*"), "nothing was shared after Redis returned"
        await settle_and_count(cluster.database_url, acknowledged)


async def test_cal_com_down_during_bookings_keeps_them_and_syncs_afterwards(
    fresh_database: str, cluster_logs: Path
) -> None:
    async with (
        running_cluster(
            database_url=fresh_database,
            web_count=2,
            worker_count=1,
            log_dir=cluster_logs,
            settings=SMALL_POOLS,
        ) as cluster,
        Spreader(cluster.web_urls, timeout=20) as spreader,
    ):
        faults = cluster.standin.state.faults
        day = dt.date.today() + dt.timedelta(days=7)
        answers = []
        for index in range(12):
            if index == 4:  # Cal.com's booking API fails from here on, slots still answer
                faults.path_prefix, faults.error_status, faults.errors = "/v2/bookings", 503, 10**6
                TALLY.faults_injected += 1
            status, answer = await spreader.tool(
                "book_appointment",
                {
                    "service": "Beard trim",
                    "date": (day + dt.timedelta(days=index // 6)).isoformat(),
                    "time": f"{10 + index % 6}:00",
                    "customer_name": f"Caller {index}",
                },
                f"call_calcom_{index}",
                from_number=f"+4915240{index:06d}",
            )
            assert status == 200, answer
            answers.append(answer)
        outcomes = Counter(answer["outcome"] for answer in answers)
        assert outcomes["pending_confirmation"] > 0, outcomes  # kept locally, sync pending
        ids = [a["appointment"]["id"] for a in answers if a.get("appointment")]
        url = cluster.database_url
        assert (
            await scalar(
                url,
                "SELECT count(*) FROM appointments WHERE id = ANY(%s) AND status = 'booked'",
                ids,
            )
            == len(ids)
            == outcomes["booked"] + outcomes["pending_confirmation"]
        )
        faults.down = True  # then all of Cal.com is down for a while: no answer is a 5xx
        late = []
        for index in range(3):
            status, answer = await spreader.tool(
                "book_appointment",
                {
                    "service": "Beard trim",
                    "date": (day + dt.timedelta(days=3)).isoformat(),
                    "time": f"{10 + index}:00",
                    "customer_name": f"Late caller {index}",
                },
                f"call_calcom_down_{index}",
                from_number=f"+4915250{index:06d}",
            )
            assert status == 200, answer
            late.append(answer)
        await asyncio.sleep(3)
        faults.errors, faults.path_prefix, faults.down = 0, "/v2/", False
        ids += [  # any booking accepted while Cal.com was down must sync too
            a["appointment"]["id"]
            for a in late
            if a.get("appointment") and a["outcome"] in ("booked", "pending_confirmation")
        ]

        async def synced() -> bool:
            states = await query(
                url, "SELECT calcom_sync_state FROM appointments WHERE id = ANY(%s)", ids
            )
            return all(state == "synced" for (state,) in states)

        await wait_until(synced, 120, "every booking synced to Cal.com")
        uids = [
            uid
            for (uid,) in await query(
                url, "SELECT calcom_booking_uid FROM appointments WHERE id = ANY(%s)", ids
            )
        ]
        assert all(uid in cluster.standin.state.bookings for uid in uids)


async def test_events_waiting_with_no_live_worker_raise_the_alarm_until_one_returns(
    fresh_database: str, cluster_logs: Path
) -> None:
    async with (
        running_cluster(
            database_url=fresh_database,
            web_count=1,
            worker_count=1,
            log_dir=cluster_logs,
            settings=SMALL_POOLS | {"queue_alarm_seconds": "2"},
        ) as cluster,
        Spreader(cluster.web_urls) as spreader,
        httpx.AsyncClient() as client,
    ):
        cluster.workers[0].kill()
        TALLY.faults_injected += 1
        intents = [f"pi_alarm_{n}" for n in range(3)]
        acknowledged, _ = await deliver_topups(spreader, cluster.company_id or 0, intents, pace=0)
        web = cluster.web[0]

        async def alarm_raised() -> bool:
            metrics = (await client.get(web.url + "/metrics")).text
            return "askpro_queue_unattended 1.0" in metrics and "queue.unattended" in (
                web.log_path.read_text()
            )

        await wait_until(alarm_raised, 60, "queue.unattended logged and the metric at 1")
        workers = (await client.get(web.url + "/health/ready")).json()["checks"]["workers"]
        assert workers["workers_alive"] == 0
        assert workers["unattended"] is True
        assert workers["received_events"] == 3

        cluster.add_worker()
        await settle_and_count(cluster.database_url, acknowledged)

        async def alarm_cleared() -> bool:
            body = (await client.get(web.url + "/health/ready")).json()
            return body["checks"]["workers"]["unattended"] is False

        await wait_until(alarm_cleared, 30, "the alarm cleared once a worker is back")
