"""Kill test: a worker SIGKILLed in the middle of a job loses nothing that was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from askpro.db import Database
from tests.fixtures.webhooks import deliver, events, stripe_event, wait_for

ROOT = Path(__file__).resolve().parents[2]
WORKER = (
    "import sys; import tests.webhooks.slow_handlers; from askpro.cli import main; "
    "sys.argv = ['askpro', 'worker', '--concurrency', '2']; main()"
)


def _start_worker(database_url: str, markers: Path, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "ASKPRO_DATABASE_URL": database_url,
        "ASKPRO_LOG_JSON": "false",
        "ASKPRO_TEST_MARKER_DIR": str(markers),
        "ASKPRO_TEST_HANDLER_SLEEP": "3",
        "PYTHONPATH": str(ROOT),
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER], cwd=ROOT, env=environment, stdout=output, stderr=output
        )


@pytest.mark.slow
async def test_a_worker_killed_mid_job_loses_no_acknowledged_event(
    client: httpx.AsyncClient, database: Database, database_url: str, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    log = tmp_path / "workers.log"
    acknowledged = 0
    for index in range(6):
        body = stripe_event(event_id=f"evt_kill_{index}", event_type="test.slow")
        response = await deliver(client, "stripe", body)
        acknowledged += response.status_code == 200
    assert acknowledged == 6

    first = _start_worker(database_url, markers, log)
    second: subprocess.Popen[bytes] | None = None
    try:

        async def a_job_is_running() -> bool:
            return any(path.name.startswith("started-") for path in markers.iterdir())

        await wait_for(a_job_is_running, within=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed = {path.name.split("-")[1] for path in markers.glob("started-*")}
        finished = {path.name.split("-")[1] for path in markers.glob("finished-*")}
        interrupted = killed - finished
        assert interrupted, "the kill must land in the middle of a job"
        statuses = {e.id: e.status for e in await events(database)}
        assert all(statuses[int(event_id)] == "processing" for event_id in interrupted)

        second = _start_worker(database_url, markers, log)

        async def all_processed() -> bool:
            return all(e.status == "processed" for e in await events(database))

        await wait_for(all_processed, within=120, interval=0.5)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=40)
    rows = await events(database)
    processed = sum(e.status == "processed" for e in rows)
    assert processed == acknowledged == len(rows)
    for event_id in interrupted:
        row = next(e for e in rows if e.id == int(event_id))
        assert row.attempts >= 2  # the killed attempt counted, then a new worker finished it
