"""Use cases of the customers feature; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.customers import repository
from askpro.kit.phone import InvalidPhoneNumber, normalize_email, normalize_phone
from askpro.models import Company, Customer, CustomerMerge
from askpro.outbound import service as outbound

ANONYMOUS_NUMBERS = frozenset({"anonymous", "unknown", "restricted", "private", ""})


class MergeError(ValueError):
    pass


def phone_or_none(raw: object, country: str) -> str | None:
    """The E.164 form of a caller's number, or ``None`` for withheld/invalid numbers."""
    if not isinstance(raw, str) or raw.strip().lower() in ANONYMOUS_NUMBERS:
        return None
    try:
        return normalize_phone(raw, country)
    except InvalidPhoneNumber:
        return None


async def resolve(session: AsyncSession, customer: Customer) -> Customer:
    """The customer a (possibly merged) row stands for today."""
    seen = 0
    while customer.merged_into_id is not None and seen < repository.MAX_MERGE_DEPTH:
        survivor = await repository.get(session, customer.company_id, customer.merged_into_id)
        if survivor is None:
            break
        customer, seen = survivor, seen + 1
    return customer


async def find_by_phone(
    session: AsyncSession, company: Company, raw: str | None
) -> Customer | None:
    phone = phone_or_none(raw, company.country)
    if phone is None:
        return None
    customer = await repository.find_by_phone(session, company.id, phone)
    return None if customer is None else await resolve(session, customer)


async def find_or_create(
    session: AsyncSession,
    company: Company,
    phone: str | None,
    name: str | None = None,
    email: str | None = None,
) -> Customer:
    """The company's customer with this number (merged rows resolved), created when new.

    Race-safe: concurrent calls for one number end with one row (unique index + ON CONFLICT).
    A caller without a usable number gets a fresh anonymous customer, never a phone-keyed one.
    Known customers get empty name/email filled in, never overwritten.
    """
    e164 = phone_or_none(phone, company.country)
    clean_email = normalize_email(email)
    clean_name = name.strip() or None if name else None
    if e164 is None:
        return await repository.add(
            session, Customer(company_id=company.id, name=clean_name, email=clean_email)
        )
    customer, created = await repository.insert_or_get_by_phone(
        session, company.id, e164, clean_name, clean_email
    )
    customer = await resolve(session, customer)
    if not created:
        if customer.name is None and clean_name:
            customer.name = clean_name
        if customer.email is None and clean_email:
            customer.email = clean_email
        await session.flush()
    return customer


async def find_or_create_by_contact(
    session: AsyncSession,
    company: Company,
    phone: str | None,
    name: str | None = None,
    email: str | None = None,
) -> Customer:
    """Like :func:`find_or_create`, but a contact without a usable number is matched by
    e-mail before a new customer is made (bookings made in Cal.com often carry only that)."""
    clean_email = normalize_email(email)
    if phone_or_none(phone, company.country) is None and clean_email is not None:
        known = await repository.find_by_email(session, company.id, clean_email)
        if known is not None:
            customer = await resolve(session, known)
            if customer.name is None and name and name.strip():
                customer.name = name.strip()
                await session.flush()
            return customer
    return await find_or_create(session, company, phone, name, email)


def snapshot(customer: Customer) -> dict[str, object]:
    return {
        "id": customer.id,
        "name": customer.name,
        "phone": customer.phone,
        "email": customer.email,
        "notes": customer.notes,
        "merged_into_id": customer.merged_into_id,
        "created_at": customer.created_at.isoformat() if customer.created_at else None,
    }


async def merge_duplicates(
    session: AsyncSession,
    company: Company,
    survivor_id: int,
    loser_ids: Sequence[int],
    *,
    actor: str = "system",
) -> Customer:
    """Merge ``loser_ids`` into ``survivor_id`` in the caller's transaction.

    Appointments and calls move to the survivor, its empty fields are filled from the
    losers, one ``customer_merges`` row per loser keeps the loser as it was, and the
    loser keeps its number with ``merged_into_id`` set so late events still resolve.
    """
    losers = [loser for loser in dict.fromkeys(loser_ids) if loser != survivor_id]
    if not losers:
        raise MergeError("nothing to merge: give at least one customer other than the survivor")
    rows = {
        row.id: row for row in await repository.lock(session, company.id, [survivor_id, *losers])
    }
    survivor = rows.get(survivor_id)
    missing = [customer_id for customer_id in [survivor_id, *losers] if customer_id not in rows]
    if survivor is None or missing:
        raise MergeError(f"customers not found in this company: {missing}")
    if survivor.merged_into_id is not None:
        raise MergeError(f"customer {survivor_id} was itself merged into {survivor.merged_into_id}")
    for loser_id in losers:
        loser = rows[loser_id]
        before = snapshot(loser)
        # The appointment book is written by booking only; imported here, not at the top,
        # because booking's service uses this module (find_or_create).
        from askpro.booking import service as booking

        moved = {
            "appointments": await booking.transfer_customer(
                session, company.id, loser.id, survivor.id
            ),
            **await repository.repoint(session, loser.id, survivor.id),
        }
        for field in ("name", "email", "notes"):
            if getattr(survivor, field) is None and getattr(loser, field) is not None:
                setattr(survivor, field, getattr(loser, field))
        loser.merged_into_id = survivor.id
        session.add(
            CustomerMerge(
                company_id=company.id,
                survivor_id=survivor.id,
                loser_id=loser.id,
                loser_snapshot=before,
                moved=moved,
                actor=actor,
            )
        )
    outbound.record_customer_merge(session, company.id, survivor.id, losers)
    await session.flush()
    return survivor
