"""Process faults under load: SIGKILL of web processes and workers, a SIGSTOPped worker,
and no worker at all. Every acknowledged webhook must be processed once, with one effect;
the tally of all fault tests is printed at the end of the run (``conftest.py``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx

from askpro.ops.cluster import running_cluster
from tests.cluster.checks import SMALL_POOLS, deliver_topups, settle_and_count, wait_until
from tests.cluster.conftest import ROOT, query
from tests.cluster.tally import TALLY
from tests.cluster.traffic import Spreader
from tests.fixtures.billing import stripe_event


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
