"""Ledger posting throughput and latency: call charges through ``charge_call`` (one unit of
work each, exactly as the call_ended handler runs), on ONE hot account (every posting
updates the same balance row) and spread over many accounts, plus duplicate postings (the
same call again: the unique key answers, the balance is not touched). Ends with a
reconciliation (must be 0 differences). Prints ONE JSON line.

The database is ``BENCH_DATABASE_URL`` or a fresh ``askpro_bench_billing`` on an embedded
server under ``var/bench``.

    .venv/bin/python -m bench.billing_ledger [--postings 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "askpro_bench_billing"


def database_url() -> str:
    configured = os.environ.get("BENCH_DATABASE_URL")
    if configured:
        return configured
    from askpro.db import start_embedded_postgres

    server = start_embedded_postgres(ROOT / "var" / "bench")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    return urlunsplit(urlsplit(server)._replace(path=f"/{DATABASE}"))


async def run(postings: int, concurrency: int) -> dict[str, object]:
    from askpro import migrations
    from askpro.billing.charging import charge_call
    from askpro.billing.service import reconcile
    from askpro.db import Database
    from askpro.models import Company
    from askpro.observability import TRANSACTIONS, configure_logging

    configure_logging("INFO", json=True)  # as in production: one JSON line per posting
    url = database_url()
    await asyncio.to_thread(migrations.upgrade, url)
    database = Database(url, pool_size=concurrency)
    try:
        async with database.sessions() as session:
            companies = [Company(name=f"bench {i}", price_per_minute_cents=10) for i in range(64)]
            session.add_all(companies)
            await session.commit()
            ids = [company.id for company in companies]

        async def phase(name: str, company_of: list[int], call_ids: list[str]) -> dict[str, float]:
            latencies: list[float] = []
            queue = list(zip(company_of, call_ids, strict=True))
            cursor = 0

            async def worker() -> None:
                nonlocal cursor
                while cursor < len(queue):
                    company_id, call_id = queue[cursor]
                    cursor += 1

                    async def work(
                        session: AsyncSession, company_id: int = company_id, call_id: str = call_id
                    ) -> None:
                        await charge_call(
                            session, company_id=company_id, call_id=call_id, duration_ms=61_000
                        )

                    started = time.perf_counter()
                    await database.unit_of_work(work, name=f"bench.{name}")
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
            latencies.sort()
            return {
                "deadlock_retries": TRANSACTIONS.labels(f"bench.{name}", "retry")._value.get(),
                "per_second": round(len(queue) / elapsed, 1),
                "p50_ms": round(statistics.median(latencies) * 1000, 2),
                "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
            }

        hot = await phase("hot", [ids[0]] * postings, [f"hot_{i}" for i in range(postings)])
        spread = await phase(
            "spread",
            [ids[i % len(ids)] for i in range(postings)],
            [f"spread_{i}" for i in range(postings)],
        )
        duplicates = await phase("dup", [ids[0]] * postings, [f"hot_{i}" for i in range(postings)])
        async with database.sessions() as session:
            report = await reconcile(session)
    finally:
        await database.dispose()
    return {
        "bench": "billing_ledger",
        "postings_per_phase": postings,
        "concurrency": concurrency,
        "hot_account": hot,
        "spread_over_64_accounts": spread,
        "duplicates_on_hot_account": duplicates,
        "reconcile_differences": len(report.differences),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postings", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(run(arguments.postings, arguments.concurrency))))


if __name__ == "__main__":
    main()
