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
from sqlalchemy.ext.asyncio import AsyncSession

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
from askpro.models.webhooks import WEBHOOK_STATUSES
from askpro.webhooks.providers import PROVIDERS

webhooks_cli = typer.Typer(help="Inspect and replay received webhooks.", no_args_is_help=True)
simulate_cli = typer.Typer(help="Send correctly signed test traffic.", no_args_is_help=True)

SAMPLES_DIR = Path(__file__).parent / "samples"

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
    as_json: JsonFlag = False,
) -> None:
    """List received webhooks, newest first."""
    from askpro.webhooks import service

    since_at = parse_since(since)

    async def work(session: AsyncSession) -> list[Any]:
        return await service.list_events(
            session, provider=provider, status=status, since=since_at, limit=limit
        )

    events = _run(work)
    if as_json:
        print_json([event.model_dump(mode="json") for event in events])
        return
    table = make_table(
        "id", "received (UTC)", "provider", "type", "status", "attempts", "last error"
    )
    for event in events:
        table.add_row(
            str(event.id),
            _when(event.received_at),
            event.provider,
            event.event_type,
            event.status,
            str(event.attempts),
            event.last_error or "",
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
        raise fail(f"no webhook event #{event_id}", exit_code=1)
    print_json(event.model_dump(mode="json"))


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
        raise fail("give event ids or --status failed|dead (not both)")
    if status is not None and status not in ("failed", "dead"):
        raise fail("--status must be failed or dead")
    actor = by or f"cli:{getpass.getuser()}"
    since_at = parse_since(since)

    async def work(session: AsyncSession) -> service.ReplayResult:
        if status is not None:
            return await service.replay_status(session, status, actor, since=since_at)
        return await service.replay(session, event_ids or [], actor)

    result = _run(work)
    console.print(f"replayed {len(result.replayed)}: {', '.join(map(str, result.replayed))}")
    if result.skipped:
        err_console.print(
            f"skipped {len(result.skipped)} (unknown, in flight or pruned): "
            + ", ".join(map(str, result.skipped))
        )
        raise typer.Exit(1)


def sample_names(provider: str) -> list[str]:
    return sorted(path.stem for path in (SAMPLES_DIR / provider).glob("*.json"))


def load_sample(provider: str, name: str) -> bytes:
    """The packaged sample ``name`` of ``provider``, or the JSON file at path ``name``."""
    packaged = SAMPLES_DIR / provider / f"{name.removesuffix('.json')}.json"
    if packaged.is_file():
        return packaged.read_bytes()
    path = Path(name)
    if path.is_file():
        return path.read_bytes()
    raise fail(
        f"no {provider} sample {name!r} and no such file; samples: "
        + ", ".join(sample_names(provider))
    )


def _fresh_id(value: Any, token: str) -> Any:
    """``cs_test_a1YS…`` → ``cs_sim_<token>``: same kind of id, never seen before."""
    if not isinstance(value, str) or "_" not in value:
        return value
    return f"{value.split('_', 1)[0]}_sim_{token}"


def make_unique(provider: str, payload: Any) -> Any:
    """A fresh identity so the hub does not answer `duplicate` to a repeated simulation.

    Stripe: a new event id and object id (and PaymentIntent, so a top-up credits again);
    Retell: a new call id; Cal.com: a new ``createdAt`` (booking uids stay, so the
    created → rescheduled → cancelled samples keep referring to one booking).
    """
    token = secrets.token_hex(6)
    if provider == "stripe":
        payload["id"] = f"evt_sim_{token}"
        payload["created"] = int(time.time())
        stripe_object = (payload.get("data") or {}).get("object")
        if isinstance(stripe_object, dict):
            stripe_object["id"] = _fresh_id(stripe_object.get("id"), token)
            if stripe_object.get("payment_intent"):
                stripe_object["payment_intent"] = f"pi_sim_{token}"
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


def signing_secret(provider: str, given: str | None) -> str:
    """``--secret``, else the configured secret, else the demo secret a demo server accepts."""
    from askpro.tenancy.demo import DEMO_WEBHOOK_SECRETS

    if given:
        return given
    configured = next(iter(PROVIDERS[provider].configured_secrets(load_or_exit())), None)
    if configured:
        return configured
    field = {"retell": "retell_api_key", "calcom": "calcom_webhook_secret"}.get(
        provider, "stripe_webhook_secret"
    )
    err_console.print(f"ASKPRO_{field.upper()} is unset: signing with the demo secret")
    return DEMO_WEBHOOK_SECRETS[field]


@simulate_cli.command("samples")
def list_samples(
    provider: Annotated[
        str | None, typer.Argument(callback=_check_provider, help="retell, calcom or stripe.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the webhook samples shipped with askpro (for `simulate webhook`)."""
    providers = [provider] if provider else list(PROVIDERS)
    found = {name: sample_names(name) for name in providers}
    if as_json:
        print_json(found)
        return
    for name, samples in found.items():
        console.print(f"{name}: {', '.join(samples)}")


@simulate_cli.command("webhook")
def simulate_webhook(
    provider: Annotated[
        str, typer.Argument(callback=_check_provider, help="retell, calcom or stripe.")
    ],
    sample: Annotated[
        str,
        typer.Argument(
            help="A sample shipped with askpro (see `askpro simulate samples`) or a JSON file."
        ),
    ],
    url: ServerUrlOption = DEFAULT_SERVER_URL,
    secret: Annotated[
        str | None,
        typer.Option(help="Signing secret (default: the configured one, else the demo one)."),
    ] = None,
    unique: Annotated[
        bool, typer.Option(help="Give the event a fresh id so it is not a duplicate.")
    ] = True,
) -> None:
    """Sign a sample with PROVIDER's scheme and POST it to the hub; print the answer."""
    import httpx

    body = load_sample(provider, sample)
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if unique and isinstance(payload, dict):
        body = json.dumps(make_unique(provider, payload)).encode()
    key = signing_secret(provider, secret)
    path = f"/webhooks/{provider}"
    if isinstance(payload, dict) and payload.get("event") == "call_inbound":
        path = "/webhooks/retell/inbound"
    target = url if "/webhooks/" in url else url.rstrip("/") + path  # a full URL is kept
    headers = {"content-type": "application/json", **sign(provider, body, key)}
    response = httpx.post(target, content=body, headers=headers, timeout=15)
    err_console.print(f"POST {target} -> {response.status_code}")
    if response.content:
        console.print(response.text)
    if response.status_code >= 300:
        raise fail(f"the server answered {response.status_code}", exit_code=1)
