"""Stored tool answers: a retried tool call gets the first call's answer, byte for byte.

The first delivery claims the key (``INSERT … ON CONFLICT DO NOTHING``) and computes; the
repeats wait for its answer. A claim whose owner died is taken over after a while; a
failed computation removes its claim so the next delivery recomputes.

Every step is ONE statement, so each runs in an autocommit session: its own transaction,
without the BEGIN and COMMIT round trips (four statements per tool call on the hot path).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from askpro.db import Database
from askpro.kit.time import utc_now
from askpro.models import ToolCallAnswer

STALE_CLAIM = dt.timedelta(seconds=60)
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05


def answer_key(call_id: str, tool: str, args: dict[str, Any]) -> str:
    canonical = json.dumps([call_id, tool, args], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class AnswerTimeout(Exception):
    """The first delivery of this call is still being answered."""


async def once(
    database: Database,
    key: str,
    *,
    company_id: int,
    call_id: str,
    tool: str,
    compute: Callable[[], Awaitable[dict[str, Any]]],
) -> tuple[dict[str, Any], bool]:
    """``(answer, replayed)``: compute once per key, or return the stored answer."""
    if await _claim(database, key, company_id, call_id, tool):
        try:
            answer = await compute()
        except BaseException:
            await _drop(database, key)
            raise
        await _store(database, key, answer)
        return answer, False
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        async with database.autocommit_sessions() as session:
            row = (
                await session.execute(select(ToolCallAnswer).where(ToolCallAnswer.key == key))
            ).scalar_one_or_none()
        if row is None:  # the first delivery failed and gave the key back
            return await once(
                database, key, company_id=company_id, call_id=call_id, tool=tool, compute=compute
            )
        if row.state == "done" and row.answer is not None:
            return row.answer, True
        if await _take_over_stale(database, key):
            return await once(
                database, key, company_id=company_id, call_id=call_id, tool=tool, compute=compute
            )
        await asyncio.sleep(POLL_SECONDS)
    raise AnswerTimeout(key)


async def _claim(database: Database, key: str, company_id: int, call_id: str, tool: str) -> bool:
    async with database.autocommit_sessions() as session:
        claimed = (
            await session.execute(
                insert(ToolCallAnswer)
                .values(key=key, company_id=company_id, call_id=call_id, tool=tool, state="working")
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(ToolCallAnswer.id)
            )
        ).scalar_one_or_none()
        await session.commit()
    return claimed is not None


async def _store(database: Database, key: str, answer: dict[str, Any]) -> None:
    async with database.autocommit_sessions() as session:
        await session.execute(
            update(ToolCallAnswer)
            .where(ToolCallAnswer.key == key)
            .values(state="done", answer=answer, completed_at=utc_now())
        )
        await session.commit()


async def _drop(database: Database, key: str) -> None:
    async with database.autocommit_sessions() as session:
        await session.execute(
            delete(ToolCallAnswer).where(
                ToolCallAnswer.key == key, ToolCallAnswer.state == "working"
            )
        )
        await session.commit()


async def _take_over_stale(database: Database, key: str) -> bool:
    async with database.autocommit_sessions() as session:
        taken = await session.execute(
            delete(ToolCallAnswer)
            .where(
                ToolCallAnswer.key == key,
                ToolCallAnswer.state == "working",
                ToolCallAnswer.created_at < utc_now() - STALE_CLAIM,
            )
            .returning(ToolCallAnswer.id)
        )
        await session.commit()
        return taken.scalar_one_or_none() is not None
