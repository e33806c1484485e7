"""The Cal.com-backed :class:`CalendarGateway` (filled in once the Cal.com client lands)."""

from __future__ import annotations

from askpro.booking.gateway import CalendarGateway
from askpro.config import Settings
from askpro.models import Company


def calcom_gateway_for(
    company: Company, settings: Settings, extras: dict[str, object]
) -> CalendarGateway | None:
    return None
