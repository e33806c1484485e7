"""Webhook acknowledgement throughput and latency: askpro's receiver vs a minimal baseline.

Starts both servers itself (uvicorn, one process each, same settings, same database), sends
N correctly signed, distinct Stripe events at a fixed concurrency to each (saturation), then
sends at half of askpro's saturation rate (open loop) and reports latency there. Prints ONE
JSON line. The database is ``BENCH_DATABASE_URL`` or an embedded server under ``var/bench``.

    .venv/bin/python -m bench.webhook_ingest [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_bench_secret"
SAMPLES = ROOT / "tests" / "fixtures" / "samples"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def database_url() -> str:
    configured = os.environ.get("BENCH_DATABASE_URL")
    if configured:
        return configured
    from askpro.db import start_embedded_postgres

    server = start_embedded_postgres(ROOT / "var" / "bench")
    with psycopg.connect(server, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'askpro_bench'"
        ).fetchone()
        if not exists:
            admin.execute("CREATE DATABASE askpro_bench")
    return urlunsplit(urlsplit(server)._replace(path="/askpro_bench"))


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("TRUNCATE webhook_events, procrastinate_jobs CASCADE")
        connection.execute("CHECKPOINT")


def events(prefix: str, count: int) -> list[tuple[bytes, dict[str, str]]]:
    from askpro.webhooks.signatures import sign_stripe

    template = json.loads((SAMPLES / "stripe/event.fixture.json").read_text())
    template["type"] = "invoice.paid"
    template["data"] = {"object": json.loads((SAMPLES / "stripe/invoice.object.json").read_text())}
    signed = []
    for index in range(count):
        template["id"] = f"evt_{prefix}_{index}"
        body = json.dumps(template).encode()
        headers = {
            "content-type": "application/json",
            "stripe-signature": sign_stripe(body, SECRET),
        }
        signed.append((body, headers))
    return signed


def start(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=output
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start; see {log}")


def summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "ack_per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors,
    }


class Tally:
    """Latencies, errors and busy time of one target across interleaved rounds."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.elapsed = 0.0

    def add(self, latencies: list[float], errors: int, elapsed: float) -> float:
        self.latencies += latencies
        self.errors += errors
        self.elapsed += elapsed
        return len(latencies) / elapsed

    def summary(self) -> dict[str, Any]:
        return summary(self.latencies, self.errors, self.elapsed)


ERROR_KINDS: collections.Counter[str] = collections.Counter()


async def send(
    client: httpx.AsyncClient, url: str, item: tuple[bytes, dict[str, str]]
) -> float | None:
    started = time.perf_counter()
    try:
        response = await client.post(url, content=item[0], headers=item[1])
    except httpx.HTTPError as error:
        ERROR_KINDS[type(error).__name__] += 1
        return None
    if response.status_code != 200:
        ERROR_KINDS[f"http {response.status_code}"] += 1
        return None
    return time.perf_counter() - started


async def closed_loop(url: str, items: list[Any], concurrency: int) -> Any:
    """Saturation: ``concurrency`` senders back to back."""
    latencies: list[float] = []
    errors = 0
    pending = iter(items)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def sender() -> None:
            nonlocal errors
            for item in pending:
                latency = await send(client, url, item)
                if latency is None:
                    errors += 1
                else:
                    latencies.append(latency)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


async def open_loop(url: str, items: list[Any], rate: float) -> Any:
    """Fixed arrival rate (requests do not wait for each other)."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(item: Any) -> None:
            nonlocal errors
            latency = await send(client, url, item)
            if latency is None:
                errors += 1
            else:
                latencies.append(latency)

        tasks = []
        started = time.perf_counter()
        for index, item in enumerate(items):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(item)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--half-seconds", type=float, default=8.0)
    args = parser.parse_args()

    url = database_url()
    from askpro import migrations

    migrations.upgrade(url)
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    ours_port, base_port = free_port(), free_port()
    ours = start(
        [sys.executable, "-m", "askpro", "serve", "--no-worker", "--no-demo",
         "--port", str(ours_port)],
        {"ASKPRO_DATABASE_URL": url, "ASKPRO_STRIPE_WEBHOOK_SECRET": SECRET},
        ours_port,
        logs / "ours.log",
    )  # fmt: skip
    base = start(
        [sys.executable, "-m", "bench.webhook_baseline_app", "--port", str(base_port)],
        {"BENCH_DATABASE_URL": url},
        base_port,
        logs / "baseline.log",
    )
    targets = {
        "ours": f"http://127.0.0.1:{ours_port}/webhooks/stripe",
        "baseline": f"http://127.0.0.1:{base_port}/webhooks/stripe",
    }
    result: dict[str, Any] = {"bench": "webhook_ingest", "requests": args.requests,
                              "concurrency": args.concurrency}  # fmt: skip
    try:
        for name, target in targets.items():  # warm up both (pools, caches, prepared plans)
            asyncio.run(closed_loop(target, events(f"warm_{name}", 200), args.concurrency))
        # Interleaved short rounds, alternating who goes first: the machine is shared and its
        # load drifts, so back-to-back long runs would compare two different machines.
        saturated = {name: Tally() for name in targets}
        round_ratios = []
        per_round = max(50, args.requests // args.rounds)
        for round_index in range(args.rounds):
            order = list(targets) if round_index % 2 == 0 else list(reversed(targets))
            rates = {}
            for name in order:
                reset(url)
                items = events(f"sat{round_index}_{name}", per_round)
                measured = asyncio.run(closed_loop(targets[name], items, args.concurrency))
                rates[name] = saturated[name].add(*measured)
            round_ratios.append(rates["ours"] / rates["baseline"])
        for name, tally in saturated.items():
            result[name] = tally.summary()
        result["ratio"] = round(result["ours"]["ack_per_s"] / result["baseline"]["ack_per_s"], 3)
        result["ratio_median_of_rounds"] = round(statistics.median(round_ratios), 3)
        half_rate = result["ours"]["ack_per_s"] / 2
        count = max(100, int(half_rate * args.half_seconds / 2))
        half = {name: Tally() for name in targets}
        for round_index in range(2):
            for name in targets if round_index == 0 else reversed(targets):
                reset(url)
                items = events(f"half{round_index}_{name}", count)
                half[name].add(*asyncio.run(open_loop(targets[name], items, half_rate)))
        result["half_saturation"] = {
            "rate_per_s": round(half_rate, 1),
            **{name: tally.summary() for name, tally in half.items()},
        }
    finally:
        for process in (ours, base):
            process.terminate()
            process.wait(timeout=30)
    result["error_kinds"] = dict(ERROR_KINDS)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
