"""``askpro companies create|list``."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.cliutil import JsonFlag, console, fail, load_or_exit, print_json, run_in_transaction
from askpro.cliutil import table as make_table

companies_cli = typer.Typer(help="Create and list companies (tenants).", no_args_is_help=True)


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
        raise fail(f"invalid company: {problems}") from None

    async def work(session: AsyncSession) -> int:
        return (await create_company(session, data)).id

    console.print(f"created company #{run_in_transaction(settings, work)}: {name}")


@companies_cli.command("list")
def companies_list(as_json: JsonFlag = False) -> None:
    """List companies with their id, country, time zone and balance."""
    from askpro.tenancy.schemas import CompanyOut
    from askpro.tenancy.service import list_companies

    settings = load_or_exit()

    async def work(session: AsyncSession) -> list[CompanyOut]:
        return [CompanyOut.model_validate(company) for company in await list_companies(session)]

    companies = run_in_transaction(settings, work)
    if as_json:
        print_json([company.model_dump(mode="json") for company in companies])
        return
    rows = make_table("id", "name", "country", "time zone", "locale", "balance", "status")
    for company in companies:
        rows.add_row(
            str(company.id),
            company.name,
            company.country,
            company.time_zone,
            company.locale,
            f"{company.balance_cents / 100:.2f}",
            company.status,
        )
    console.print(rows)
