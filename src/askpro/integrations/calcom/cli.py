"""``askpro calcom health`` and ``askpro calcom warm-cache``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from askpro.cliutil import (
    DEFAULT_SERVER_URL,
    JsonFlag,
    ServerUrlOption,
    console,
    err_console,
    fail,
    load_or_exit,
    print_json,
    run_in_transaction,
)
from askpro.cliutil import table as make_table
from askpro.config import Settings

calcom_cli = typer.Typer(help="Cal.com: account health and cache warm-up.", no_args_is_help=True)


def calcom_settings(server: str) -> Settings:
    """The settings, pointed at the stand-in of the demo server ``server`` when no key is set.

    `askpro serve` books against its stand-in in that case, so the CLI checks the same one:
    the command and the demo server's `/api/health/calcom` then agree.
    """
    from askpro.integrations.calcom.service import standin_settings

    settings = load_or_exit()
    if settings.calcom_api_key is not None:
        return settings
    parts = urlsplit(server)
    if parts.hostname is None:
        raise fail(f"--url: not a URL: {server!r}")
    return standin_settings(settings, host=parts.hostname, port=parts.port or 80)


@calcom_cli.command("health")
def health(as_json: JsonFlag = False, url: ServerUrlOption = DEFAULT_SERVER_URL) -> None:
    """Check every configured Cal.com account; exit code 1 when one is unhealthy.

    With no ASKPRO_CALCOM_API_KEY (demo mode) it checks the built-in stand-in of the
    running demo server at --url, the one that server books against.
    """
    from askpro.integrations.calcom.health import calcom_health
    from askpro.integrations.calcom.service import close_all_clients

    settings = calcom_settings(url)

    async def work(session: Any) -> dict[str, Any]:
        try:
            return await calcom_health(session, settings, fresh=True)
        finally:
            await close_all_clients()

    report = run_in_transaction(settings, work)
    if as_json:
        print_json(report)
    else:
        table = make_table(
            "account", "companies", "reachable", "latency", "breaker", "budget", "error"
        )
        for account in report["accounts"]:
            table.add_row(
                account["account"],
                ",".join(map(str, account["companies"])) or "(global key)",
                "yes" if account["reachable"] else "NO",
                f"{account['latency_ms']} ms",
                account["breaker"],
                str(account["rate_budget_remaining"]),
                account.get("error", ""),
            )
        console.print(table)
        console.print(f"Cal.com: {report['status']}")
    if report["status"] == "unavailable":
        raise typer.Exit(1)


@calcom_cli.command("warm-cache")
def warm_cache_command(
    company: Annotated[
        int | None, typer.Option(help="Only this company (default: every company).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=60, help="Days of slots to fetch.")] = 7,
    url: ServerUrlOption = DEFAULT_SERVER_URL,
) -> None:
    """Fill the cache with event types, schedules and the next days of slots.

    With no ASKPRO_CALCOM_API_KEY (demo mode) it reads the stand-in of the server at --url.
    """
    from sqlalchemy import select

    from askpro.integrations.calcom.errors import CalcomError
    from askpro.integrations.calcom.service import calcom_client_for, close_all_clients
    from askpro.integrations.calcom.warmup import warm_cache
    from askpro.models import Company, Service

    settings = calcom_settings(url)
    if settings.redis_url is None:
        err_console.print(
            "[yellow]ASKPRO_REDIS_URL is not set: the cache is in this process's memory and "
            "ends with it (warm-cache helps servers only with Redis).[/yellow]"
        )

    async def work(session: Any) -> int:
        query = select(Company).order_by(Company.id)
        if company is not None:
            query = query.where(Company.id == company)
        companies = list(await session.scalars(query))
        if not companies:
            raise fail(f"no company #{company}" if company else "no companies")
        cached = 0
        seen: set[str] = set()
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
            ) as progress:
                for tenant in companies:
                    client = calcom_client_for(tenant, settings)
                    if client is None:
                        err_console.print(
                            f"company #{tenant.id}: no Cal.com key configured, skipped"
                        )
                        continue
                    event_type_ids = list(
                        await session.scalars(
                            select(Service.calcom_event_type_id).where(
                                Service.company_id == tenant.id,
                                Service.calcom_event_type_id.is_not(None),
                                Service.active.is_(True),
                            )
                        )
                    )
                    key = f"{client.account}:{tenant.time_zone}:{sorted(event_type_ids)}"
                    if key in seen:
                        continue
                    seen.add(key)
                    task = progress.add_task(f"company #{tenant.id}", total=None)

                    def step(label: str, total: int, task: Any = task) -> None:
                        progress.update(task, total=total, advance=1)

                    try:
                        cached += await warm_cache(
                            client,
                            time_zone=tenant.time_zone,
                            days=days,
                            event_type_ids=event_type_ids or None,
                            on_step=step,
                        )
                    except CalcomError as error:
                        err_console.print(f"company #{tenant.id}: [red]{error}[/red]")
        finally:
            await close_all_clients()
        return cached

    console.print(f"cached {run_in_transaction(settings, work)} slot ranges")
