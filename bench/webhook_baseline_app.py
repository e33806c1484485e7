"""The benchmark's baseline: the least a webhook receiver can do — insert one row, commit, 200.

Same stack and settings as askpro's receiver (FastAPI on uvicorn, SQLAlchemy async + psycopg,
the same pool options — :func:`askpro.db.engine_options` — and the same database), no
verification, no dedup, no queue, no logging. Its start-up heap is frozen as askpro's is
(:mod:`askpro.kit.heap`): otherwise its full garbage collections (30-45 ms each here) would
weigh on the baseline alone and flatter the ratio.

    python -m bench.webhook_baseline_app --port 8100   # needs BENCH_DATABASE_URL
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from askpro.db import engine_options, sqlalchemy_url
from askpro.kit.heap import freeze_startup_heap

TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline_events (
  id bigserial PRIMARY KEY,
  body bytea NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
)
"""


def create_app(database_url: str | None = None, pool_size: int = 10) -> FastAPI:
    url = database_url or os.environ["BENCH_DATABASE_URL"]
    engine = create_async_engine(sqlalchemy_url(url), **engine_options(pool_size))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        freeze_startup_heap()
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/webhooks/stripe")
    async def receive(request: Request) -> Response:
        body = await request.body()
        async with engine.connect() as connection:
            event_id = (
                await connection.execute(
                    text("INSERT INTO bench_baseline_events (body) VALUES (:body) RETURNING id"),
                    {"body": body},
                )
            ).scalar_one()
            await connection.commit()
        return JSONResponse({"status": "accepted", "event_id": event_id})

    return app


async def prepare(database_url: str) -> None:
    engine = create_async_engine(sqlalchemy_url(database_url))
    async with engine.begin() as connection:
        await connection.execute(text(TABLE))
        await connection.execute(text("TRUNCATE bench_baseline_events"))
    await engine.dispose()


def main() -> None:
    import asyncio

    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args()
    url = os.environ["BENCH_DATABASE_URL"]
    asyncio.run(prepare(url))
    uvicorn.run(
        create_app(url, args.pool_size),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
