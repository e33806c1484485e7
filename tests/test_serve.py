"""`askpro serve` end to end: embedded PostgreSQL, migrations, demo seed, health, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve_until_healthy(
    data_dir: Path, port: int, deadline_seconds: float = 60
) -> tuple[subprocess.Popen[str], float]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ASKPRO_")}
    environment |= {"ASKPRO_DATA_DIR": str(data_dir), "ASKPRO_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "askpro", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        if process.poll() is not None:
            raise AssertionError(
                f"serve exited early: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process, time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"/health did not answer 200 within {deadline_seconds} s")


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output


def test_serve_on_embedded_postgres_is_healthy_seeded_and_stops_its_database(
    tmp_path: Path,
) -> None:
    port = _free_port()
    process, seconds = _serve_until_healthy(tmp_path, port)
    try:
        assert seconds < 60
        ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
    finally:
        output = _stop(process)
    assert "demo company" in output
    assert (tmp_path / "postgres" / "PG_VERSION").exists(), (
        "the embedded server lives in the data dir"
    )
    assert not (tmp_path / "postgres" / "postmaster.pid").exists(), "embedded server left running"

    # A restart reuses the same data directory and finds the demo company already there.
    process, _ = _serve_until_healthy(tmp_path, port)
    output = _stop(process)
    assert "already present" in output
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
