"""The benches' load generator: ``wrk`` (compiled, Debian package ``wrk``) driven from Python.

- Requests are built before the run (signed, distinct) and written as raw HTTP/1.1 to one
  file per wrk thread; ``wrk_requests.lua`` sends each at most once.
- The server is pinned to one core and wrk to another (``taskset``), so the generator never
  competes with the server for its core.
- Closed loop (``rate=0``): as fast as ``connections`` allow — the saturation rate.
  Open loop (``rate>0``): a fixed send schedule; the send lag shows whether it was kept.
- A run ends by sending nothing new after ``seconds`` and waiting for every answer, so
  "acknowledged" is exact and can be compared with what the server stored.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

LUA_SCRIPT = Path(__file__).with_name("wrk_requests.lua")
SERVER_CORE = 0
LOAD_CORE = 1
VERSIONED = (
    "askpro", "fastapi", "starlette", "uvicorn", "httptools", "uvloop", "sqlalchemy",
    "psycopg", "psycopg-binary", "pydantic", "pydantic-core", "procrastinate",
    "asgi-correlation-id", "structlog", "prometheus-client",
)  # fmt: skip


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    return found


def versions() -> dict[str, str]:
    """The versions the run used: Python, wrk, PostgreSQL is added by the caller."""
    found: dict[str, str] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    completed = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True, check=False)
    found["wrk"] = (completed.stdout or completed.stderr).split(" [", 1)[0].removeprefix("wrk ")
    return found


def machine() -> dict[str, Any]:
    """The machine: its CPU, the load it carried when the run started, and how fast one of
    its cores runs Python (:func:`python_reference_ms`)."""
    load1, load5, _ = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_1m": round(load1, 2),
        "load_5m": round(load5, 2),
        "python_reference_ms": python_reference_ms(),
    }


def python_reference_ms() -> float:
    """Milliseconds one core takes for a fixed pure-Python workload (dict and string work,
    about what a request's Python does), the best of five.

    Machines "like this one" differ: the same code measured 4x apart in CPU per request on
    two 2-core sessions' machines. Figures from two runs compare only next to this number.
    """
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        table: dict[str, int] = {}
        for index in range(200_000):
            key = f"k{index % 5000}"
            table[key] = table.get(key, 0) + len(key)
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (Linux ``/proc``; 0 elsewhere).

    CPU per request does not depend on what else the shared machine runs, as long as the
    server gets its core at all: ``1 / cpu_per_request`` is the rate one idle core would
    sustain, the figure to compare when other work steals the core during a run.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def pinned(command: Sequence[str], core: int) -> list[str]:
    """``command`` pinned to ``core`` when the machine has more than one."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return list(command)
    return ["taskset", "-c", str(core), *command]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server on port {port} did not start; see {log}")


def start_server(
    command: Sequence[str], env: dict[str, str], port: int, log: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    """Start a server pinned to the server core; return once it accepts connections."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            pinned(command, SERVER_CORE),
            cwd=cwd,
            env={**os.environ, **env},
            stdout=output,
            stderr=output,
        )
    wait_for_port(port, process, log)
    return process


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def raw(self, port: int) -> bytes:
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True)
class WrkResult:
    sent: int
    acknowledged: int  # 2xx answers
    non_2xx: int
    statuses: dict[str, int]
    socket_errors: int
    timeouts: int
    exhausted: bool  # ran out of prepared requests: the run was undersized
    busy_s: float
    send_lag_max_ms: float
    sends_late_over_5ms: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_s: float = 0.0  # CPU the server used during the run, when its pid was given

    @property
    def per_second(self) -> float:
        return self.acknowledged / self.busy_s if self.busy_s else 0.0

    @property
    def cpu_ms_per_request(self) -> float | None:
        if not self.server_cpu_s or not self.acknowledged:
            return None
        return round(1000 * self.server_cpu_s / self.acknowledged, 3)

    def summary(self) -> dict[str, Any]:
        cpu_ms = self.cpu_ms_per_request
        return {
            "requests_per_s": round(self.per_second, 1),
            "server_cpu_ms_per_request": cpu_ms,
            "one_idle_core_per_s": round(1000 / cpu_ms, 1) if cpu_ms else None,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "non_2xx": self.non_2xx,
            "statuses": self.statuses,
            "socket_errors": self.socket_errors,
            "timeouts": self.timeouts,
            "exhausted": self.exhausted,
            "send_lag_max_ms": self.send_lag_max_ms,
            "sends_late_over_5ms": self.sends_late_over_5ms,
        }


def run(
    port: int,
    requests: Iterable[HttpRequest],
    *,
    seconds: float,
    connections: int,
    rate: float = 0,
    threads: int = 1,
    server_pid: int | None = None,
) -> WrkResult:
    """Send ``requests`` (each at most once) to ``127.0.0.1:port`` with wrk on the load core."""
    with tempfile.TemporaryDirectory(prefix="askpro-wrk-") as folder:
        prefix = Path(folder) / "requests"
        files = [(prefix.with_name(f"requests.{index + 1}")).open("wb") for index in range(threads)]
        try:
            for index, request in enumerate(requests):
                raw = request.raw(port)
                output = files[index % threads]
                output.write(f"{len(raw)}\n".encode())
                output.write(raw)
        finally:
            for output in files:
                output.close()
        command = [
            wrk_binary(),
            f"-t{threads}",
            f"-c{max(connections, threads)}",
            f"-d{int(seconds + 20)}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA_SCRIPT),
            f"http://127.0.0.1:{port}/",
            "--",
            str(prefix),
            str(rate),
            str(seconds),
            str(threads),
        ]
        cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
        completed = subprocess.run(
            pinned(command, LOAD_CORE), capture_output=True, text=True, check=False
        )
        cpu_used = cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    raw_result = json.loads(lines[-1])
    latency = raw_result["latency_us"]
    return WrkResult(
        sent=raw_result["sent"],
        acknowledged=raw_result["ok"],
        non_2xx=raw_result["non_2xx"],
        statuses=raw_result["statuses"],
        socket_errors=raw_result["socket_errors"],
        timeouts=raw_result["timeouts"],
        exhausted=raw_result["exhausted"],
        busy_s=raw_result["busy_s"],
        send_lag_max_ms=round(raw_result["send_lag_max_ms"], 2),
        sends_late_over_5ms=raw_result["sends_late_over_5ms"],
        p50_ms=round(latency["p50"] / 1000, 2),
        p90_ms=round(latency["p90"] / 1000, 2),
        p99_ms=round(latency["p99"] / 1000, 2),
        max_ms=round(latency["max"] / 1000, 2),
        server_cpu_s=cpu_used,
    )
