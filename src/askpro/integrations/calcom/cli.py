"""``askpro calcom health`` and ``askpro calcom warm-cache``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

calcom_cli = typer.Typer(help="Cal.com: account health and cache warm-up.", no_args_is_help=True)
console = Console()


@calcom_cli.command("health")
def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
) -> None:
    """Check every configured Cal.com account; exit code 1 when one is unhealthy."""
    from askpro.cli import load_or_exit, run_in_transaction
    from askpro.integrations.calcom.health import calcom_health
    from askpro.integrations.calcom.service import close_all_clients

    settings = load_or_exit()

    async def work(session: Any) -> dict[str, Any]:
        try:
            return await calcom_health(session, settings, fresh=True)
        finally:
            await close_all_clients()

    report = run_in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        table = Table("account", "companies", "reachable", "latency", "breaker", "budget", "error")
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
) -> None:
    """Fill the cache with event types, schedules and the next days of slots."""
    from sqlalchemy import select

    from askpro.cli import load_or_exit, run_in_transaction
    from askpro.integrations.calcom.errors import CalcomError
    from askpro.integrations.calcom.service import calcom_client_for, close_all_clients
    from askpro.integrations.calcom.warmup import warm_cache
    from askpro.models import Company, Service, StaffService

    settings = load_or_exit()
    if settings.redis_url is None:
        console.print(
            "[yellow]ASKPRO_REDIS_URL is not set: the cache is in this process's memory and "
            "ends with it (warm-cache helps servers only with Redis).[/yellow]"
        )

    async def work(session: Any) -> int:
        query = select(Company).order_by(Company.id)
        if company is not None:
            query = query.where(Company.id == company)
        companies = list(await session.scalars(query))
        if not companies:
            raise typer.BadParameter(f"no company {company}" if company else "no companies")
        cached = 0
        seen: set[str] = set()
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                for tenant in companies:
                    client = calcom_client_for(tenant, settings)
                    if client is None:
                        console.print(f"company #{tenant.id}: no Cal.com key configured, skipped")
                        continue
                    event_type_ids = list(
                        await session.scalars(
                            select(Service.calcom_event_type_id)
                            .where(
                                Service.company_id == tenant.id,
                                Service.calcom_event_type_id.is_not(None),
                                Service.active.is_(True),
                            )
                            .union(
                                select(StaffService.calcom_event_type_id).where(
                                    StaffService.company_id == tenant.id,
                                    StaffService.calcom_event_type_id.is_not(None),
                                )
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
                        console.print(f"company #{tenant.id}: [red]{error}[/red]")
        finally:
            await close_all_clients()
        return cached

    console.print(f"cached {run_in_transaction(settings, work)} slot ranges")
