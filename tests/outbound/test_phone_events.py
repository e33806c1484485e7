"""Events from the phone: one appointment.booked per booking whatever is retried or killed,
none for a booking that rolled back; a message taken in take_message mode is delivered."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from askpro.config import Settings
from askpro.db import Database
from askpro.models import Appointment, Call, CallerMessage, OutboundDelivery, OutboundEvent
from askpro.outbound import delivery
from askpro.runtime import Runtime
from tests.fixtures.auth import create_token
from tests.fixtures.booking import DAY, Salon
from tests.fixtures.outbound import Receiver, create_endpoint, free_port, local_settings, serving
from tests.fixtures.retell import post_tool
from tests.fixtures.webhooks import wait_for

ROOT = Path(__file__).resolve().parents[2]
WORKER = (
    "import sys; from askpro.cli import main; "
    "sys.argv = ['askpro', 'worker', '--concurrency', '2']; main()"
)
BOOKING = {"service": "Colouring", "date": DAY.isoformat(), "time": "11:00"}


async def _count(database: Database, model: type, **where: object) -> int:
    async with database.sessions() as session:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return int((await session.execute(statement)).scalar_one())


def _start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "ASKPRO_DATABASE_URL": database_url,
        "ASKPRO_LOG_JSON": "false",
        "ASKPRO_SECRET_KEY": "test-secret-key",
        "ASKPRO_OUTBOUND_ALLOW_LOCAL_TARGETS": "true",
        "ASKPRO_OUTBOUND_TIMEOUT_SECONDS": "8",
        "ASKPRO_OUTBOUND_LEASE_SECONDS": "9",
        "PYTHONPATH": str(ROOT),
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER], cwd=ROOT, env=environment, stdout=output, stderr=output
        )


@pytest.mark.slow
async def test_a_phone_booking_retried_and_a_killed_worker_give_one_booked_delivery(
    client: httpx.AsyncClient,
    salon: Salon,
    database: Database,
    database_url: str,
    settings: Settings,
    tmp_path: Path,
) -> None:
    # The receiver holds the first request long enough for the worker to die mid-delivery.
    receiver = Receiver(free_port(), delay_seconds=30)
    async with database.sessions() as session:
        company = await session.get(type(salon.company), salon.company.id)
        assert company is not None
        _, secret = await create_endpoint(
            session, company, url=receiver.url, event_types=["appointment.booked"]
        )
        await session.commit()
    responses = await asyncio.gather(
        *(
            post_tool(
                client, "book_appointment", BOOKING, call_id="call-5x", to_number=salon.number
            )
            for _ in range(5)
        )
    )
    assert {response.json()["outcome"] for response in responses} == {"booked"}
    assert await _count(database, Appointment) == 1
    assert await _count(database, OutboundEvent, type="appointment.booked") == 1

    async with serving(receiver):
        worker = _start_worker(database_url, tmp_path / "worker.log")
        try:

            async def request_in_flight() -> bool:
                return len(receiver.received) == 1

            await wait_for(request_in_flight, within=60)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
        async with database.sessions() as session:
            (row,) = (await session.execute(select(OutboundDelivery))).scalars()
            assert row.status == "pending"
            assert row.leased_until is not None
        receiver.delay_seconds = 0
        runtime = Runtime(local_settings(settings), database)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the lease of the dead worker runs out, then resent
            await delivery.deliver_due(runtime)
            if await _count(database, OutboundDelivery, status="delivered"):
                break
            await asyncio.sleep(0.2)
        await runtime.extras["outbound.http"].aclose()
    assert await _count(database, OutboundDelivery) == 1
    assert await _count(database, OutboundDelivery, status="delivered") == 1
    assert len(receiver.received) == 2
    assert len({request.webhook_id for request in receiver.received}) == 1  # one delivery
    for request in receiver.received:
        envelope = Webhook(secret).verify(request.body, request.headers)
        assert envelope["type"] == "appointment.booked"
        assert envelope["data"]["status"] == "booked"
        assert envelope["data"]["actor_channel"] == "phone"


async def test_a_rolled_back_booking_produces_no_event(
    client: httpx.AsyncClient, salon: Salon, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from askpro.booking import repository as booking_repository

    async def fail_after_the_history_row(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process failed before commit")

    # `view` runs after the appointment and its history row were flushed, inside the unit.
    monkeypatch.setattr(booking_repository, "view", fail_after_the_history_row)
    with pytest.raises(RuntimeError):
        await post_tool(client, "book_appointment", BOOKING, call_id="c-rb", to_number=salon.number)
    assert await _count(database, Appointment, status="booked") == 0
    assert await _count(database, OutboundEvent) == 0
    monkeypatch.undo()
    booked = await post_tool(
        client, "book_appointment", BOOKING, call_id="c-ok", to_number=salon.number
    )
    assert booked.json()["outcome"] == "booked"
    assert await _count(database, OutboundEvent, type="appointment.booked") == 1


async def test_take_message_in_take_message_mode_is_stored_listed_and_delivered(
    client: httpx.AsyncClient,
    salon: Salon,
    database: Database,
    settings: Settings,
    session: AsyncSession,
) -> None:
    company = await session.get(type(salon.company), salon.company.id)
    assert company is not None
    company.status = "suspended"  # the agent may not book: take_message mode
    receiver = Receiver(free_port())
    _, secret = await create_endpoint(
        session, company, url=receiver.url, event_types=["message.taken"]
    )
    token = await create_token(session, company)
    await session.commit()

    refused = await post_tool(
        client, "book_appointment", BOOKING, call_id="c-m", to_number=salon.number
    )
    assert refused.json()["reason"] == "take_message"
    assert refused.json()["suggested_tools"] == ["take_message", "request_callback"]
    args = {"message": "Bitte Termin für Freitag zurückrufen", "caller_name": "Lisa Weber"}
    for _ in range(2):  # a retried tool call stores one message
        taken = await post_tool(client, "take_message", args, call_id="c-m", to_number=salon.number)
        assert taken.json()["outcome"] == "message_taken", taken.json()
        assert taken.json()["message"] == "Ich habe Ihre Nachricht notiert und gebe sie weiter."

    stored = (await session.execute(select(CallerMessage))).scalars().all()
    assert len(stored) == 1
    call = (await session.execute(select(Call).where(Call.call_id == "c-m"))).scalar_one()
    assert stored[0].call_id == call.id
    assert stored[0].customer_id == call.customer_id
    assert stored[0].customer_id is not None

    listed = (await client.get("/api/v1/messages", headers=token.headers)).json()["items"]
    assert [(item["body"], item["caller_name"], item["kind"]) for item in listed] == [
        (args["message"], "Lisa Weber", "message")
    ]
    on_call = await client.get(f"/api/v1/calls/{call.id}", headers=token.headers)
    assert [item["id"] for item in on_call.json()["messages"]] == [stored[0].id]

    runtime = Runtime(local_settings(settings), database)
    async with serving(receiver):
        await delivery.deliver_due(runtime)
    await runtime.extras["outbound.http"].aclose()
    (request,) = receiver.received
    envelope = Webhook(secret).verify(request.body, request.headers)
    assert envelope["type"] == "message.taken"
    assert envelope["data"]["message"] == args["message"]
    assert envelope["data"]["call_id"] == "c-m"


async def test_request_callback_is_stored_with_its_window(
    client: httpx.AsyncClient, salon: Salon, session: AsyncSession
) -> None:
    args = {"preferred_window": "morgen Vormittag", "reason": "Frage zur Rechnung"}
    body = (
        await post_tool(client, "request_callback", args, call_id="c-cb", to_number=salon.number)
    ).json()
    assert body["outcome"] == "callback_requested"
    assert "morgen Vormittag" in body["message"]
    (message,) = (await session.execute(select(CallerMessage))).scalars().all()
    assert (message.kind, message.callback_window) == ("callback", "morgen Vormittag")
    assert message.caller_number is not None  # the line's caller id
    (event,) = (await session.execute(select(OutboundEvent))).scalars().all()
    assert event.type == "callback.requested"
