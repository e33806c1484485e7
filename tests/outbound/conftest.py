from collections.abc import AsyncIterator

import pytest

from askpro.config import Settings
from askpro.db import Database
from askpro.runtime import Runtime, set_runtime
from tests.fixtures.booking import salon
from tests.fixtures.outbound import local_settings

__all__ = ["salon"]


@pytest.fixture
async def local_runtime(
    settings: Settings, database: Database, queue: None
) -> AsyncIterator[Runtime]:
    """The runtime in test mode: loopback receivers allowed, a short retry schedule."""
    current = Runtime(settings=local_settings(settings), database=database)
    set_runtime(current)
    yield current
    set_runtime(None)
    client = current.extras.get("outbound.http")
    if client is not None:
        await client.aclose()
