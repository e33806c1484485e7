"""Settings, read from the environment (prefix ``ASKPRO_``) and an optional ``.env`` file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SettingsError(Exception):
    """Raised with one human-readable line when the environment is invalid."""


def project_root() -> Path | None:
    """The source checkout askpro runs from (an editable install), if it is one."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "askpro"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def default_data_dir() -> Path:
    """Where the embedded database lives when ``ASKPRO_DATA_DIR`` is unset.

    Never the current directory: ``<checkout>/var`` when askpro runs from a source checkout
    (``make run``, ``.venv/bin/askpro`` from anywhere), else the per-user data directory
    ``$XDG_DATA_HOME/askpro`` (``~/.local/share/askpro``).
    """
    root = project_root()
    if root is not None:
        return root / "var"
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "askpro"


def _env_files() -> tuple[Path, ...]:
    """The checkout's ``.env`` (if any), then the current directory's, which wins."""
    root = project_root()
    return (root / ".env", Path(".env")) if root is not None else (Path(".env"),)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASKPRO_", env_file=_env_files(), extra="ignore", frozen=True
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; unset means an embedded server under data_dir/postgres.",
    )
    redis_url: str | None = None
    secret_key: SecretStr = Field(
        default=SecretStr("askpro-development-secret-key-change-me"),
        description="Key for encrypting provider credentials at rest.",
    )
    retell_api_key: SecretStr | None = None
    calcom_webhook_secret: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_key: SecretStr | None = None
    calcom_api_base: str = "https://api.cal.com"
    calcom_api_key: SecretStr | None = None
    # Cal.com client (askpro.integrations.calcom); the `cal-api-version` per endpoint family.
    calcom_version_bookings: str = "2024-08-13"
    calcom_version_slots: str = "2024-09-04"
    calcom_version_event_types: str = "2024-06-14"
    calcom_version_schedules: str = "2024-06-11"
    calcom_rate_limit_per_minute: int = Field(default=120, ge=1, le=10_000)
    calcom_retry_attempts: int = Field(default=3, ge=1, le=10)
    calcom_breaker_threshold: int = Field(default=5, ge=1)
    calcom_breaker_reset_seconds: float = Field(default=30.0, gt=0)
    calcom_slots_cache_seconds: float = Field(default=60.0, gt=0)
    calcom_catalog_cache_seconds: float = Field(default=600.0, gt=0)
    calcom_reconcile_lookback_minutes: int = Field(default=1440, ge=1)
    # Pages of GET /v2/bookings one reconciliation run reads at most per account.
    calcom_reconcile_max_pages: int = Field(default=10, ge=1, le=1000)
    # Share of an account's per-minute budget background work may use (callers get the rest).
    calcom_background_share: float = Field(default=0.5, gt=0, lt=1)
    # Serve the built-in Cal.com stand-in at /_calcom (demo mode sets it; never in production).
    calcom_standin: bool = False
    max_webhook_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    # Retell's call events (word-level transcripts of long calls) are far larger.
    max_retell_webhook_bytes: int = Field(
        default=32 * 1024 * 1024, ge=16 * 1024 * 1024, le=256 * 1024 * 1024
    )
    webhook_retention_days: int = Field(default=30, ge=1)
    # Processing retries: attempt n waits base * factor**(n-1) seconds (±jitter); the
    # defaults give 8 attempts over about 12 hours, then the event is `dead`.
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_retry_base_seconds: float = Field(default=40.0, ge=0)
    webhook_retry_factor: float = Field(default=3.0, ge=1)
    webhook_retry_jitter: float = Field(default=0.2, ge=0, le=1)
    webhook_sweep_after_seconds: int = Field(default=120, ge=1)
    log_level: LogLevel = "INFO"
    log_json: bool = True
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Home of the embedded PostgreSQL (data_dir/postgres); see default_data_dir.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    worker_concurrency: int = Field(default=4, ge=1, le=100)
    # Web processes log `queue.unattended` when events wait this long with no live worker.
    queue_alarm_seconds: float = Field(default=60.0, gt=0)
    rate_limit_per_token: str = Field(
        default="600/minute", description="API budget of one token (limits notation)."
    )
    rate_limit_per_ip: str = Field(
        default="120/minute", description="Budget of one client IP on /health*, /metrics."
    )
    audit_flush_seconds: float = Field(
        default=0.1, gt=0, le=60, description="How long audit rows may wait to be batched."
    )
    # Booking: how long the caller waits for the Cal.com sync before the job takes over.
    booking_sync_budget_seconds: float = Field(default=3.0, gt=0, le=30)
    # Outbound events (askpro.outbound). Demo and test mode allow http:// and receivers on
    # loopback/private addresses; production refuses both (SSRF protection).
    outbound_allow_local_targets: bool = False
    # Waits after attempt 1, 2, …: 5 s … 20 h, about 3 days in all (± jitter), then `failed`.
    outbound_retry_schedule_seconds: tuple[float, ...] = (
        5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000,
    )  # fmt: skip
    outbound_retry_jitter: float = Field(default=0.2, ge=0, le=1)
    outbound_timeout_seconds: float = Field(default=10.0, gt=0, le=15)
    outbound_max_response_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    # An endpoint failing without a success for this long is disabled.
    outbound_disable_after_seconds: float = Field(default=3 * 86400, gt=0)
    # How long one attempt holds its delivery; a killed worker's lease expires after it.
    outbound_lease_seconds: float = Field(default=30.0, ge=1, le=600)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Resolved once, so a command that changes directory still uses the same data.
        return value.expanduser().resolve()

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError("must start with postgresql:// (askpro only speaks PostgreSQL)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("rate_limit_per_token", "rate_limit_per_ip")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        from limits import parse

        parse(value)  # raises ValueError on anything but e.g. "600/minute"
        return value

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        # A lease shorter than an attempt would let a second worker send it concurrently.
        if self.outbound_lease_seconds <= self.outbound_timeout_seconds:
            raise ValueError("outbound_lease_seconds must be longer than outbound_timeout_seconds")
        return self

    @field_validator("calcom_api_base")
    @classmethod
    def _check_calcom_api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each invalid variable and why, without echoing secret values."""
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        parts.append(f"ASKPRO_{field.upper()}: {item['msg']}")
    return "invalid settings: " + "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
