"""A real server process: rows still queued at SIGTERM are written by the shutdown flush."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import AuditLog
from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_sigterm_flushes_the_audit_queue(database_url: str, session: AsyncSession) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    port = _free_port()
    environment = {
        **os.environ,
        "ASKPRO_DATABASE_URL": database_url,
        "ASKPRO_AUDIT_FLUSH_SECONDS": "60",  # nothing is written before shutdown
        "ASKPRO_LOG_JSON": "false",
    }
    server = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "askpro.app:create_app_from_environment",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            while True:
                try:
                    await client.get("/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "server did not start"
                    assert server.returncode is None, "server exited"
                    await asyncio.sleep(0.1)
            request_ids = [uuid.uuid4().hex for _ in range(3)]
            for request_id in request_ids:
                response = await client.post(
                    "/api/v1/branches",
                    json={"name": "x"},
                    headers={**token.headers, "X-Request-ID": request_id},
                )
                assert response.status_code == 201
        rows = (await session.scalars(select(AuditLog))).all()
        assert rows == []  # still queued in the server process
        server.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(server.communicate(), timeout=40)
    finally:
        if server.returncode is None:
            server.kill()
    rows = (await session.scalars(select(AuditLog).order_by(AuditLog.id))).all()
    assert sorted(row.correlation_id or "" for row in rows) == sorted(request_ids), stderr
