"""``askpro webhooks list|show|replay`` and ``askpro simulate webhook`` as an operator runs them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
from sqlalchemy import update

from askpro.app import create_app
from askpro.db import Database
from askpro.models import WebhookEvent
from askpro.runtime import Runtime
from tests.fixtures.webhooks import (
    SAMPLES,
    deliver,
    events,
    job_count,
    stripe_event,
    uvicorn_in_thread,
)


def _askpro(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "ASKPRO_DATABASE_URL": database_url,
        "ASKPRO_LOG_JSON": "false",
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "askpro", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _run(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_askpro, database_url, *args, **env)


async def test_list_show_and_replay_a_dead_event(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    await deliver(client, "stripe", stripe_event(event_id="evt_cli_1"))
    await deliver(client, "stripe", stripe_event(event_id="evt_cli_2"))
    first, second = await events(database)
    async with database.sessions() as session:
        await session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == first.id)
            .values(status="dead", attempts=8, last_error="ValueError: boom")
        )
        await session.commit()

    listed = await _run(database_url, "webhooks", "list", "--status", "dead")
    assert listed.returncode == 0, listed.stderr
    assert "ValueError: boom" in listed.stdout
    assert "invoice.paid" in listed.stdout
    assert f"│ {second.id} " not in listed.stdout

    shown = await _run(database_url, "webhooks", "show", str(first.id))
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["payload"]["id"] == "evt_cli_1"
    assert detail["status"] == "dead"
    assert not any("signature" in name for name in detail["headers"])

    replayed = await _run(database_url, "webhooks", "replay", "--status", "dead", "--by", "lena")
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed 1: {first.id}" in replayed.stdout
    row = next(e for e in await events(database) if e.id == first.id)
    assert (row.status, row.attempts, row.replayed_by) == ("received", 0, "lena")
    assert row.replayed_at is not None
    assert await job_count(database) == 2  # the replay pulled the waiting job forward

    missing = await _run(database_url, "webhooks", "show", "999999")
    assert missing.returncode == 1
    bad = await _run(database_url, "webhooks", "list", "--status", "lost")
    assert bad.returncode == 2


async def test_simulate_signs_a_sample_and_the_hub_accepts_it(
    runtime: Runtime, database: Database, database_url: str
) -> None:
    server_database = Database(database_url, pool_size=2)
    app = create_app(runtime=Runtime(settings=runtime.settings, database=server_database))
    env = {
        "ASKPRO_STRIPE_WEBHOOK_SECRET": "whsec_test_secret",
        "ASKPRO_RETELL_API_KEY": "test-retell-key",
        "ASKPRO_CALCOM_WEBHOOK_SECRET": "test-calcom-secret",
    }
    with uvicorn_in_thread(app, server_database) as base_url:
        for provider, sample in (
            ("stripe", "stripe/event.fixture.json"),
            ("retell", "retell/call_ended.webhook.json"),
            ("calcom", "calcom/booking_created.webhook.json"),
            ("retell", "retell/call_inbound.request.json"),
        ):
            result = await _run(
                database_url, "simulate", "webhook", provider, str(SAMPLES / sample),
                "--url", base_url, "--unique", **env,
            )  # fmt: skip
            assert result.returncode == 0, (sample, result.stdout, result.stderr)
        inbound = await _run(
            database_url, "simulate", "webhook", "retell",
            str(SAMPLES / "retell/call_inbound.request.json"), "--url", base_url, **env,
        )  # fmt: skip
        assert '"call_inbound"' in inbound.stdout
        forged = await _run(
            database_url, "simulate", "webhook", "stripe", str(SAMPLES / "stripe/event.fixture.json"),
            "--url", base_url, "--secret", "whsec_wrong", "--unique", **env,
        )  # fmt: skip
        assert forged.returncode == 1
        assert "401" in forged.stdout
    stored = await events(database)
    assert sorted(e.provider for e in stored) == ["calcom", "retell", "retell", "retell", "stripe"]
