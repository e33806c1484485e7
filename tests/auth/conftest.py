"""The app under test with its audit writer, and an HTTP client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from askpro.app import create_app
from askpro.runtime import Runtime


@pytest.fixture
async def app(runtime: Runtime) -> AsyncIterator[FastAPI]:
    application = create_app(runtime=runtime)
    yield application
    await application.state.audit_writer.close()


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
        yield client
