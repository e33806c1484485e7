"""``askpro simulate call``: play one complete phone call against a running server.

Every request is signed like Retell signs it: inbound webhook → call_started →
check_availability (the next free times) → check_availability of the chosen time (holds
it) → book_appointment → find_appointments → call_ended → call_analyzed.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from askpro.tenancy.demo import DEMO_RETELL_KEY
from askpro.webhooks.signatures import sign_retell

__all__ = ["DEMO_RETELL_KEY", "Simulation", "SimulationFailed"]


@dataclass
class Simulation:
    base_url: str
    key: str
    to_number: str
    from_number: str
    caller_name: str
    service: str
    say: Callable[[str], None] = print
    call_id: str = field(default_factory=lambda: "sim_" + secrets.token_hex(8))
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    transcript: list[str] = field(default_factory=list)
    # Tests play the call in-process (ASGI); the command goes over the network.
    transport: httpx.AsyncBaseTransport | None = None

    def call_object(self, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "agent_id": "agent_simulated",
            "agent_version": 1,
            "call_type": "phone_call",
            "call_status": status,
            "direction": "inbound",
            "from_number": self.from_number,
            "to_number": self.to_number,
            "start_timestamp": self.started_ms,
            "transcript": "\n".join(self.transcript),
            **extra,
        }

    async def post(self, client: httpx.AsyncClient, path: str, payload: Any) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {
            "content-type": "application/json",
            "x-retell-signature": sign_retell(body, self.key),
        }
        return await client.post(path, content=body, headers=headers)

    async def webhook(self, client: httpx.AsyncClient, event: str, call: dict[str, Any]) -> None:
        response = await self.post(client, "/webhooks/retell", {"event": event, "call": call})
        self.say(f"  webhook {event:<15} → HTTP {response.status_code}")

    async def tool(
        self, client: httpx.AsyncClient, name: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        self.say(f"→ {name} {json.dumps(args, ensure_ascii=False)}")
        started = time.perf_counter()
        response = await self.post(
            client,
            f"/retell/functions/{name}",
            {"name": name, "call": self.call_object("ongoing"), "args": args},
        )
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SimulationFailed(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        self.say(f"← {answer['outcome']} ({elapsed:.0f} ms): {answer['message']}")
        self.transcript.append(f"Agent: {answer['message']}")
        return answer

    async def run(self) -> dict[str, Any]:
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=30, transport=self.transport
        ) as client:
            self.say(f"call {self.call_id}: {self.from_number} → {self.to_number}")
            inbound = await self.post(
                client,
                "/webhooks/retell/inbound",
                {
                    "event": "call_inbound",
                    "call_inbound": {"from_number": self.from_number, "to_number": self.to_number},
                },
            )
            self.say(f"  inbound webhook → HTTP {inbound.status_code}")
            if inbound.status_code == 200:
                variables = inbound.json().get("call_inbound", {}).get("dynamic_variables", {})
                self.say(f"  dynamic variables: {json.dumps(variables, ensure_ascii=False)}")
            await self.webhook(client, "call_started", self.call_object("ongoing"))
            self.transcript.append(f"User: I'd like a {self.service}.")
            offered = await self.tool(client, "check_availability", {"service": self.service})
            if not offered["options"]:
                raise SimulationFailed("no free time offered")
            chosen = dt.datetime.fromisoformat(offered["options"][0]["start"])
            when = {"date": chosen.date().isoformat(), "time": chosen.strftime("%H:%M")}
            self.transcript.append(f"User: {when['date']} at {when['time']}, please.")
            held = await self.tool(client, "check_availability", {"service": self.service, **when})
            if held["outcome"] != "available":
                raise SimulationFailed(f"the chosen time was not held: {held['outcome']}")
            booked = await self.tool(
                client,
                "book_appointment",
                {"service": self.service, **when, "customer_name": self.caller_name},
            )
            if booked["outcome"] not in ("booked", "pending_confirmation", "already_booked"):
                raise SimulationFailed(f"booking failed: {booked['outcome']}")
            await self.tool(client, "find_appointments", {})
            ended_ms = int(time.time() * 1000)
            final = self.call_object(
                "ended",
                end_timestamp=ended_ms,
                duration_ms=ended_ms - self.started_ms,
                disconnection_reason="user_hangup",
            )
            await self.webhook(client, "call_ended", final)
            analysis = {
                "call_summary": f"{self.caller_name} booked a {self.service}.",
                "user_sentiment": "Positive",
                "call_successful": True,
                "in_voicemail": False,
            }
            await self.webhook(client, "call_analyzed", {**final, "call_analysis": analysis})
            return booked


class SimulationFailed(RuntimeError):
    pass
