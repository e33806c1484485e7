"""The ``askpro`` command line: the composition root.

It only assembles: the process commands (``serve``, ``worker``, ``migrate``) that build the
whole application live here; every feature's subcommands live in its own ``cli.py``, built
on :mod:`askpro.cliutil` (never on this module), and are registered in :data:`SUB_APPS`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth.cli import tokens_cli
from askpro.billing.cli import billing_cli
from askpro.calls.cli import add_simulate_call
from askpro.cliutil import console, enable_debug, load_or_exit, run_app, run_in_transaction
from askpro.config import Settings
from askpro.integrations.calcom.cli import calcom_cli
from askpro.ops.perf.cli import perf_cli
from askpro.outbound.cli import events_cli
from askpro.tenancy.cli import companies_cli
from askpro.webhooks.cli import simulate_cli, webhooks_cli

cli = typer.Typer(
    help="askpro: the backend for AI phone receptionists that book appointments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

add_simulate_call(simulate_cli)
# name → the feature's sub-app; a new feature's commands are one line here.
SUB_APPS: dict[str, typer.Typer] = {
    "companies": companies_cli,
    "webhooks": webhooks_cli,
    "simulate": simulate_cli,
    "calcom": calcom_cli,
    "tokens": tokens_cli,
    "billing": billing_cli,
    "events": events_cli,
    "perf": perf_cli,
}
for _name, _sub_app in SUB_APPS.items():
    cli.add_typer(_sub_app, name=_name)


@cli.callback()
def root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and DEBUG logs on errors.")
    ] = False,
) -> None:
    """askpro: the backend for AI phone receptionists that book appointments.

    The embedded database lives in ASKPRO_DATA_DIR (default: <checkout>/var for a source
    checkout, else ~/.local/share/askpro), wherever the command is run from.
    """
    if debug:
        enable_debug()


# One demo seed at a time: several `serve` processes may start on one database at once.
DEMO_SEED_LOCK_ID = 4_241_339


@cli.command()
def migrate() -> None:
    """Apply database migrations up to the newest (safe to run on every deploy).

    Creates the embedded database when none exists yet (like `serve`).
    """
    from askpro import migrations
    from askpro.db import describe_url, resolve_database_url

    settings = load_or_exit()
    url = resolve_database_url(settings, create=True)
    migrations.upgrade(url)
    console.print(f"schema is up to date on {describe_url(url)}")


def demo_settings(settings: Settings, *, host: str, port: int) -> Settings:
    """Settings of a demo server: the Cal.com stand-in and demo webhook secrets where unset."""
    from askpro.integrations.calcom.service import standin_settings
    from askpro.tenancy.demo import DEMO_WEBHOOK_SECRETS

    if settings.calcom_api_key is None:
        settings = standin_settings(settings, host=host, port=port)
        console.print(
            "Cal.com: no ASKPRO_CALCOM_API_KEY set, so the built-in Cal.com STAND-IN serves "
            f"{settings.calcom_api_base} (demo data; nothing is sent to cal.com)"
        )
    for field, secret in DEMO_WEBHOOK_SECRETS.items():
        if getattr(settings, field) is None:
            settings = settings.model_copy(update={field: SecretStr(secret)})
            console.print(
                f"webhooks: ASKPRO_{field.upper()} is unset, so the DEMO secret {secret!r} is "
                "accepted (`askpro simulate …` uses it)"
            )
    settings = settings.model_copy(update={"outbound_allow_local_targets": True})
    console.print(
        "Outbound events: demo mode, so http:// and local receivers are allowed "
        "(start with --no-demo in production)"
    )
    return settings


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
    worker: Annotated[
        bool, typer.Option(help="Run a background worker inside this process.")
    ] = True,
    demo: Annotated[
        bool, typer.Option(help="Seed the demo company (a salon with two staff, three services).")
    ] = True,
) -> None:
    """Serve the API, webhooks and dashboard; migrate first and, with --demo, seed a demo company.

    With no ASKPRO_DATABASE_URL an embedded PostgreSQL is started in ASKPRO_DATA_DIR (or
    adopted, when another askpro process already runs it).
    """
    import uvicorn

    from askpro import migrations
    from askpro.app import create_app
    from askpro.db import describe_url, resolve_database_url
    from askpro.tenancy.demo import DemoCompany, seed_demo_company

    settings = load_or_exit(quiet=False)
    url = resolve_database_url(settings, create=True)
    console.print(
        f"database: {describe_url(url)}"
        + ("" if settings.database_url else f" (embedded, in {settings.data_dir})")
    )
    migrations.upgrade(url)
    if demo:

        async def seed(session: AsyncSession) -> DemoCompany:
            await session.execute(text(f"SELECT pg_advisory_xact_lock({DEMO_SEED_LOCK_ID})"))
            return await seed_demo_company(session)

        seeded = run_in_transaction(settings, seed, create=True)
        state = "created" if seeded.created else "already present"
        console.print(f"demo company #{seeded.company_id} {state}")
        settings = demo_settings(settings, host=host, port=port)
    app = create_app(settings, run_worker=worker, freeze_heap=True)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)


@cli.command("worker")
def worker_command(
    concurrency: Annotated[int, typer.Option(min=1, max=100, help="Jobs run at once.")] = 4,
) -> None:
    """Run a dedicated background worker (webhook processing, Cal.com sync, periodic jobs).

    Start as many as you need, on any machine that reaches the database. SIGTERM lets
    running jobs finish (30 s) before exiting.
    """
    from askpro import worker
    from askpro.db import resolve_database_url
    from askpro.integrations.calcom.service import close_all_clients
    from askpro.kit.heap import freeze_startup_heap
    from askpro.runtime import build_runtime, set_runtime

    settings = load_or_exit(quiet=False)
    resolve_database_url(settings, create=False)  # a worker never creates a database

    async def main() -> None:
        runtime = build_runtime(settings)
        set_runtime(runtime)
        pool = await worker.open_queue(runtime.database.url)
        freeze_startup_heap()
        try:
            await worker.run_worker(concurrency=concurrency, install_signal_handlers=True)
        finally:
            await worker.close_queue(pool)
            await close_all_clients()
            await runtime.close()

    asyncio.run(main())


def main() -> None:
    run_app(cli)
