"""``askpro calcom health``, ``askpro calcom warm-cache`` and ``askpro calcom map``."""

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

calcom_cli = typer.Typer(
    help="Cal.com: account health, cache warm-up and the staff-level mapping.",
    no_args_is_help=True,
)


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
    from askpro.models import Company, Service, StaffService

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
                        err_console.print(f"company #{tenant.id}: [red]{error}[/red]")
        finally:
            await close_all_clients()
        return cached

    console.print(f"cached {run_in_transaction(settings, work)} slot ranges")


@calcom_cli.command("map")
def map_command(
    company: Annotated[int, typer.Option(help="The company whose staff to map.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be linked; change nothing.")
    ] = False,
) -> None:
    """Link each staff member's own Cal.com event types (found by their calcom_username)
    to the services they perform, and the company team's round-robin event types to the
    services; prints every link. Staff need calcom_username set first (REST API)."""
    import asyncio

    from askpro.integrations.calcom.errors import CalcomError
    from askpro.integrations.calcom.mapping import Link, ServiceEntry, StaffEntry, plan
    from askpro.integrations.calcom.service import calcom_client_for, close_all_clients
    from askpro.kit.problems import Problem
    from askpro.tenancy import service as tenancy

    settings = load_or_exit()

    async def read(session: Any) -> tuple[Any, list[StaffEntry], list[ServiceEntry]]:
        tenant, members, services = await tenancy.calcom_mapping_of(session, company)
        session.expunge_all()
        return (
            tenant,
            [
                StaffEntry(m.id, m.name, m.calcom_username, m.calcom_user_id, links)
                for m, links in members
            ],
            [ServiceEntry(s.id, s.name, s.calcom_event_type_id) for s in services],
        )

    try:
        tenant, staff, services = run_in_transaction(settings, read)
    except Problem as problem:
        raise fail(f"{problem.title}: company {company}", exit_code=1) from None
    client = calcom_client_for(tenant, settings)
    if client is None:
        raise fail(
            f"company #{company}: no Cal.com key configured (ASKPRO_CALCOM_API_KEY)", exit_code=1
        )

    async def fetch() -> tuple[list[Link], list[str]]:
        try:
            with Progress(TextColumn("{task.description}"), console=err_console) as progress:
                task = progress.add_task("reading Cal.com", total=None)
                return await plan(
                    client,
                    staff,
                    services,
                    tenant.calcom_team_id,
                    on_step=lambda label: progress.update(task, description=label),
                )
        finally:
            await close_all_clients()

    try:
        links, warnings = asyncio.run(fetch())
    except CalcomError as error:
        raise fail(f"Cal.com: {error}", exit_code=1) from None
    names = {entry.staff_id: entry.name for entry in staff}
    titles = {entry.service_id: entry.name for entry in services}
    table = make_table("service", "staff", "event type", "was")
    for link in links:
        who = names[link.staff_id] if link.staff_id else "(team round robin)"
        table.add_row(titles[link.service_id], who, str(link.event_type_id), str(link.previous))
    console.print(table)
    for warning in warnings:
        err_console.print(f"[yellow]{warning}[/yellow]")
    if dry_run or not links:
        console.print(f"{len(links)} link(s) {'would change' if dry_run else 'to change'}")
        return

    async def write(session: Any) -> int:
        for link in links:
            await tenancy.link_calcom_event_type(
                session,
                company,
                link.service_id,
                link.event_type_id,
                staff_id=link.staff_id,
                calcom_user_id=link.user_id,
            )
        return len(links)

    console.print(f"linked {run_in_transaction(settings, write)} event type(s)")
