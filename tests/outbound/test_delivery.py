"""Deliveries to a real receiver on loopback: verified, retried, disabled, replayed, ordered."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from askpro.models import DeliveryAttempt, OutboundDelivery, WebhookEndpoint
from askpro.outbound import delivery, service
from askpro.outbound.schemas import EventType, MessageKind, MessagePayload, Urgency
from askpro.runtime import Runtime
from tests.fixtures.factories import create_company
from tests.fixtures.outbound import Receiver, create_endpoint, free_port, serving


def _payload(message_id: int) -> MessagePayload:
    return MessagePayload(
        message_id=message_id,
        kind=MessageKind.MESSAGE,
        call_id="call-1",
        customer_id=None,
        caller_name="Lisa",
        caller_number="+4915123456789",
        message="Bitte zurückrufen",
        urgency=Urgency.NORMAL,
        callback_window=None,
    )


async def _setup(
    runtime: Runtime, url: str, events: int = 1, ordering_key: str | None = None
) -> tuple[int, str]:
    async with runtime.database.sessions() as session:
        company = await create_company(session)
        endpoint, secret = await create_endpoint(session, company, url=url)
        for index in range(events):
            service.record_event(
                session,
                company.id,
                EventType.MESSAGE_TAKEN,
                _payload(index + 1),
                ordering_key=ordering_key,
            )
        await session.commit()
        return endpoint.id, secret


async def _drain(runtime: Runtime, done: object, *, within: float = 15.0) -> None:
    """Run delivery rounds (as the worker does) until ``done()`` holds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        await delivery.deliver_due(runtime)
        if await done():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def _deliveries(session: AsyncSession) -> list[OutboundDelivery]:
    return list(
        (await session.execute(select(OutboundDelivery).order_by(OutboundDelivery.id))).scalars()
    )


async def _all_settled(runtime: Runtime) -> bool:
    async with runtime.database.sessions() as session:
        rows = await _deliveries(session)
        return bool(rows) and all(row.status != "pending" for row in rows)


async def test_every_delivery_verifies_with_the_reference_library(local_runtime: Runtime) -> None:
    async with serving(Receiver(free_port())) as receiver:
        _, secret = await _setup(local_runtime, receiver.url, events=3)
        await _drain(local_runtime, lambda: _all_settled(local_runtime))
    assert len(receiver.received) == 3
    verifier = Webhook(secret)
    for request in receiver.received:
        envelope = verifier.verify(request.body, request.headers)
        assert envelope["type"] == "message.taken"
        assert envelope["id"] == request.webhook_id
        assert envelope["data"]["caller_name"] == "Lisa"
        assert "secret" not in request.body.decode()
    assert len({request.webhook_id for request in receiver.received}) == 3


async def test_receiver_down_then_up_is_retried_with_growing_gaps(local_runtime: Runtime) -> None:
    port = free_port()
    endpoint_id, _ = await _setup(local_runtime, f"http://127.0.0.1:{port}/hooks")

    async def attempts() -> list[DeliveryAttempt]:
        async with local_runtime.database.sessions() as session:
            rows = await session.execute(select(DeliveryAttempt).order_by(DeliveryAttempt.id))
            return list(rows.scalars())

    async def failed_three_times() -> bool:
        return len(await attempts()) >= 3

    await _drain(local_runtime, failed_three_times)  # nobody listens: connection refused
    async with serving(Receiver(port)) as receiver:
        await _drain(local_runtime, lambda: _all_settled(local_runtime))
    log = await attempts()
    assert [row.status_code for row in log][-1] == 200
    assert all(row.status_code is None and row.error for row in log[:-1])
    gaps = [(b.created_at - a.created_at).total_seconds() for a, b in itertools.pairwise(log)]
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps)), gaps
    assert gaps[0] >= 0.2  # the schedule's first wait
    assert len(receiver.received) == 1
    async with local_runtime.database.sessions() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        assert endpoint.failing_since is None
        assert endpoint.last_success_at is not None


async def test_retry_after_is_honoured(local_runtime: Runtime) -> None:
    receiver = Receiver(free_port(), script=[(429, {"retry-after": "30"})])
    async with serving(receiver):
        await _setup(local_runtime, receiver.url)
        await delivery.deliver_due(local_runtime)
    async with local_runtime.database.sessions() as session:
        (row,) = await _deliveries(session)
    assert row.status == "pending"
    assert row.last_status_code == 429
    wait = (row.next_attempt_at - (await _attempt_time(local_runtime))).total_seconds()
    assert wait >= 29  # the schedule alone would wait 0.2 s


async def _attempt_time(runtime: Runtime):  # type: ignore[no-untyped-def]
    async with runtime.database.sessions() as session:
        return (await session.execute(select(DeliveryAttempt.created_at))).scalar_one()


async def test_exhausted_schedule_marks_the_delivery_failed(local_runtime: Runtime) -> None:
    receiver = Receiver(free_port(), default_status=500)
    async with serving(receiver):
        await _setup(local_runtime, receiver.url)
        await _drain(local_runtime, lambda: _all_settled(local_runtime))
    async with local_runtime.database.sessions() as session:
        (row,) = await _deliveries(session)
    assert row.status == "failed"
    assert row.attempts == len(local_runtime.settings.outbound_retry_schedule_seconds) + 1
    assert len(receiver.received) == row.attempts


async def test_410_gone_disables_the_endpoint(local_runtime: Runtime) -> None:
    receiver = Receiver(free_port(), default_status=410)
    async with serving(receiver):
        endpoint_id, _ = await _setup(local_runtime, receiver.url, events=2)
        await delivery.deliver_due(local_runtime)
        await asyncio.sleep(0.3)
        await delivery.deliver_due(local_runtime)  # nothing more goes to a disabled endpoint
    async with local_runtime.database.sessions() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        assert (endpoint.enabled, endpoint.disabled_reason) == (False, "gone")
        assert all(row.status == "pending" for row in await _deliveries(session))
    assert len(receiver.received) == 2  # the two first attempts, nothing after the 410s


async def test_failing_longer_than_the_disable_period_disables(
    local_runtime: Runtime,
) -> None:
    runtime = Runtime(
        local_runtime.settings.model_copy(update={"outbound_disable_after_seconds": 0.3}),
        local_runtime.database,
    )
    receiver = Receiver(free_port(), default_status=503)
    async with serving(receiver):
        endpoint_id, _ = await _setup(runtime, receiver.url)

        async def disabled() -> bool:
            async with runtime.database.sessions() as session:
                endpoint = await session.get(WebhookEndpoint, endpoint_id)
                return endpoint is not None and not endpoint.enabled

        await _drain(runtime, disabled)
    async with runtime.database.sessions() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        assert endpoint.disabled_reason == "failing"


async def test_replay_resends_the_same_webhook_id(local_runtime: Runtime) -> None:
    async with serving(Receiver(free_port())) as receiver:
        endpoint_id, secret = await _setup(local_runtime, receiver.url)
        await _drain(local_runtime, lambda: _all_settled(local_runtime))
        async with local_runtime.database.sessions() as session:
            (row,) = await _deliveries(session)
            company_id = row.company_id
            replayed = await service.replay(session, company_id, endpoint_id, delivery_ids=[row.id])
            await session.commit()
        assert replayed == [row.id]
        await _drain(local_runtime, lambda: _all_settled(local_runtime))
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id
    assert first.body == second.body
    assert first.headers["webhook-timestamp"] <= second.headers["webhook-timestamp"]
    Webhook(secret).verify(second.body, second.headers)


async def test_one_appointment_s_events_go_out_in_order(local_runtime: Runtime) -> None:
    # The first event fails twice; the second (same key) must wait, not overtake it.
    receiver = Receiver(free_port(), script=[(503, {}), (503, {})])
    async with serving(receiver):
        await _setup(local_runtime, receiver.url, events=2, ordering_key="appointment:1")
        await _drain(local_runtime, lambda: _all_settled(local_runtime))
    order = [request.json()["data"]["message_id"] for request in receiver.received]
    assert order == [1, 1, 1, 2]


async def test_events_without_a_shared_key_do_not_wait_for_each_other(
    local_runtime: Runtime,
) -> None:
    receiver = Receiver(free_port(), script=[(503, {})])
    async with serving(receiver):
        await _setup(local_runtime, receiver.url, events=2)
        await delivery.deliver_due(local_runtime)
    assert sorted(request.json()["data"]["message_id"] for request in receiver.received) == [1, 2]


async def test_rotated_secret_overlap_signs_with_both(
    local_runtime: Runtime, session: AsyncSession
) -> None:
    async with serving(Receiver(free_port())) as receiver:
        endpoint_id, old = await _setup(local_runtime, receiver.url, events=0)
        async with local_runtime.database.sessions() as work:
            endpoint = await work.get(WebhookEndpoint, endpoint_id)
            assert endpoint is not None
            rotated = await service.rotate_secret(
                work, endpoint.company_id, endpoint_id, 3600, local_runtime.settings
            )
            service.record_event(work, endpoint.company_id, EventType.MESSAGE_TAKEN, _payload(1))
            await work.commit()
        await _drain(local_runtime, lambda: _all_settled(local_runtime))
    (request,) = receiver.received
    for secret in (old, rotated.secret):
        Webhook(secret).verify(request.body, request.headers)


@pytest.mark.parametrize("size", [10, 5 * 1024 * 1024])
async def test_a_large_answer_is_read_only_up_to_the_limit(
    local_runtime: Runtime, size: int
) -> None:
    receiver = Receiver(free_port(), body=b"x" * size)
    async with serving(receiver):
        await _setup(local_runtime, receiver.url)
        await _drain(local_runtime, lambda: _all_settled(local_runtime))
    async with local_runtime.database.sessions() as session:
        attempt = (await session.execute(select(DeliveryAttempt))).scalar_one()
    assert attempt.status_code == 200
    assert attempt.response_snippet is not None
    assert len(attempt.response_snippet) <= 1000
