"""Settings, read from the environment (prefix ``ASKPRO_``) and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SettingsError(Exception):
    """Raised with one human-readable line when the environment is invalid."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASKPRO_", env_file=".env", extra="ignore", frozen=True
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
    # Serve the built-in Cal.com stand-in at /_calcom (demo mode sets it; never in production).
    calcom_standin: bool = False
    max_webhook_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
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
    data_dir: Path = Path("var")
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

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

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
