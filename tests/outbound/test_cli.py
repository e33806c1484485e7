"""``askpro events list|replay`` as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import OutboundDelivery
from tests.fixtures.factories import create_company
from tests.fixtures.outbound import create_delivery, create_endpoint


def _askpro(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "ASKPRO_DATABASE_URL": database_url,
        "ASKPRO_LOG_JSON": "false",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "askpro", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_list_then_replay_the_failed_deliveries(
    session: AsyncSession, database_url: str
) -> None:
    company = await create_company(session)
    endpoint, _ = await create_endpoint(session, company)
    failed = await create_delivery(session, endpoint)
    other = await create_company(session)
    foreign, _ = await create_endpoint(session, other)
    await session.commit()
    ids = ["--company", str(company.id), "--endpoint", str(endpoint.id)]

    listed = await asyncio.to_thread(_askpro, database_url, "events", "list", *ids)
    assert listed.returncode == 0, listed.stderr
    assert "message.taken" in listed.stdout
    assert "1 deliveries" in listed.stdout

    replayed = await asyncio.to_thread(
        _askpro, database_url, "events", "replay", *ids, "--status", "failed"
    )
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed 1 deliveries: {failed.id}" in replayed.stdout
    await session.rollback()
    status = (await session.execute(select(OutboundDelivery.status))).scalar_one()
    assert status == "pending"

    # Another company's endpoint is not found from this company.
    crossed = await asyncio.to_thread(
        _askpro, database_url, "events", "list", "--company", str(company.id),
        "--endpoint", str(foreign.id),
    )  # fmt: skip
    assert crossed.returncode == 1
    assert "not found" in crossed.stderr.lower()


async def test_replay_needs_ids_or_a_status(database_url: str) -> None:
    result = await asyncio.to_thread(
        _askpro, database_url, "events", "replay", "--company", "1", "--endpoint", "1"
    )
    assert result.returncode == 2
    assert "--status" in result.stderr
