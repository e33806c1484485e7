"""``askpro webhooks list|show|replay`` and ``askpro simulate webhook``."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models.webhooks import WEBHOOK_STATUSES
from askpro.webhooks.providers import PROVIDERS

webhooks_cli = typer.Typer(help="Inspect and replay received webhooks.", no_args_is_help=True)
simulate_cli = typer.Typer(help="Send correctly signed test traffic.", no_args_is_help=True)
console = Console()

_RELATIVE = re.compile(r"(\d+)\s*([mhd])")


def parse_since(value: str | None) -> dt.datetime | None:
    """``2h``, ``30m``, ``7d`` ago, or an ISO 8601 time (UTC when it has no offset)."""
    if not value:
        return None
    relative = _RELATIVE.fullmatch(value.strip())
    if relative:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[relative.group(2)]
        return dt.datetime.now(dt.UTC) - dt.timedelta(**{unit: int(relative.group(1))})
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("use e.g. 2h, 30m, 7d or 2026-11-28T08:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _check_status(value: str | None) -> str | None:
    if value is not None and value not in WEBHOOK_STATUSES:
        raise typer.BadParameter(f"one of {', '.join(WEBHOOK_STATUSES)}")
    return value


def _check_provider(value: str | None) -> str | None:
    if value is not None and value not in PROVIDERS:
        raise typer.BadParameter(f"one of {', '.join(PROVIDERS)}")
    return value


def _run(work: Any) -> Any:
    from askpro.cli import load_or_exit, run_in_transaction

    return run_in_transaction(load_or_exit(), work)


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


@webhooks_cli.command("list")
def list_command(
    provider: Annotated[
        str | None, typer.Option(callback=_check_provider, help="retell, calcom or stripe.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(callback=_check_status, help="e.g. failed, dead.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="2h, 7d or an ISO time.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """List received webhooks, newest first."""
    from askpro.webhooks import service

    since_at = parse_since(since)

    async def work(session: AsyncSession) -> list[Any]:
        return await service.list_events(
            session, provider=provider, status=status, since=since_at, limit=limit
        )

    table = Table("id", "received (UTC)", "provider", "type", "status", "attempts", "last error")
    for event in _run(work):
        table.add_row(
            str(event.id),
            _when(event.received_at),
            event.provider,
            event.event_type,
            event.status,
            str(event.attempts),
            (event.last_error or "")[:60],
        )
    console.print(table)


@webhooks_cli.command("show")
def show_command(event_id: Annotated[int, typer.Argument(help="The inbox row id.")]) -> None:
    """Show one webhook: its status, history and body."""
    from askpro.webhooks import service

    async def work(session: AsyncSession) -> Any:
        return await service.get_event(session, event_id)

    event = _run(work)
    if event is None:
        typer.echo(f"askpro: no webhook event #{event_id}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(event.model_dump(mode="json"), indent=2, ensure_ascii=False))


@webhooks_cli.command("replay")
def replay_command(
    event_ids: Annotated[list[int] | None, typer.Argument(help="Inbox row ids.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Replay every `failed` or `dead` event instead.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="With --status: 2h, 7d or an ISO time.")] = None,
    by: Annotated[str | None, typer.Option(help="Who replays (recorded on the row).")] = None,
) -> None:
    """Reset events to `received` and process them again (without re-verifying)."""
    from askpro.webhooks import service

    if bool(event_ids) == bool(status):
        raise typer.BadParameter("give event ids or --status failed|dead (not both)")
    if status is not None and status not in ("failed", "dead"):
        raise typer.BadParameter("--status must be failed or dead")
    actor = by or f"cli:{getpass.getuser()}"
    since_at = parse_since(since)

    async def work(session: AsyncSession) -> service.ReplayResult:
        if status is not None:
            return await service.replay_status(session, status, actor, since=since_at)
        return await service.replay(session, event_ids or [], actor)

    result = _run(work)
    console.print(f"replayed {len(result.replayed)}: {', '.join(map(str, result.replayed))}")
    if result.skipped:
        console.print(
            f"skipped {len(result.skipped)} (unknown, in flight or pruned): "
            + ", ".join(map(str, result.skipped))
        )
        raise typer.Exit(1)


def make_unique(provider: str, payload: Any) -> Any:
    """A fresh identity so the hub does not answer `duplicate` to a repeated simulation."""
    token = secrets.token_hex(6)
    if provider == "stripe":
        payload["id"] = f"evt_sim_{token}"
    elif provider == "retell" and isinstance(payload.get("call"), dict):
        payload["call"]["call_id"] = f"sim_{token}"
    elif provider == "calcom":
        payload["createdAt"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    return payload


def sign(provider: str, body: bytes, secret: str) -> dict[str, str]:
    from askpro.webhooks import signatures

    if provider == "retell":
        return {"x-retell-signature": signatures.sign_retell(body, secret)}
    if provider == "calcom":
        return {"X-Cal-Signature-256": signatures.sign_calcom(body, secret)}
    return {"Stripe-Signature": signatures.sign_stripe(body, secret, int(time.time()))}


@simulate_cli.command("webhook")
def simulate_webhook(
    provider: Annotated[str, typer.Argument(help="retell, calcom or stripe.")],
    sample: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A JSON body.")],
    url: Annotated[
        str, typer.Option(help="Server base URL (or a full /webhooks/... URL).")
    ] = "http://127.0.0.1:8000",
    secret: Annotated[
        str | None, typer.Option(help="Signing secret (default: the configured one).")
    ] = None,
    unique: Annotated[
        bool, typer.Option(help="Give the event a fresh id so it is not a duplicate.")
    ] = False,
) -> None:
    """Sign SAMPLE with PROVIDER's scheme and POST it to the hub; print the answer."""
    import httpx

    from askpro.cli import load_or_exit

    definition = PROVIDERS.get(provider)
    if definition is None:
        raise typer.BadParameter(f"one of {', '.join(PROVIDERS)}")
    body = sample.read_bytes()
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if unique and isinstance(payload, dict):
        body = json.dumps(make_unique(provider, payload)).encode()
    signing_secret = secret or next(iter(definition.configured_secrets(load_or_exit())), None)
    if not signing_secret:
        variable = {"retell": "RETELL_API_KEY", "calcom": "CALCOM_WEBHOOK_SECRET"}.get(
            provider, "STRIPE_WEBHOOK_SECRET"
        )
        typer.echo(f"askpro: set ASKPRO_{variable} or pass --secret", err=True)
        raise typer.Exit(2)
    path = f"/webhooks/{provider}"
    if isinstance(payload, dict) and payload.get("event") == "call_inbound":
        path = "/webhooks/retell/inbound"
    target = url if "/webhooks/" in url else url.rstrip("/") + path
    headers = {"content-type": "application/json", **sign(provider, body, signing_secret)}
    try:
        response = httpx.post(target, content=body, headers=headers, timeout=15)
    except httpx.HTTPError as error:
        typer.echo(f"askpro: could not reach {target}: {error}", err=True)
        raise typer.Exit(1) from None
    console.print(f"POST {target} -> {response.status_code}")
    if response.content:
        console.print(response.text)
    if response.status_code >= 300:
        raise typer.Exit(1)
