"""``askpro simulate call``: play complete phone calls against a running server.

Every request is signed like Retell signs it: inbound webhook → call_started →
check_availability (the next free times) → check_availability of the chosen time (holds
it) → book_appointment → find_appointments → call_ended → call_analyzed. A call that
fails after ``call_started`` still ends: ``call_ended`` is sent (with an ``error_…``
disconnection reason), as Retell would, so the server never keeps a call open forever.
:func:`soak` plays many such calls at once, spread over several servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from askpro.tenancy.demo import DEMO_RETELL_KEY
from askpro.webhooks.signatures import sign_retell

__all__ = ["DEMO_RETELL_KEY", "Simulation", "SimulationFailed"]
BOOKED_OUTCOMES = ("booked", "pending_confirmation", "already_booked")
BOOKING_ROUNDS = 3


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
    # More servers (a cluster): requests go to each in turn, like a load balancer's.
    servers: Sequence[str] = ()
    # Ask first for this day's free times (the soak spreads its calls over many days).
    day: dt.date | None = None
    tool_latencies_ms: list[float] = field(default_factory=list)
    _turn: itertools.count[int] = field(default_factory=itertools.count)

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
        if self.servers:
            path = self.servers[next(self._turn) % len(self.servers)] + path
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
        self.tool_latencies_ms.append(elapsed)
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
            try:
                booked = await self.converse(client)
            except Exception:
                # End the call we started; if even that fails, the first error is the news.
                with contextlib.suppress(httpx.HTTPError):
                    await self.end(client, "error_unknown", successful=False)
                raise
            await self.end(client, "user_hangup", successful=True)
            return booked

    async def converse(self, client: httpx.AsyncClient) -> dict[str, Any]:
        """The caller asks for a time and takes the first one still free, books, checks.

        Like a real caller, one who hears "just taken" (another caller was quicker) takes
        the next time offered, and asks again when none is left (up to three rounds).
        """
        self.transcript.append(f"User: I'd like a {self.service}.")
        outcome = "no free time offered"
        for round_ in range(BOOKING_ROUNDS):
            asked: dict[str, Any] = {"service": self.service}
            if self.day is not None and round_ == 0:
                asked["date"] = self.day.isoformat()
            offered = await self.tool(client, "check_availability", asked)
            for option in offered["options"]:
                booked = await self.try_option(client, option)
                if booked["outcome"] in BOOKED_OUTCOMES:
                    await self.tool(client, "find_appointments", {})
                    return booked
                outcome = f"booking failed: {booked['outcome']}"
        raise SimulationFailed(outcome)

    async def try_option(self, client: httpx.AsyncClient, option: dict[str, Any]) -> dict[str, Any]:
        """Hold the offered time, then book it; the last answer (held or booked)."""
        chosen = dt.datetime.fromisoformat(option["start"])
        when = {"date": chosen.date().isoformat(), "time": chosen.strftime("%H:%M")}
        self.transcript.append(f"User: {when['date']} at {when['time']}, please.")
        held = await self.tool(client, "check_availability", {"service": self.service, **when})
        if held["outcome"] != "available":
            return held
        return await self.tool(
            client,
            "book_appointment",
            {"service": self.service, **when, "customer_name": self.caller_name},
        )

    async def end(self, client: httpx.AsyncClient, reason: str, *, successful: bool) -> None:
        """``call_ended`` then ``call_analyzed``, as Retell sends them when a call ends."""
        ended_ms = int(time.time() * 1000)
        final = self.call_object(
            "ended",
            end_timestamp=ended_ms,
            duration_ms=ended_ms - self.started_ms,
            disconnection_reason=reason,
        )
        await self.webhook(client, "call_ended", final)
        analysis = {
            "call_summary": f"{self.caller_name} "
            + (f"booked a {self.service}." if successful else "did not get an appointment."),
            "user_sentiment": "Positive" if successful else "Negative",
            "call_successful": successful,
            "in_voicemail": False,
        }
        await self.webhook(client, "call_analyzed", {**final, "call_analysis": analysis})


@dataclass(frozen=True)
class SoakReport:
    """What :func:`soak` measured; ``failures`` holds one line per failed call."""

    calls: int
    completed: int
    failures: list[str]
    seconds: float
    tool_latencies_ms: list[float]

    @property
    def calls_per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def tool_percentile(self, fraction: float) -> float:
        ordered = sorted(self.tool_latencies_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> str:
        return (
            f"{self.calls} calls: {self.completed} completed, {len(self.failures)} failed in "
            f"{self.seconds:.1f} s ({self.calls_per_second:.2f} calls/s); tool latency "
            f"p50 {self.tool_percentile(0.5):.0f} ms, p99 {self.tool_percentile(0.99):.0f} ms"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "completed": self.completed,
            "failed": len(self.failures),
            "seconds": round(self.seconds, 2),
            "calls_per_second": round(self.calls_per_second, 3),
            "tool_p50_ms": round(self.tool_percentile(0.5), 1),
            "tool_p99_ms": round(self.tool_percentile(0.99), 1),
        }


async def soak(
    template: Simulation,
    *,
    calls: int,
    concurrency: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> SoakReport:
    """Play ``calls`` calls like ``template``, ``concurrency`` at a time, each its own caller.

    Call *n* comes from its own number and asks first for the free times of day
    ``today + 1 + n % 28``, so concurrent callers mostly look at different days.
    """
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures: list[str] = []
    done = 0
    today = dt.date.today()

    async def one(number: int) -> None:
        nonlocal done
        simulation = Simulation(
            base_url=template.base_url,
            key=template.key,
            to_number=template.to_number,
            from_number=f"+49151{70_000_000 + number:08d}",
            caller_name=f"{template.caller_name} {number}",
            service=template.service,
            say=lambda _line: None,
            transport=template.transport,
            servers=template.servers,
            day=today + dt.timedelta(days=1 + number % 28),
        )
        async with semaphore:
            try:
                await simulation.run()
            except (SimulationFailed, httpx.HTTPError) as error:
                failures.append(f"{simulation.call_id}: {type(error).__name__}: {error}")
            latencies.extend(simulation.tool_latencies_ms)
            done += 1
            progress(done, calls)

    started = time.perf_counter()
    await asyncio.gather(*(one(number) for number in range(calls)))
    elapsed = time.perf_counter() - started
    return SoakReport(calls, calls - len(failures), failures, elapsed, latencies)


class SimulationFailed(RuntimeError):
    pass
