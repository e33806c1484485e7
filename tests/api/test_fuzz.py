"""Schemathesis (its CLI, as a user runs it) against /openapi.json over real HTTP, with a
company token holding every tenant scope and seeded data: ``--checks all`` (no 5xx, every
status/header/content type/body as documented, schema-valid requests accepted, invalid ones
rejected, ``Allow`` on 405, auth not ignored, …) over every phase, including the stateful
one that follows the document's ``links`` from create to read/change/delete. 0 failures.

Covers every route the document lists, so new routers are checked without a change here.
What no schema can state is declared per operation (``x-semantic-fields``, see
askpro.api.openapi); the generated config lets only those operations reject schema-valid
data, and the check in ``schemathesis_hooks`` holds each such rejection to those fields.
Bounded for CI on 2 cores: ASKPRO_FUZZ_EXAMPLES examples per operation (default 20), a fixed
seed (ASKPRO_FUZZ_SEED) so a failure reproduces.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.app import create_app
from askpro.config import Settings
from askpro.db import Database
from askpro.runtime import Runtime
from tests.fixtures import factories
from tests.fixtures.auth import create_token
from tests.fixtures.webhooks import create_webhook_event

EXAMPLES = int(os.environ.get("ASKPRO_FUZZ_EXAMPLES", "20"))
SEED = os.environ.get("ASKPRO_FUZZ_SEED", "1")
HOOKS = "tests.api.schemathesis_hooks"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerThread:
    """uvicorn in a thread with its own event loop and its own connection pool."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        import uvicorn

        self.database = Database(database_url, pool_size=4)
        self.app = create_app(settings, runtime=Runtime(settings=settings, database=self.database))
        self.port = _free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        async def serve() -> None:
            try:
                await self.server.serve()
            finally:
                await self.app.state.audit_writer.close()
                await self.database.dispose()

        asyncio.run(serve())

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def _get_json(url: str) -> Any:
    return httpx.get(url, timeout=10).json()


def _config(document: dict[str, Any]) -> str:
    """schemathesis.toml from the document itself, so new routes need no change here.

    An operation that documents a 5xx may answer it (e.g. 503 billing-not-configured on a
    server without a Stripe key) without being a crash; an operation that declares
    ``x-semantic-fields`` may reject schema-valid data with 400/422, which the hooks' check
    then holds to the declared fields.
    """
    # No cache: a run must not replay what an earlier run (another seed, a dead database) saw.
    lines = [f'hooks = "{HOOKS}"', "cache = { enabled = false }", ""]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            documented_5xx = sorted(code for code in operation["responses"] if code[0] == "5")
            if documented_5xx:
                statuses = ", ".join(f'"{code}"' for code in ["2xx", "3xx", "4xx", *documented_5xx])
                lines += [
                    "[[operations]]",
                    f'include-name = "{name}"',
                    f"checks.not_a_server_error.expected-statuses = [{statuses}]",
                    "",
                ]
            if operation.get("x-semantic-fields"):
                lines += [
                    "[[operations]]",
                    f'include-name = "{name}"',
                    "checks.positive_data_acceptance.expected-statuses = "
                    '["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"]',
                    "",
                ]
    return "\n".join(lines)


def _schemathesis(
    base_url: str, headers: dict[str, str], config: Path, report: Path
) -> tuple[int, str]:
    """``schemathesis run`` with every check and every phase (stateful links included)."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "1",
        "--generation-deterministic",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        "--output-truncate",
        "false",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    return done.returncode, done.stdout + done.stderr


async def test_schemathesis_with_all_checks_and_stateful_links_finds_nothing(
    settings: Settings,
    database_url: str,
    session: AsyncSession,
    database: Database,
    tmp_path: Path,
) -> None:
    company = await factories.create_company(session)
    branch = await factories.create_branch(session, company)
    staff = [await factories.create_staff(session, company, branch=branch) for _ in range(3)]
    service = await factories.create_service(session, company, staff=staff)
    start = dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)
    for index in range(10):
        await factories.create_appointment(
            session, company, staff[index % 3], service, start + dt.timedelta(hours=index)
        )
    for status in ("dead", "failed", "processed", "received"):
        await create_webhook_event(session, company, status=status)
    # A company token with every scope a company token can hold (no X-Company-ID needed).
    token = await create_token(session, company)
    await session.commit()
    # One client fuzzes from one IP: budgets above what the run sends (429 is documented).
    fuzz_settings = settings.model_copy(
        update={"rate_limit_per_token": "1000000/minute", "rate_limit_per_ip": "1000000/minute"}
    )

    with ServerThread(fuzz_settings, database_url) as server:
        document = await asyncio.to_thread(_get_json, f"{server.base_url}/openapi.json")
        assert len([op for path in document["paths"].values() for op in path]) >= 30
        config = tmp_path / "schemathesis.toml"
        config.write_text(_config(document))
        code, output = await asyncio.to_thread(
            _schemathesis, server.base_url, token.headers, config, tmp_path / "junit.xml"
        )
    assert code == 0, output[-20000:]
    assert "Stateful" in output or "stateful" in output, output[-3000:]
