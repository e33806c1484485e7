"""50 callers ask the agent for the same slot at once, over HTTP with separate connections."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy import text

from askpro.app import create_app
from askpro.config import Settings
from askpro.db import Database
from askpro.runtime import Runtime, set_runtime
from tests.booking.test_concurrency import OVERLAPS
from tests.fixtures.booking import DAY, Salon
from tests.fixtures.retell import post_tool


async def test_fifty_concurrent_book_appointment_tool_calls_one_booked(
    settings: Settings, wide_database: Database, salon: Salon, queue: None
) -> None:
    runtime = Runtime(settings=settings, database=wide_database)
    set_runtime(runtime)
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    args = {"service": "Colouring", "staff": "Anna", "date": DAY.isoformat(), "time": "10:00"}
    async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
        responses = await asyncio.gather(
            *(
                post_tool(
                    client,
                    "book_appointment",
                    args,
                    call_id=f"race-{index}",
                    to_number=salon.number,
                    from_number=f"+49151000{index:05d}",
                )
                for index in range(50)
            )
        )
    set_runtime(None)
    bodies = [response.json() for response in responses]
    assert Counter(body["outcome"] for body in bodies) == {"booked": 1, "slot_taken": 49}
    for body in bodies:
        if body["outcome"] == "slot_taken":
            assert 1 <= len(body["options"]) <= 3
            assert body["message"].startswith("Dieser Termin ist leider gerade vergeben worden.")
            assert "10:00 Uhr" not in body["message"].split("anbieten")[0].split("Ihnen")[-1]
    async with wide_database.sessions() as session:
        assert (await session.execute(text(OVERLAPS))).scalar_one() == 0
        booked = await session.execute(
            text("SELECT count(*) FROM appointments WHERE status = 'booked'")
        )
        assert booked.scalar_one() == 1
