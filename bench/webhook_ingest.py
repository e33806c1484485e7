"""Webhook acknowledgement throughput and latency: askpro's receiver vs the bare baseline app.

Both servers run at once (uvicorn, one process each, pinned to core 0; same database, same
pool), and wrk (pinned to core 1) sends correctly signed, distinct Stripe events built
before each run (signatures are time-limited, so every run signs its own). Measured in the
same run, interleaved: saturation (closed loop, alternating who goes first), then open-loop
latency at half of askpro's saturation rate and at 100/s. After every askpro run the inbox
row count and the job count are compared with the acknowledged count. Prints ONE JSON line.
The database is ``BENCH_DATABASE_URL`` or an embedded server under ``var/bench``.

    .venv/bin/python -m bench.webhook_ingest [--seconds 5] [--rounds 2] [--connections 32]

Ceiling of the generator: wrk on its own core sends well over 20,000 requests/s to a
static server on this machine, ten times what either app reaches, so it is never the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench import wrk

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_bench_secret"
SAMPLES = ROOT / "tests" / "fixtures" / "samples"
TARGETS = ("askpro", "baseline")


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
        connection.execute("TRUNCATE bench_baseline_events")
        connection.execute("CHECKPOINT")


def stored(url: str) -> dict[str, int]:
    """What the run left in the database: inbox rows, their jobs, baseline rows."""
    with psycopg.connect(url, autocommit=True) as connection:
        counts = connection.execute(
            "SELECT (SELECT count(*) FROM webhook_events),"
            " (SELECT count(*) FROM procrastinate_jobs"
            "   WHERE task_name = 'askpro.webhooks.process'),"
            " (SELECT count(*) FROM bench_baseline_events)"
        ).fetchone()
    assert counts is not None
    return {"inbox_rows": counts[0], "jobs": counts[1], "baseline_rows": counts[2]}


def signed_events(prefix: str, count: int) -> Iterator[wrk.HttpRequest]:
    """``count`` distinct ``invoice.paid`` events, signed now with the bench secret."""
    from askpro.webhooks.signatures import sign_stripe

    template = json.loads((SAMPLES / "stripe/event.fixture.json").read_text())
    template["type"] = "invoice.paid"
    template["data"] = {"object": json.loads((SAMPLES / "stripe/invoice.object.json").read_text())}
    for index in range(count):
        template["id"] = f"evt_{prefix}_{index}"
        body = json.dumps(template, separators=(",", ":")).encode()
        signature = sign_stripe(body, SECRET)
        headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
        yield wrk.HttpRequest("POST", "/webhooks/stripe", headers, body)


class Bench:
    def __init__(
        self, url: str, ports: dict[str, int], pids: dict[str, int], connections: int
    ) -> None:
        self.url = url
        self.ports = ports
        self.pids = pids
        self.connections = connections
        self.mismatches: list[dict[str, Any]] = []
        self._runs = 0

    def measure(self, target: str, seconds: float, rate: float, expected: float) -> wrk.WrkResult:
        """One wrk run against ``target`` on an empty inbox; checks stored == acknowledged."""
        reset(self.url)
        self._runs += 1
        count = int(max(expected, rate) * seconds * 2) + 500
        events = signed_events(f"r{self._runs}_{target}", count)
        result = wrk.run(
            self.ports[target],
            events,
            seconds=seconds,
            connections=self.connections if rate == 0 else max(self.connections, 64),
            rate=rate,
            server_pid=self.pids[target],
        )
        counts = stored(self.url)
        rows = counts["inbox_rows"] if target == "askpro" else counts["baseline_rows"]
        jobs_ok = target != "askpro" or counts["jobs"] == rows
        if rows != result.acknowledged or not jobs_ok or result.exhausted:
            self.mismatches.append(
                {"target": target, "acknowledged": result.acknowledged, **counts,
                 "exhausted": result.exhausted}
            )  # fmt: skip
        return result


def combined(results: list[wrk.WrkResult]) -> dict[str, Any]:
    """Rates summed over busy time; latency percentiles: the worst run's (conservative)."""
    acknowledged = sum(result.acknowledged for result in results)
    busy = sum(result.busy_s for result in results)
    cpu = sum(result.server_cpu_s for result in results)
    cpu_ms = round(1000 * cpu / acknowledged, 3) if cpu and acknowledged else None
    return {
        "requests_per_s": round(acknowledged / busy, 1) if busy else 0.0,
        "server_cpu_ms_per_request": cpu_ms,
        "one_idle_core_per_s": round(1000 / cpu_ms, 1) if cpu_ms else None,
        "p50_ms": max(result.p50_ms for result in results),
        "p99_ms": max(result.p99_ms for result in results),
        "max_ms": max(result.max_ms for result in results),
        "acknowledged": acknowledged,
        "non_2xx": sum(result.non_2xx for result in results),
        "socket_errors": sum(result.socket_errors for result in results),
        "timeouts": sum(result.timeouts for result in results),
        "send_lag_max_ms": max(result.send_lag_max_ms for result in results),
        "sends_late_over_5ms": sum(result.sends_late_over_5ms for result in results),
        "runs": len(results),
    }


def postgres_version(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per saturation run")
    parser.add_argument("--rounds", type=int, default=2, help="saturation runs per target")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    url = database_url()
    from askpro import migrations

    migrations.upgrade(url)
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    ports = {name: wrk.free_port() for name in TARGETS}
    result: dict[str, Any] = {"bench": "webhook_ingest", "machine": wrk.machine()}
    servers = [
        wrk.start_server(
            [sys.executable, "-m", "askpro", "serve", "--no-worker", "--no-demo",
             "--port", str(ports["askpro"])],
            {"ASKPRO_DATABASE_URL": url, "ASKPRO_STRIPE_WEBHOOK_SECRET": SECRET},
            ports["askpro"], logs / "askpro.log", ROOT,
        ),
        wrk.start_server(
            [sys.executable, "-m", "bench.webhook_baseline_app", "--port", str(ports["baseline"])],
            {"BENCH_DATABASE_URL": url}, ports["baseline"], logs / "baseline.log", ROOT,
        ),
    ]  # fmt: skip
    pids = {name: process.pid for name, process in zip(TARGETS, servers, strict=True)}
    bench = Bench(url, ports, pids, args.connections)
    try:
        warm = {name: bench.measure(name, 2.0, 0, 3000).per_second for name in TARGETS}
        saturated: dict[str, list[wrk.WrkResult]] = {name: [] for name in TARGETS}
        round_ratios = []
        for round_index in range(args.rounds):
            order = TARGETS if round_index % 2 == 0 else tuple(reversed(TARGETS))
            for name in order:
                saturated[name].append(bench.measure(name, args.seconds, 0, warm[name]))
            rates = {name: saturated[name][-1].per_second for name in TARGETS}
            round_ratios.append(rates["askpro"] / rates["baseline"])
        for name in TARGETS:
            result[name] = combined(saturated[name])
        result["ratio"] = round(
            result["askpro"]["requests_per_s"] / result["baseline"]["requests_per_s"], 3
        )
        result["ratio_per_round"] = [round(ratio, 3) for ratio in round_ratios]
        # The same comparison by CPU per request: what the two would do on an idle core.
        result["ratio_by_cpu"] = round(
            result["baseline"]["server_cpu_ms_per_request"]
            / result["askpro"]["server_cpu_ms_per_request"],
            3,
        )
        result["ratio_median"] = round(statistics.median(round_ratios), 3)
        half_rate = round(result["askpro"]["requests_per_s"] / 2, 1)
        for label, rate in (("half_saturation", half_rate), ("at_100_per_s", 100.0)):
            result[label] = {"rate_per_s": rate}
            for name in TARGETS:
                run = bench.measure(name, args.seconds, rate, rate)
                result[label][name] = combined([run]) | {"offered_per_s": rate}
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
    result["stored_equals_acknowledged"] = not bench.mismatches
    result["mismatches"] = bench.mismatches
    result["generator"] = {"tool": "wrk", "connections": args.connections, "threads": 1,
                           "server_core": wrk.SERVER_CORE, "load_core": wrk.LOAD_CORE}  # fmt: skip
    result["versions"] = wrk.versions() | {"postgresql": postgres_version(url)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
