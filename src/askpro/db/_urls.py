"""Which server askpro uses (the configured one, else the embedded one) and its URL forms."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from askpro.config import Settings
from askpro.db._embedded import start_embedded_postgres


def resolve_database_url(settings: Settings, *, create: bool = True) -> str:
    """The libpq URL of the configured server, starting the embedded one when none is set.

    ``create=False`` (commands that only use a database) never initialises a new one.
    """
    if settings.database_url:
        return settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    return start_embedded_postgres(settings.data_dir, create=create)


def sqlalchemy_url(libpq_url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if libpq_url.startswith(prefix):
            return "postgresql+psycopg://" + libpq_url[len(prefix) :]
    return libpq_url


def describe_url(libpq_url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(libpq_url)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if parts.hostname is None and socket_dir:
        return f"postgresql://{parts.username or ''}@{parts.path} (socket in {socket_dir})"
    return f"postgresql://{parts.username or ''}@{parts.hostname}:{parts.port or 5432}{parts.path}"
