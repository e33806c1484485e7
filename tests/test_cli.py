"""The operator CLI against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _askpro(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ASKPRO_DATABASE_URL": database_url, "ASKPRO_LOG_JSON": "false"}
    return subprocess.run(
        [sys.executable, "-m", "askpro", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_companies_create_then_list(database_url: str, database: object) -> None:
    created = _askpro(
        database_url, "companies", "create", "Salon Lisa", "--time-zone", "Europe/Vienna"
    )
    assert created.returncode == 0, created.stderr
    assert "Salon Lisa" in created.stdout
    listed = _askpro(database_url, "companies", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Salon Lisa" in listed.stdout
    assert "Europe/Vienna" in listed.stdout


def test_companies_create_rejects_an_unknown_time_zone(database_url: str) -> None:
    result = _askpro(database_url, "companies", "create", "X", "--time-zone", "Mars/Olympus")
    assert result.returncode == 2
    assert "time_zone" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_explains_itself() -> None:
    for command in (
        ["--help"],
        ["serve", "--help"],
        ["worker", "--help"],
        ["migrate", "--help"],
        ["companies", "--help"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "askpro", *command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"


def test_an_unreachable_database_is_one_line_on_stderr_and_exit_code_1() -> None:
    for command in (
        ["companies", "list"],
        ["tokens", "list"],
        ["webhooks", "list"],
        ["billing", "reconcile"],
        ["calcom", "health"],
        ["migrate"],
    ):
        result = _askpro(UNREACHABLE, *command)
        assert result.returncode == 1, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (command, result.stderr)
        assert lines[0].startswith("askpro: cannot reach the database: "), lines
        assert "Connection refused" in lines[0]


def test_debug_shows_the_traceback_of_a_failure() -> None:
    result = _askpro(UNREACHABLE, "--debug", "companies", "list")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    environment_debug = subprocess.run(
        [sys.executable, "-m", "askpro", "companies", "list"],
        env={**os.environ, "ASKPRO_DATABASE_URL": UNREACHABLE, "ASKPRO_LOG_LEVEL": "DEBUG"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" in environment_debug.stderr


def test_a_server_that_is_not_running_is_one_line() -> None:
    result = _askpro(
        UNREACHABLE, "simulate", "webhook", "stripe", "plan.created", "--url", "http://127.0.0.1:1"
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "askpro: cannot reach http://127.0.0.1:1/webhooks/stripe: [Errno 111] Connection refused"
    )
    assert "Traceback" not in result.stderr


def test_list_commands_print_json_on_stdout_and_logs_on_stderr(
    database_url: str, database: object
) -> None:
    created = _askpro(database_url, "companies", "create", "Salon JSON")
    assert created.returncode == 0, created.stderr
    environment = {**os.environ, "ASKPRO_DATABASE_URL": database_url, "ASKPRO_LOG_LEVEL": "DEBUG"}
    listed = subprocess.run(
        [sys.executable, "-m", "askpro", "companies", "list", "--json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "transaction" in listed.stderr, "DEBUG logs are written, to stderr"
    assert [company["name"] for company in json.loads(listed.stdout)] == ["Salon JSON"]
    for command in (["tokens", "list"], ["webhooks", "list"]):
        result = _askpro(database_url, *command, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == []


def test_tables_fold_long_cells_instead_of_cutting_them_when_piped(
    database_url: str, database: object
) -> None:
    name = "Salon Lisa am Kurfuerstendamm Beauty and Wellness Lounge Charlottenburg"
    created = _askpro(
        database_url, "companies", "create", name, "--time-zone", "America/Argentina/Buenos_Aires"
    )
    assert created.returncode == 0, created.stderr
    environment = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    listed = subprocess.run(
        [sys.executable, "-m", "askpro", "companies", "list"],
        env={**environment, "ASKPRO_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout, listed.stdout
    rows = [line.split("│")[1:-1] for line in listed.stdout.splitlines() if line.startswith("│")]
    name_cells = " ".join(cells[1].strip() for cells in rows if cells[1].strip())
    zone_cells = "".join(cells[3].strip() for cells in rows)
    assert name_cells == name, "the long name is wrapped onto several lines, every word kept"
    assert zone_cells == "America/Argentina/Buenos_Aires"
