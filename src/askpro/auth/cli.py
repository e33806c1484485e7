"""``askpro tokens create|list|revoke``."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth import repository, service
from askpro.auth.scopes import parse_scopes
from askpro.cliutil import JsonFlag, console, fail, load_or_exit, print_json, run_in_transaction
from askpro.cliutil import table as make_table
from askpro.models import ApiToken

tokens_cli = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@tokens_cli.command("create")
def create(
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'booking widget'.")],
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated scopes, e.g. 'staff:read,services:read'; '*' = every scope "
            "the token can hold (a company token: all but companies:read/write)."
        ),
    ],
    company: Annotated[
        int | None, typer.Option(help="Company id; omit for a platform (operator) token.")
    ] = None,
    expires_in: Annotated[
        str | None, typer.Option(help="Lifetime like 90d, 12h or 30m; default: no expiry.")
    ] = None,
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from askpro.tenancy.repository import get_company

    settings = load_or_exit()
    try:
        parsed_scopes = parse_scopes(scopes, for_company=company is not None)
        lifetime = service.parse_duration(expires_in) if expires_in else None
    except ValueError as error:
        raise fail(str(error)) from None
    if company is not None and not parsed_scopes:
        raise fail("give at least one scope")

    async def work(session: AsyncSession) -> service.IssuedToken | str:
        if company is not None and await get_company(session, company) is None:
            return f"no company #{company}"
        try:
            return await service.create_token(
                session, company_id=company, name=name, scopes=parsed_scopes, expires_in=lifetime
            )
        except service.ScopeNotAllowed as error:
            return str(error)

    result = run_in_transaction(settings, work)
    if isinstance(result, str):
        raise fail(result)
    owner = f"company #{company}" if company is not None else "platform"
    typer.echo(f"token #{result.token.id} ({owner}, {', '.join(result.token.scopes)}):", err=True)
    typer.echo(result.plaintext)
    typer.echo("store it now: it is not shown again", err=True)


@tokens_cli.command("list")
def list_tokens(
    company: Annotated[int | None, typer.Option(help="Only this company's tokens.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List tokens with scopes and state (never their secrets)."""
    settings = load_or_exit()

    async def work(session: AsyncSession) -> list[ApiToken]:
        return list(await repository.list_all_tokens(session))

    found = [
        token
        for token in run_in_transaction(settings, work)
        if company is None or token.company_id == company
    ]
    if as_json:
        print_json(
            [
                {
                    "id": token.id,
                    "public_id": token.public_id,
                    "company_id": token.company_id,
                    "name": token.name,
                    "scopes": list(token.scopes),
                    "expires_at": token.expires_at,
                    "last_used_at": token.last_used_at,
                    "revoked_at": token.revoked_at,
                }
                for token in found
            ]
        )
        return
    table = make_table(
        "id", "public id", "company", "name", "scopes", "expires", "last used", "state"
    )
    for token in found:
        table.add_row(
            str(token.id),
            token.public_id,
            str(token.company_id) if token.company_id is not None else "platform",
            token.name,
            ",".join(token.scopes),
            token.expires_at.isoformat(timespec="minutes") if token.expires_at else "never",
            token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never",
            "revoked" if token.revoked_at else "active",
        )
    console.print(table)


@tokens_cli.command("revoke")
def revoke(token_id: Annotated[int, typer.Argument(help="The token's id (see `list`).")]) -> None:
    """Revoke a token; requests with it fail with 401 from now on."""
    settings = load_or_exit()

    async def work(session: AsyncSession) -> bool:
        return await service.revoke_token(session, None, token_id) is not None

    if not run_in_transaction(settings, work):
        raise fail(f"no token #{token_id}")
    console.print(f"revoked token #{token_id}")
