"""The ``askpro`` command line: serve, worker, migrate and the operator subcommands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth.cli import tokens_cli
from askpro.billing.cli import billing_cli
from askpro.calls.cli import add_simulate_call
from askpro.config import Settings, SettingsError, get_settings
from askpro.integrations.calcom.cli import calcom_cli
from askpro.observability import configure_logging
from askpro.ops.perf.cli import perf_cli
from askpro.webhooks.cli import simulate_cli, webhooks_cli

T = TypeVar("T")

cli = typer.Typer(
    help="askpro: the backend for AI phone receptionists that book appointments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
companies_cli = typer.Typer(help="Create and list companies (tenants).", no_args_is_help=True)
cli.add_typer(companies_cli, name="companies")
cli.add_typer(webhooks_cli, name="webhooks")
add_simulate_call(simulate_cli)
cli.add_typer(simulate_cli, name="simulate")
cli.add_typer(calcom_cli, name="calcom")
cli.add_typer(tokens_cli, name="tokens")
cli.add_typer(billing_cli, name="billing")
cli.add_typer(perf_cli, name="perf")
console = Console()


def load_or_exit() -> Settings:
    """Settings, or one clear line on stderr and exit code 2."""
    try:
        settings = get_settings()
    except SettingsError as error:
        typer.echo(f"askpro: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def run_in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work against the configured database from a synchronous command."""
    from askpro.runtime import build_runtime

    async def main() -> T:
        runtime = build_runtime(settings)
        try:
            return await runtime.database.unit_of_work(work, name="cli")
        finally:
            await runtime.database.dispose()

    return asyncio.run(main())


@cli.command()
def migrate() -> None:
    """Apply database migrations up to the newest (safe to run on every deploy)."""
    from askpro import migrations
    from askpro.db import describe_url, resolve_database_url

    settings = load_or_exit()
    url = resolve_database_url(settings)
    migrations.upgrade(url)
    console.print(f"schema is up to date on {describe_url(url)}")


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

    With no ASKPRO_DATABASE_URL an embedded PostgreSQL is started under ./var/postgres.
    """
    import uvicorn

    from askpro import migrations
    from askpro.app import create_app
    from askpro.db import describe_url, resolve_database_url
    from askpro.integrations.calcom.service import standin_settings
    from askpro.tenancy.demo import seed_demo_company

    settings = load_or_exit()
    url = resolve_database_url(settings)
    console.print(
        f"database: {describe_url(url)}" + ("" if settings.database_url else " (embedded)")
    )
    migrations.upgrade(url)
    if demo:
        seeded = run_in_transaction(settings, seed_demo_company)
        state = "created" if seeded.created else "already present"
        console.print(f"demo company #{seeded.company_id} {state}")
        if settings.calcom_api_key is None:
            settings = standin_settings(settings, host=host, port=port)
            console.print(
                "Cal.com: no ASKPRO_CALCOM_API_KEY set, so the built-in Cal.com STAND-IN serves "
                f"{settings.calcom_api_base} (demo data; nothing is sent to cal.com)"
            )
        if settings.retell_api_key is None:
            from askpro.calls.simulate import DEMO_RETELL_KEY

            settings = settings.model_copy(update={"retell_api_key": SecretStr(DEMO_RETELL_KEY)})
            console.print(
                "Retell: no ASKPRO_RETELL_API_KEY set, so requests signed with the DEMO key "
                f"{DEMO_RETELL_KEY!r} are accepted (`askpro simulate call` uses it)"
            )
    app = create_app(settings, run_worker=worker)
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
    from askpro.integrations.calcom.service import close_all_clients
    from askpro.runtime import build_runtime, set_runtime

    settings = load_or_exit()

    async def main() -> None:
        runtime = build_runtime(settings)
        set_runtime(runtime)
        pool = await worker.open_queue(runtime.database.url)
        try:
            await worker.run_worker(concurrency=concurrency, install_signal_handlers=True)
        finally:
            await worker.close_queue(pool)
            await close_all_clients()
            await runtime.close()

    asyncio.run(main())


@companies_cli.command("create")
def companies_create(
    name: Annotated[str, typer.Argument(help="The business's name, e.g. 'Salon Lisa'.")],
    country: Annotated[
        str, typer.Option(help="ISO country code; the default phone region.")
    ] = "DE",
    time_zone: Annotated[
        str, typer.Option(help="IANA time zone of the business.")
    ] = "Europe/Berlin",
    locale: Annotated[str, typer.Option(help="Language the agent speaks: de or en.")] = "de",
    price_per_minute_cents: Annotated[int, typer.Option(help="Price of one call minute.")] = 0,
) -> None:
    """Create a company and print its id."""
    from pydantic import ValidationError

    from askpro.tenancy.schemas import CompanyCreate
    from askpro.tenancy.service import create_company

    settings = load_or_exit()
    try:
        data = CompanyCreate(
            name=name,
            country=country.upper(),
            time_zone=time_zone,
            locale=locale,
            price_per_minute_cents=price_per_minute_cents,
        )
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        typer.echo(f"askpro: invalid company: {problems}", err=True)
        raise typer.Exit(2) from None

    async def work(session: AsyncSession) -> int:
        return (await create_company(session, data)).id

    console.print(f"created company #{run_in_transaction(settings, work)}: {name}")


@companies_cli.command("list")
def companies_list() -> None:
    """List companies with their id, country, time zone and balance."""
    from askpro.tenancy.schemas import CompanyOut
    from askpro.tenancy.service import list_companies

    settings = load_or_exit()

    async def work(session: AsyncSession) -> list[CompanyOut]:
        return [CompanyOut.model_validate(company) for company in await list_companies(session)]

    table = Table("id", "name", "country", "time zone", "locale", "balance", "status")
    for company in run_in_transaction(settings, work):
        table.add_row(
            str(company.id),
            company.name,
            company.country,
            company.time_zone,
            company.locale,
            f"{company.balance_cents / 100:.2f}",
            company.status,
        )
    console.print(table)


def main() -> None:
    cli()
