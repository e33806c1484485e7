"""Alembic migrations; :func:`upgrade` is what ``askpro migrate`` and ``serve`` run."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(libpq_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    config.attributes["database_url"] = libpq_url
    return config


def upgrade(libpq_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; serialised by an advisory lock so starts can race."""
    command.upgrade(alembic_config(libpq_url), revision)


def check(libpq_url: str) -> None:
    """Raise if the models and the migrations disagree (``alembic check``)."""
    command.check(alembic_config(libpq_url))
