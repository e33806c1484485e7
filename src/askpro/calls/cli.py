"""``askpro simulate …``: play phone calls against a running server."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer


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
) -> None:
    """Inbound webhook → availability → hold → booking → call events, signed like Retell."""
    from askpro.calls.simulate import DEMO_RETELL_KEY, Simulation, SimulationFailed
    from askpro.cliutil import load_or_exit

    settings = load_or_exit()
    configured = settings.retell_api_key.get_secret_value() if settings.retell_api_key else None
    signing_key = key or (configured.split(",")[0].strip() if configured else DEMO_RETELL_KEY)
    simulation = Simulation(
        base_url=base_url.rstrip("/"),
        key=signing_key,
        to_number=to_number,
        from_number=from_number,
        caller_name=name,
        service=service,
        say=typer.echo,
    )
    try:
        booked = asyncio.run(simulation.run())
    except (SimulationFailed, OSError) as error:
        typer.echo(f"simulation failed: {error}", err=True)
        raise typer.Exit(1) from None
    appointment = booked.get("appointment") or {}
    typer.echo(
        f"booked appointment #{appointment.get('id')} at {appointment.get('start')} "
        f"({'confirmed' if appointment.get('confirmed') else 'confirmation pending'})"
    )


def add_simulate_call(app: typer.Typer) -> None:
    """Register ``call`` on a ``simulate`` sub-app (the webhook hub has one too: share it)."""
    app.command("call")(simulate_call)
