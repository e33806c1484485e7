"""The process-wide resources (settings, database) that jobs and requests share.

``serve`` and ``worker`` build one ``Runtime`` at start-up; jobs reach it through
``get_runtime()`` because procrastinate calls them with plain arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from askpro.config import Settings
from askpro.db import Database, release_embedded_postgres, resolve_database_url


@dataclass
class Runtime:
    settings: Settings
    database: Database
    # Feature-owned singletons (e.g. HTTP clients) keyed by name, closed by their owners.
    extras: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        """Close the database pool and, when embedded, release the embedded server."""
        await self.database.dispose()
        if self.settings.database_url is None:
            release_embedded_postgres()


_current: Runtime | None = None


def build_runtime(settings: Settings) -> Runtime:
    url = resolve_database_url(settings)
    return Runtime(settings=settings, database=Database(url, pool_size=settings.database_pool_size))


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def get_runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("askpro runtime not initialised (call set_runtime at start-up)")
    return _current
