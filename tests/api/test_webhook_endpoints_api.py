"""/api/v1/webhook-endpoints: the secret shown once, URLs checked, deliveries and replays."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import OutboundDelivery, WebhookEndpoint
from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company
from tests.fixtures.outbound import create_delivery, create_endpoint

BASE = "/api/v1/webhook-endpoints"
BODY = {"url": "https://crm.example.com/hooks", "event_types": ["appointment.booked"]}


async def _headers(session: AsyncSession) -> tuple[dict[str, str], int]:
    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    return token.headers, company.id


async def test_the_secret_is_shown_once_and_stored_encrypted(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    headers, _ = await _headers(session)
    created = await api.post(BASE, json=BODY, headers=headers)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    shown = await api.get(f"{BASE}/{created.json()['id']}", headers=headers)
    assert "secret" not in shown.json()
    assert secret not in (await api.get(BASE, headers=headers)).text
    row = (await session.execute(select(WebhookEndpoint))).scalar_one()
    assert secret not in row.secret_encrypted


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://crm.example.com/hooks", "https"),
        ("https://127.0.0.1/hooks", "loopback"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://10.0.0.1/hooks", "private"),
        ("https://localhost:8443/hooks", "loopback"),
    ],
)
async def test_unsafe_urls_are_refused_naming_the_field(
    api: httpx.AsyncClient, session: AsyncSession, url: str, reason: str
) -> None:
    headers, _ = await _headers(session)
    response = await api.post(BASE, json={**BODY, "url": url}, headers=headers)
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "body.url"
    assert reason in problem["detail"]


async def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_the_overlap(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    headers, _ = await _headers(session)
    created = (await api.post(BASE, json=BODY, headers=headers)).json()
    rotated = await api.post(
        f"{BASE}/{created['id']}/rotate-secret", json={"overlap_seconds": 600}, headers=headers
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None


async def test_re_enabling_clears_the_disabled_reason(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    endpoint, _ = await create_endpoint(session, company)
    endpoint.enabled, endpoint.disabled_reason = False, "gone"
    token = await create_token(session, company)
    await session.commit()
    shown = (await api.get(f"{BASE}/{endpoint.id}", headers=token.headers)).json()
    assert (shown["enabled"], shown["disabled_reason"]) == (False, "gone")
    patched = await api.patch(
        f"{BASE}/{endpoint.id}", json={"enabled": True}, headers=token.headers
    )
    assert (patched.json()["enabled"], patched.json()["disabled_reason"]) == (True, None)


async def test_deliveries_are_listed_shown_and_replayed_with_the_same_webhook_id(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    endpoint, _ = await create_endpoint(session, company)
    failed = await create_delivery(session, endpoint)
    token = await create_token(session, company)
    await session.commit()
    listed = (await api.get(f"{BASE}/{endpoint.id}/deliveries", headers=token.headers)).json()
    (item,) = listed["items"]
    assert (item["id"], item["status"]) == (failed.id, "failed")
    detail = await api.get(f"{BASE}/{endpoint.id}/deliveries/{failed.id}", headers=token.headers)
    assert detail.json()["payload"]["id"] == item["webhook_id"]
    replayed = await api.post(
        f"{BASE}/{endpoint.id}/deliveries/{failed.id}/replay", headers=token.headers
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "pending"
    assert replayed.json()["webhook_id"] == item["webhook_id"]


async def test_bulk_replay_resets_failed_deliveries_only(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    endpoint, _ = await create_endpoint(session, company)
    failed = [await create_delivery(session, endpoint) for _ in range(3)]
    failed[0].status = "delivered"
    token = await create_token(session, company)
    await session.commit()
    response = await api.post(
        f"{BASE}/{endpoint.id}/replay", json={"status": "failed"}, headers=token.headers
    )
    assert response.json() == {"count": 2, "delivery_ids": [failed[1].id, failed[2].id]}
    await session.rollback()
    statuses = (
        await session.execute(select(OutboundDelivery.status).order_by(OutboundDelivery.id))
    ).scalars()
    assert list(statuses) == ["delivered", "pending", "pending"]
