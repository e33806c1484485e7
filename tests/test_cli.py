"""The operator CLI against the test database."""

from __future__ import annotations

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
