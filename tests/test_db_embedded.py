"""The embedded PostgreSQL shared by many processes: one initdb, one server, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import (
    askpro_environment,
    free_port,
    postmaster_pids,
    serve_until_healthy,
    server_starts,
    start_serve,
    stop,
    wait_healthy,
)

pytestmark = pytest.mark.slow


def test_four_processes_starting_at_once_on_an_empty_data_dir_share_one_server(
    tmp_path: Path,
) -> None:
    pgdata = tmp_path / "postgres"
    ports = [free_port() for _ in range(3)]
    # Three servers (migrating and seeding the demo at once) and a CLI command, together.
    servers = [start_serve(tmp_path, port, "--no-worker") for port in ports]
    migrate = subprocess.Popen(
        [sys.executable, "-m", "askpro", "migrate"],
        env=askpro_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for server, port in zip(servers, ports, strict=True):
            wait_healthy(server, port)
        migrated_out, migrated_err = migrate.communicate(timeout=120)
        assert migrate.returncode == 0, migrated_err
        assert "schema is up to date" in migrated_out

        assert len(postmaster_pids(pgdata)) == 1, "one server serves every process"
        # A short command that started the server alone (migrate) may stop it on exit before
        # a server has taken it over, and the next process starts it again: one at a time,
        # never two on one data directory, and one initdb.
        assert server_starts(pgdata) <= 2, "not a server start per process"
        assert "already exists" not in (pgdata / "log").read_text(errors="replace")
        for port in ports:
            companies = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=10)
            assert companies.status_code == 200, companies.text
    finally:
        outputs = [stop(server) for server in servers]
    assert sum("demo company #1 created" in output for output in outputs) == 1, outputs
    assert postmaster_pids(pgdata) == [], "the last process to stop stopped the server"


def test_a_server_left_by_a_killed_serve_is_adopted_then_stopped_by_the_next_ctrl_c(
    tmp_path: Path,
) -> None:
    pgdata = tmp_path / "postgres"
    port = free_port()
    process, _ = serve_until_healthy(tmp_path, port, "--no-worker")
    orphans = postmaster_pids(pgdata)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert postmaster_pids(pgdata) == orphans, "SIGKILL leaves the embedded server running"

    process, _ = serve_until_healthy(tmp_path, port, "--no-worker")
    try:
        assert postmaster_pids(pgdata) == orphans, "the running server is adopted, not doubled"
        assert server_starts(pgdata) == 1
    finally:
        output = stop(process, signal.SIGINT)
    assert postmaster_pids(pgdata) == [], f"Ctrl-C stopped the adopted server: {output}"
    assert not (pgdata / "postmaster.pid").exists()


def test_a_read_command_on_a_missing_database_says_so_and_creates_nothing(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "nothing-here"
    for command in (
        ["companies", "list"],
        ["tokens", "list"],
        ["webhooks", "list"],
        ["billing", "balance", "1"],
        ["billing", "reconcile"],
        ["worker"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "askpro", *command],
            env=askpro_environment(data_dir),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert result.stderr.strip().splitlines() == [
            f"askpro: no askpro database in {data_dir}: run `askpro migrate` or `askpro serve` "
            "first (or point ASKPRO_DATA_DIR or ASKPRO_DATABASE_URL at yours)"
        ], command
    assert not (data_dir / "postgres").exists(), "no empty database was created"
    assert not (tmp_path / "var").exists(), "nothing was created in the current directory"


def test_the_data_dir_does_not_depend_on_the_current_directory(tmp_path: Path) -> None:
    from askpro.config import default_data_dir, load_settings

    root = Path(__file__).resolve().parents[1]
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        settings = load_settings(_env_file=None)
        relative = load_settings(data_dir="some/dir", _env_file=None)
    finally:
        os.chdir(previous)
    if "ASKPRO_DATA_DIR" not in os.environ:
        assert settings.data_dir == root / "var" == default_data_dir()
    assert relative.data_dir == tmp_path / "some" / "dir", "a relative setting is made absolute"


def test_four_test_workers_starting_the_embedded_server_at_once_get_one_server(
    tmp_path: Path,
) -> None:
    """What pytest-xdist workers do in ``tests/fixtures/database.py`` on a fresh clone."""
    program = (
        "import sys; from pathlib import Path; import psycopg; "
        "from askpro.db import start_embedded_postgres, release_embedded_postgres; "
        "url = start_embedded_postgres(Path(sys.argv[1])); "
        "psycopg.connect(url).execute('SELECT 1').fetchone(); print(url); "
        "sys.stdin.read(); release_embedded_postgres()"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", program, str(tmp_path)],
            env=askpro_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    assert all(worker.stdout is not None for worker in workers)
    urls = {worker.stdout.readline().strip() for worker in workers}  # type: ignore[union-attr]
    assert len(postmaster_pids(tmp_path / "postgres")) == 1
    assert len(urls) == 1, urls
    assert server_starts(tmp_path / "postgres") == 1
    for worker in workers:
        _, errors = worker.communicate("", timeout=60)
        assert worker.returncode == 0, errors
    assert postmaster_pids(tmp_path / "postgres") == [], "the last worker stopped the server"


def test_initialisation_waits_for_the_process_holding_the_data_dir_lock(tmp_path: Path) -> None:
    """The lock, not luck: no process initialises a data dir another one is working on."""
    import fcntl

    program = (
        "import sys; from pathlib import Path; "
        "from askpro.db import start_embedded_postgres, release_embedded_postgres; "
        "start_embedded_postgres(Path(sys.argv[1])); release_embedded_postgres()"
    )
    with (tmp_path / "postgres.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        starter = subprocess.Popen(
            [sys.executable, "-c", program, str(tmp_path)], env=askpro_environment()
        )
        with pytest.raises(subprocess.TimeoutExpired):
            starter.wait(timeout=3)
        assert not (tmp_path / "postgres" / "PG_VERSION").exists(), "initdb waited for the lock"
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert starter.wait(timeout=120) == 0
    assert (tmp_path / "postgres" / "PG_VERSION").exists()
    assert postmaster_pids(tmp_path / "postgres") == []
