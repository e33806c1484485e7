"""A local scale-out cluster: K web processes, M workers, one PostgreSQL, one Redis.

``askpro dev cluster`` and the tests in ``tests/cluster`` use it. It runs, as real
operating-system processes, ``askpro serve --no-worker`` on K ports and ``askpro worker``
M times, all on the given PostgreSQL and (optionally) Redis, with a Cal.com stand-in
served from the harness's own process (so its bookings and request log can be inspected
and its faults switched on and off). It migrates once, seeds the demo company, and stops
everything with SIGTERM (SIGKILL after a grace period). Faults are injected through the
``ClusterProcess`` handles: ``kill()`` (SIGKILL), ``pause()``/``resume()`` (SIGSTOP/SIGCONT).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from askpro.integrations.calcom.standin import STANDIN_API_KEY, StandinState, create_standin_app

# Secrets the cluster's processes verify with; the tests and the simulator sign with them.
CLUSTER_RETELL_KEY = "askpro-cluster-retell-key"
CLUSTER_STRIPE_SECRET = "whsec_askpro_cluster"  # noqa: S105 - a fixed local test secret
CLUSTER_CALCOM_SECRET = "askpro-cluster-calcom-secret"  # noqa: S105
STOP_GRACE_SECONDS = 40.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ClusterProcess:
    """One ``askpro serve`` or ``askpro worker`` process (started again by ``start()``)."""

    role: str
    index: int
    argv: list[str]
    environment: dict[str, str]
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    paused: bool = False

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"

    @property
    def url(self) -> str:
        if self.port is None:
            raise ValueError(f"{self.name} serves no HTTP")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        if self.alive():
            raise RuntimeError(f"{self.name} is already running")
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.argv, env=self.environment, stdout=log, stderr=log, start_new_session=True
            )
        self.paused = False

    def signal(self, number: signal.Signals) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(number)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (the fault the queue must survive)."""
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the process hangs, holding its connections (a blocked worker)."""
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> int | None:
        """SIGTERM and wait (running jobs finish); SIGKILL after ``grace_seconds``."""
        if self.popen is None:
            return None
        if self.paused:
            self.resume()
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout=10)


class StandinServer:
    """The Cal.com stand-in on a real port, on its own thread and event loop."""

    def __init__(self, state: StandinState | None = None, port: int | None = None) -> None:
        import uvicorn

        self.state = state or StandinState()
        self.port = port or free_port()
        config = uvicorn.Config(
            create_standin_app(self.state),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="calcom-standin", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the Cal.com stand-in did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@dataclass
class Cluster:
    """K web processes and M workers on one database (see the module docstring)."""

    database_url: str
    redis_url: str | None = None
    web_count: int = 2
    worker_count: int = 2
    worker_concurrency: int = 4
    log_dir: Path = Path("var/cluster")
    # Extra ASKPRO_* settings for every process (e.g. a lower rate limit in a test).
    settings: dict[str, str] = field(default_factory=dict)
    # Modules every worker imports before it starts (e.g. handlers a test registers).
    worker_preload: Sequence[str] = ()
    python_path: Sequence[str] = ()
    web: list[ClusterProcess] = field(default_factory=list)
    workers: list[ClusterProcess] = field(default_factory=list)
    standin: StandinServer = field(default_factory=StandinServer)
    company_id: int | None = None

    @property
    def web_urls(self) -> list[str]:
        return [process.url for process in self.web]

    def environment(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("ASKPRO_")}
        python_path = [*self.python_path, inherited.get("PYTHONPATH", "")]
        environment = inherited | {
            "ASKPRO_DATABASE_URL": self.database_url,
            "ASKPRO_RETELL_API_KEY": CLUSTER_RETELL_KEY,
            "ASKPRO_STRIPE_WEBHOOK_SECRET": CLUSTER_STRIPE_SECRET,
            "ASKPRO_CALCOM_WEBHOOK_SECRET": CLUSTER_CALCOM_SECRET,
            "ASKPRO_CALCOM_API_BASE": self.standin.base_url,
            "ASKPRO_CALCOM_API_KEY": STANDIN_API_KEY,
            "ASKPRO_LOG_LEVEL": "INFO",
            "ASKPRO_LOG_JSON": "true",
            "PYTHONPATH": os.pathsep.join(part for part in python_path if part),
            "PYTHONUNBUFFERED": "1",
        }
        if self.redis_url:
            environment["ASKPRO_REDIS_URL"] = self.redis_url
        return environment | {f"ASKPRO_{k.upper()}": v for k, v in self.settings.items()}

    def _web_process(self, index: int) -> ClusterProcess:
        port = free_port()
        argv = [sys.executable, "-m", "askpro", "serve", "--no-worker", "--no-demo"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        return ClusterProcess(
            "web", index, argv, self.environment(), self.log_dir / f"web-{index}.log", port
        )

    def _worker_process(self, index: int) -> ClusterProcess:
        preload = "".join(f"import {module}; " for module in self.worker_preload)
        code = (
            f"import sys; {preload}from askpro.cli import main; "
            f"sys.argv = ['askpro', 'worker', '--concurrency', '{self.worker_concurrency}']; main()"
        )
        argv = [sys.executable, "-c", code]
        return ClusterProcess(
            "worker", index, argv, self.environment(), self.log_dir / f"worker-{index}.log"
        )

    async def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.standin.start()
        await asyncio.to_thread(self._migrate_and_seed)
        self.web = [self._web_process(index) for index in range(self.web_count)]
        self.workers = [self._worker_process(index) for index in range(self.worker_count)]
        for process in [*self.web, *self.workers]:
            process.start()
        await asyncio.gather(*(self.wait_until_serving(process) for process in self.web))
        await self.wait_for_workers(self.worker_count)

    def _migrate_and_seed(self) -> None:
        # The seed runs in a process of its own: it is the CLI's code path, and the
        # harness's event loop never shares a database pool with the processes under test.
        code = (
            "from askpro.cli import run_in_transaction, load_or_exit; "
            "from askpro.tenancy.demo import seed_demo_company; "
            "print(run_in_transaction(load_or_exit(), seed_demo_company).company_id)"
        )
        environment = self.environment() | {"ASKPRO_LOG_LEVEL": "WARNING"}
        subprocess.run(
            [sys.executable, "-m", "askpro", "migrate"], env=environment, check=True, timeout=120
        )
        seeded = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code],
            env=environment,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        )
        self.company_id = int(seeded.stdout.strip().splitlines()[-1])

    async def wait_until_serving(self, process: ClusterProcess, within: float = 60) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=1) as client:
            while time.monotonic() < deadline:
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited; see {process.log_path}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(process.url + "/health")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{process.name} did not answer /health within {within:g} s")

    async def live_workers(self, within_seconds: float = 20) -> int:
        """Workers whose heartbeat is at most ``within_seconds`` old (procrastinate's table)."""
        async with await psycopg.AsyncConnection.connect(self.database_url) as connection:
            cursor = await connection.execute(
                "SELECT count(*) FROM procrastinate_workers "
                "WHERE last_heartbeat > now() - make_interval(secs => %s)",
                (within_seconds,),
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def wait_for_workers(self, count: int, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while await self.live_workers() < count:
            for process in self.workers:
                if process.popen is not None and process.popen.poll() not in (None, 0, -9):
                    raise RuntimeError(f"{process.name} exited; see {process.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} workers registered within {within:g} s")
            await asyncio.sleep(0.2)

    def add_worker(self) -> ClusterProcess:
        process = self._worker_process(len(self.workers))
        self.workers.append(process)
        process.start()
        return process

    async def restart(self, process: ClusterProcess) -> None:
        if process.alive():
            process.kill()
        process.start()
        if process.role == "web":
            await self.wait_until_serving(process)

    async def stop(self) -> dict[str, int | None]:
        """SIGTERM every process at once and wait; the exit code of each, by name."""
        processes = [*self.web, *self.workers]
        codes = await asyncio.gather(*(asyncio.to_thread(p.stop) for p in processes))
        self.standin.stop()
        return {process.name: code for process, code in zip(processes, codes, strict=True)}

    def logs(self) -> Iterator[tuple[str, str]]:
        for process in [*self.web, *self.workers]:
            if process.log_path.exists():
                yield process.name, process.log_path.read_text(errors="replace")


@contextlib.asynccontextmanager
async def running_cluster(**options: Any) -> AsyncIterator[Cluster]:
    """Start a :class:`Cluster`, yield it, and always stop it."""
    cluster = Cluster(**options)
    try:
        await cluster.start()
        yield cluster
    finally:
        await cluster.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m askpro.ops.cluster``: run a local cluster until Ctrl-C (see docs)."""
    import argparse

    from askpro.db import start_embedded_postgres

    parser = argparse.ArgumentParser(
        prog="python -m askpro.ops.cluster",
        description="K web processes and M workers on one PostgreSQL (and Redis), until Ctrl-C.",
    )
    parser.add_argument("--web", type=int, default=2, help="web processes (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs per worker")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("ASKPRO_DATABASE_URL"),
        help="PostgreSQL (default ASKPRO_DATABASE_URL, else embedded under var/cluster)",
    )
    parser.add_argument("--redis-url", default=os.environ.get("ASKPRO_REDIS_URL"))
    parser.add_argument("--log-dir", type=Path, default=Path("var/cluster/logs"))
    options = parser.parse_args(argv)
    database_url = options.database_url or start_embedded_postgres(Path("var/cluster"))

    async def run() -> None:
        async with running_cluster(
            database_url=database_url,
            redis_url=options.redis_url,
            web_count=options.web,
            worker_count=options.workers,
            worker_concurrency=options.concurrency,
            log_dir=options.log_dir,
        ) as cluster:
            print(f"web: {','.join(cluster.web_urls)}", flush=True)
            print(f"workers: {len(cluster.workers)}; Cal.com stand-in: {cluster.standin.base_url}")
            print(f"Retell signing key: {CLUSTER_RETELL_KEY}; logs in {options.log_dir}")
            print("Ctrl-C stops every process (SIGTERM, running jobs finish).", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
