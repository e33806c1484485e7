"""``askpro simulate …``: play phone calls against a running server."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import httpx
import typer

if TYPE_CHECKING:
    from askpro.calls.simulate import Simulation


def simulate_call(
    base_url: Annotated[
        str, typer.Option(envvar="ASKPRO_SERVER_URL", help="The running askpro server.")
    ] = "http://127.0.0.1:8000",
    to_number: Annotated[
        str, typer.Option("--to", help="The dialled number (the demo company's by default).")
    ] = "+4930555000100",
    from_number: Annotated[
        str, typer.Option("--from", help="The caller's number.")
    ] = "+4915112345678",
    name: Annotated[str, typer.Option(help="The caller's name.")] = "Erika Mustermann",
    service: Annotated[str, typer.Option(help="The service asked for.")] = "Haircut",
    key: Annotated[
        str | None,
        typer.Option(help="Retell signing key; default ASKPRO_RETELL_API_KEY or the demo key."),
    ] = None,
    calls: Annotated[
        int, typer.Option(min=1, max=100_000, help="Play this many calls (a soak test).")
    ] = 1,
    concurrency: Annotated[
        int, typer.Option(min=1, max=500, help="Calls in progress at once (with --calls).")
    ] = 1,
    json_output: Annotated[
        bool, typer.Option("--json", help="With --calls: print the figures as one JSON line.")
    ] = False,
) -> None:
    """Inbound webhook → availability → hold → booking → call events, signed like Retell.

    --base-url takes several servers separated by commas (a cluster): requests go to each
    in turn. With --calls N, plays N calls (each from its own number) and prints calls/s
    and tool-call latency; exits 1 if any call failed.
    """
    from askpro.calls.simulate import DEMO_RETELL_KEY, Simulation, SimulationFailed
    from askpro.cliutil import load_or_exit

    settings = load_or_exit()
    configured = settings.retell_api_key.get_secret_value() if settings.retell_api_key else None
    signing_key = key or (configured.split(",")[0].strip() if configured else DEMO_RETELL_KEY)
    servers = [url.strip().rstrip("/") for url in base_url.split(",") if url.strip()]
    simulation = Simulation(
        base_url=servers[0],
        key=signing_key,
        to_number=to_number,
        from_number=from_number,
        caller_name=name,
        service=service,
        say=typer.echo,
        servers=servers if len(servers) > 1 else (),
    )
    if calls > 1:
        _soak(simulation, calls, concurrency, json_output)
        return
    try:
        booked = asyncio.run(simulation.run())
    except SimulationFailed as error:
        typer.echo(f"simulation failed: {error}", err=True)
        raise typer.Exit(1) from None
    except httpx.HTTPError as error:
        typer.echo(f"simulation failed: {_unreachable(base_url, error)}", err=True)
        raise typer.Exit(1) from None
    appointment = booked.get("appointment") or {}
    typer.echo(
        f"booked appointment #{appointment.get('id')} at {appointment.get('start')} "
        f"({'confirmed' if appointment.get('confirmed') else 'confirmation pending'})"
    )


def _unreachable(base_url: str, error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return f"no askpro server answers at {base_url} (start one with `askpro serve`)"
    return f"{type(error).__name__} talking to {base_url}: {error}"


def _soak(template: Simulation, calls: int, concurrency: int, json_output: bool) -> None:
    from askpro.calls.simulate import soak

    for server in template.servers or [template.base_url]:
        try:
            httpx.get(server + "/health", timeout=5).raise_for_status()
        except httpx.HTTPError as error:
            typer.echo(f"simulation failed: {_unreachable(server, error)}", err=True)
            raise typer.Exit(1) from None
    step = max(1, calls // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            typer.echo(f"  {done}/{total} calls played", err=True)

    report = asyncio.run(soak(template, calls=calls, concurrency=concurrency, progress=progress))
    for failure in report.failures[:10]:
        typer.echo(f"  failed: {failure}", err=True)
    typer.echo(json.dumps(report.as_dict()) if json_output else report.summary())
    if report.failures:
        raise typer.Exit(1)


def add_simulate_call(app: typer.Typer) -> None:
    """Register ``call`` on a ``simulate`` sub-app (the webhook hub has one too: share it)."""
    app.command("call")(simulate_call)
