"""Invalid settings stop the process with one clear line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from askpro.config import SettingsError, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ASKPRO_DATABASE_URL", "mysql://root@localhost/db", "ASKPRO_DATABASE_URL"),
        ("ASKPRO_LOG_LEVEL", "LOUD", "ASKPRO_LOG_LEVEL"),
        ("ASKPRO_REDIS_URL", "http://localhost:6379", "ASKPRO_REDIS_URL"),
        ("ASKPRO_MAX_WEBHOOK_BYTES", "lots", "ASKPRO_MAX_WEBHOOK_BYTES"),
    ],
)
def test_invalid_settings_print_one_line_and_exit_2(
    variable: str, value: str, expected: str
) -> None:
    environment = {**os.environ, variable: value}
    result = subprocess.run(
        [sys.executable, "-m", "askpro", "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_secret_values_are_not_echoed_in_errors() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(database_url="mysql://user:hunter2@host/db", _env_file=None)
    assert "hunter2" not in str(error.value)


def test_log_level_is_case_insensitive() -> None:
    assert load_settings(log_level="debug", _env_file=None).log_level == "DEBUG"
