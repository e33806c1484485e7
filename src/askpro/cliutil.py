"""What every ``askpro`` subcommand shares: settings, the database, output and errors.

Features' ``cli.py`` modules import this module, never ``askpro.cli`` (the composition root,
which only assembles their sub-apps). The rules it carries out:

- results on stdout (:data:`console`, :func:`print_json`), logs and messages on stderr;
- ``--json`` on list/show commands prints one JSON document (:data:`JsonFlag`);
- tables fold long cells instead of cutting them, so piped output keeps every character;
- an expected failure (bad input, no database, database or server unreachable) is one
  line ``askpro: …`` on stderr and a non-zero exit code; a traceback only with ``--debug``
  or ``ASKPRO_LOG_LEVEL=DEBUG`` (:func:`run_app`);
- a command that only uses a database never creates one (:func:`run_in_transaction`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.config import Settings, SettingsError, get_settings
from askpro.observability import configure_logging

T = TypeVar("T")

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DEFAULT_SERVER_URL = "http://127.0.0.1:8000"  # where `make run` serves
ServerUrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="ASKPRO_SERVER_URL",
        help="The running askpro server (`make run` serves http://127.0.0.1:8000).",
    ),
]


class CommandError(Exception):
    """An expected failure of a command: printed as one line, exit code ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


_debug = {"enabled": False}


def enable_debug() -> None:
    """``--debug``: show tracebacks and DEBUG logs."""
    _debug["enabled"] = True


def debug_enabled() -> bool:
    return _debug["enabled"] or os.environ.get("ASKPRO_LOG_LEVEL", "").upper() == "DEBUG"


def load_or_exit(*, quiet: bool = True) -> Settings:
    """Settings, or one clear line on stderr and exit code 2; logging goes to stderr.

    ``quiet`` (operator commands) logs warnings and errors only unless ASKPRO_LOG_LEVEL is
    set, so their output is not interleaved with INFO lines; ``serve``/``worker`` pass False.
    """
    try:
        settings = get_settings()
    except SettingsError as error:
        raise CommandError(str(error), exit_code=2) from None
    level = settings.log_level
    if debug_enabled():
        level = "DEBUG"
    elif quiet and "ASKPRO_LOG_LEVEL" not in os.environ:
        level = "WARNING"
    configure_logging(level, json=settings.log_json)
    return settings


def fail(message: str, exit_code: int = 2) -> CommandError:
    """The error to ``raise`` for bad input (exit code 2) or a failed operation (1)."""
    return CommandError(message, exit_code)


def run_in_transaction(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[T]], *, create: bool = False
) -> T:
    """Run one unit of work from a synchronous command against the configured database.

    Without ``create`` (every command but ``serve`` and ``migrate``) a missing embedded
    database or a database without askpro's schema is a one-line error, never created.
    """
    from askpro.db import Database, describe_url, resolve_database_url

    url = resolve_database_url(settings, create=create)

    async def main() -> T:
        database = Database(url, pool_size=2)
        try:
            if not create:
                async with database.sessions() as session:
                    schema = await session.scalar(text("SELECT to_regclass('alembic_version')"))
                if schema is None:
                    raise CommandError(
                        f"the database {describe_url(url)} has no askpro schema: "
                        "run `askpro migrate` first"
                    )
            return await database.unit_of_work(work, name="cli")
        finally:
            await database.dispose()

    return asyncio.run(main())


def table(*headers: str) -> Table:
    """A table whose cells fold (wrap) rather than being cut with '…' on narrow output."""
    result = Table()
    for header in headers:
        result.add_column(header, overflow="fold")
    return result


def print_json(data: Any) -> None:
    """One JSON document on stdout (dates as ISO strings)."""
    typer.echo(json.dumps(data, default=str, ensure_ascii=False, indent=2))


def describe_failure(error: BaseException) -> tuple[str, int] | None:
    """The one line and exit code of an expected failure; None for a bug."""
    import httpx
    import psycopg
    from sqlalchemy.exc import InterfaceError, OperationalError

    from askpro.db import DatabaseMissing, EmbeddedPostgresError

    if isinstance(error, CommandError):
        return str(error), error.exit_code
    if isinstance(error, SettingsError):
        return str(error), 2
    if isinstance(error, DatabaseMissing | EmbeddedPostgresError):
        return str(error), 1
    if isinstance(error, OperationalError | InterfaceError | psycopg.OperationalError):
        reason = getattr(error, "orig", None) or error
        return f"cannot reach the database: {_first_line(reason)}", 1
    if isinstance(error, httpx.TransportError):
        target = error.request.url if _has_request(error) else "the server"
        return f"cannot reach {target}: {_first_line(error) or type(error).__name__}", 1
    return None


def _has_request(error: Any) -> bool:
    try:
        error.request  # noqa: B018 - httpx raises RuntimeError when no request is attached
    except RuntimeError:
        return False
    return True


def _first_line(error: object) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def run_app(app: typer.Typer) -> None:
    """Run the CLI; an expected failure becomes one line on stderr (see the module doc)."""
    try:
        app()
    except Exception as error:
        described = describe_failure(error)
        if described is None or debug_enabled():
            raise
        message, exit_code = described
        typer.echo(f"askpro: {message}", err=True)
        sys.exit(exit_code)
