"""`askpro serve` end to end: embedded PostgreSQL, migrations, demo seed, health, clean stop."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import free_port, serve_until_healthy, stop

pytestmark = pytest.mark.slow


def test_serve_on_embedded_postgres_is_healthy_seeded_and_stops_its_database(
    tmp_path: Path,
) -> None:
    port = free_port()
    process, seconds = serve_until_healthy(tmp_path, port)
    try:
        assert seconds < 60
        ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
    finally:
        output = stop(process)
    assert "demo company" in output
    assert (tmp_path / "postgres" / "PG_VERSION").exists(), (
        "the embedded server lives in the data dir"
    )
    assert not (tmp_path / "postgres" / "postmaster.pid").exists(), "embedded server left running"

    # A restart reuses the same data directory and finds the demo company already there.
    process, _ = serve_until_healthy(tmp_path, port)
    output = stop(process)
    assert "already present" in output
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
