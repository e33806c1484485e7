"""Schemathesis against /openapi.json over real HTTP, with a valid token and seeded data:
no 5xx, and every response matches its documented content type and schema.

Bounded: a few positive and negative examples per operation (ASKPRO_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import threading
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks as schemathesis_checks
from schemathesis.generation import GenerationMode
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.app import create_app
from askpro.config import Settings
from askpro.db import Database
from askpro.runtime import Runtime
from tests.fixtures import factories
from tests.fixtures.auth import create_token
from tests.fixtures.webhooks import create_webhook_event

EXAMPLES = int(os.environ.get("ASKPRO_FUZZ_EXAMPLES", "20"))

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


def _fuzz(base_url: str, headers: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    checks = [
        getattr(schemathesis_checks, name)
        for name in (
            "not_a_server_error",
            "response_schema_conformance",
            "content_type_conformance",
        )
    ]
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, [op.label for op in operations]
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE, headers=headers),
            operation.as_strategy(GenerationMode.NEGATIVE, headers=headers),
        )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, session=None, headers=headers)
            case.validate_response(response, checks=checks)

        try:
            run()
        except Exception as error:
            failures.append(f"{operation.label}: {str(error)[:600]}")
    return failures


async def test_openapi_fuzzing_finds_no_server_errors_or_schema_violations(
    settings: Settings, database_url: str, session: AsyncSession, database: Database
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
    token = await create_token(session, company)
    await session.commit()
    headers = {**token.headers, "X-Company-ID": str(company.id)}
    fuzz_settings = settings.model_copy(update={"rate_limit_per_token": "100000/minute"})

    with ServerThread(fuzz_settings, database_url) as server:
        failures = await asyncio.to_thread(_fuzz, server.base_url, headers)
    assert not failures, "\n\n".join(failures)
