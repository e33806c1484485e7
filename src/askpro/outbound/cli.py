"""``askpro events list|replay``: an endpoint's outbound deliveries, and sending them again."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.cliutil import JsonFlag, console, fail, load_or_exit, print_json, run_in_transaction
from askpro.cliutil import table as make_table
from askpro.kit.pagination import PageRequest
from askpro.kit.problems import Problem
from askpro.outbound import service
from askpro.outbound.schemas import DeliveryOut, DeliveryStatus

events_cli = typer.Typer(
    help="Outbound events: list an endpoint's deliveries, replay them (same webhook-id).",
    no_args_is_help=True,
)

CompanyOption = Annotated[int, typer.Option("--company", min=1, help="The company's id.")]
EndpointOption = Annotated[int, typer.Option("--endpoint", min=1, help="The endpoint's id.")]


def _run(work: Any) -> Any:
    try:
        return run_in_transaction(load_or_exit(), work)
    except Problem as problem:
        raise fail(problem.detail or problem.title, exit_code=1) from None


@events_cli.command("list")
def list_deliveries(
    company: CompanyOption,
    endpoint: EndpointOption,
    status: Annotated[DeliveryStatus | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The endpoint's deliveries, newest first: status, attempts, last answer."""

    async def work(session: AsyncSession) -> list[DeliveryOut]:
        rows, _ = await service.page_deliveries(
            session, company, endpoint, PageRequest(limit=limit, cursor=None), status=status
        )
        return rows

    rows: list[DeliveryOut] = _run(work)
    if as_json:
        print_json([row.model_dump(mode="json") for row in rows])
        return
    table = make_table("id", "webhook-id", "type", "status", "attempts", "last", "created")
    for row in rows:
        last = str(row.last_status_code or "") or (row.last_error or "")[:40]
        table.add_row(
            str(row.id),
            row.webhook_id,
            row.event_type,
            row.status,
            str(row.attempts),
            last,
            row.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)
    console.print(f"{len(rows)} deliveries")


@events_cli.command("replay")
def replay(
    company: CompanyOption,
    endpoint: EndpointOption,
    delivery: Annotated[
        list[int] | None, typer.Option("--delivery", help="A delivery id (repeatable).")
    ] = None,
    status: Annotated[
        DeliveryStatus | None, typer.Option(help="Replay every delivery in this status.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only newer: 2h, 30m, 7d or ISO.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 1000,
) -> None:
    """Send deliveries again now: the same body and webhook-id, so receivers deduplicate."""
    from askpro.webhooks.cli import parse_since

    if not delivery and status is None:
        raise typer.BadParameter("name --delivery ids or a --status (e.g. --status failed)")
    after = parse_since(since)

    async def work(session: AsyncSession) -> list[int]:
        return await service.replay(
            session,
            company,
            endpoint,
            delivery_ids=delivery or None,
            status=status,
            since=after,
            limit=limit,
        )

    replayed: list[int] = _run(work)
    console.print(f"replayed {len(replayed)} deliveries: {', '.join(map(str, replayed)) or '-'}")
