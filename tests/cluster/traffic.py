"""What the cluster tests send: signed Stripe top-ups, Retell tool calls, spread over K ports."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from askpro.ops.cluster import CLUSTER_RETELL_KEY, CLUSTER_STRIPE_SECRET
from askpro.tenancy.demo import DEMO_PHONE_NUMBER
from askpro.webhooks.signatures import sign_retell, sign_stripe
from tests.fixtures.billing import stripe_event, stripe_object


def topup_body(company_id: int, intent_id: str, amount_cents: int = 100) -> bytes:
    """A paid Checkout session crediting ``company_id`` (one ledger entry per intent)."""
    checkout = stripe_object(
        "checkout.session",
        id=f"cs_{intent_id}",  # its own entity: top-ups of one company run in parallel
        status="complete",
        payment_status="paid",
        payment_intent=intent_id,
        amount_total=amount_cents,
        currency="eur",
        metadata={"company_id": str(company_id)},
    )
    event = stripe_event("checkout.session.completed", checkout, event_id=f"evt_{intent_id}")
    return json.dumps(event).encode()


@dataclass
class Spreader:
    """Sends each request to the next web process in turn (a round-robin load balancer)."""

    urls: Sequence[str]
    timeout: float = 10
    statuses: list[int] = field(default_factory=list)
    _next: itertools.count[int] = field(default_factory=itertools.count)
    _client: httpx.AsyncClient = field(init=False)

    async def __aenter__(self) -> Spreader:
        self._client = httpx.AsyncClient(timeout=self.timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def url(self) -> str:
        return self.urls[next(self._next) % len(self.urls)]

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], url: str | None = None
    ) -> int:
        """POST and return the status; 0 when the process could not be reached."""
        try:
            response = await self._client.post(
                (url or self.url()) + path,
                content=body,
                headers={"content-type": "application/json", **headers},
            )
            status = response.status_code
        except httpx.TransportError:
            status = 0
        self.statuses.append(status)
        return status

    async def stripe(self, body: bytes, url: str | None = None) -> int:
        headers = {"Stripe-Signature": sign_stripe(body, CLUSTER_STRIPE_SECRET)}
        return await self.post("/webhooks/stripe", body, headers, url)

    async def retell(self, body: bytes, url: str | None = None) -> int:
        headers = {"x-retell-signature": sign_retell(body, CLUSTER_RETELL_KEY)}
        return await self.post("/webhooks/retell", body, headers, url)

    async def tool(
        self,
        name: str,
        args: dict[str, Any],
        call_id: str,
        url: str | None = None,
        from_number: str = "+4915112345678",
    ) -> tuple[int, dict[str, Any]]:
        payload = {
            "name": name,
            "call": {
                "call_id": call_id,
                "call_type": "phone_call",
                "call_status": "ongoing",
                "direction": "inbound",
                "from_number": from_number,
                "to_number": DEMO_PHONE_NUMBER,
                "agent_id": "agent_cluster",
            },
            "args": args,
        }
        body = json.dumps(payload).encode()
        headers = {"x-retell-signature": sign_retell(body, CLUSTER_RETELL_KEY)}
        try:
            response = await self._client.post(
                (url or self.url()) + f"/retell/functions/{name}",
                content=body,
                headers={"content-type": "application/json", **headers},
            )
        except httpx.TransportError:
            self.statuses.append(0)
            return 0, {}
        self.statuses.append(response.status_code)
        answer = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        return response.status_code, answer


async def gather_limited(limit: int, *coroutines: Any) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine: Any) -> Any:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))
