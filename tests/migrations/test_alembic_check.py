"""Models and migrations agree, and the migrations run from scratch (the template is built by them)."""

from __future__ import annotations

import asyncio

from askpro import migrations


async def test_models_and_migrations_agree(database_url: str) -> None:
    await asyncio.to_thread(migrations.check, database_url)
