"""Dependency faults under load: PostgreSQL stopped and started, Redis stopped, Cal.com
down. Only private servers are stopped (``services.py``), never the machine's shared ones.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from askpro.ops.cluster import running_cluster
from tests.cluster.checks import SMALL_POOLS, deliver_topups, settle_and_count, wait_until
from tests.cluster.conftest import ROOT, query, scalar
from tests.cluster.services import PrivatePostgres, PrivateRedis
from tests.cluster.tally import TALLY
from tests.cluster.traffic import Spreader
from tests.fixtures.database import create_test_database, ensure_template


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
