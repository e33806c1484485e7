"""One sentence per outcome that the agent can say, in German or English.

Times are spoken in the branch's time zone; at most three options are offered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from askpro.booking.schemas import AppointmentView, BookingResult, Outcome, Rule, Slot
from askpro.kit.time import zone

WEEKDAYS = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS = {
    "de": (
        "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
        "September", "Oktober", "November", "Dezember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ),
}  # fmt: skip


def language(locale: str | None) -> str:
    return "en" if (locale or "de").lower().startswith("en") else "de"


def spoken_time(moment: dt.datetime, time_zone: str, locale: str) -> str:
    """``Mittwoch, 2. Dezember um 10:00 Uhr`` / ``Wednesday, 2 December at 10:00``."""
    lang = language(locale)
    local = moment.astimezone(zone(time_zone))
    weekday = WEEKDAYS[lang][local.weekday()]
    month = MONTHS[lang][local.month - 1]
    if lang == "de":
        return f"{weekday}, {local.day}. {month} um {local:%H:%M} Uhr"
    return f"{weekday}, {local.day} {month} at {local:%H:%M}"


def _options(slots: Sequence[Slot], time_zone: str, locale: str) -> str:
    spoken = [spoken_time(slot.start, time_zone, locale) for slot in slots[:3]]
    if len(spoken) <= 1:
        return "".join(spoken)
    joiner = " oder " if language(locale) == "de" else " or "
    return ", ".join(spoken[:-1]) + joiner + spoken[-1]


def _offer(slots: Sequence[Slot], time_zone: str, locale: str) -> str:
    if not slots:
        return (
            " Leider finde ich in den nächsten Tagen keinen freien Termin."
            if language(locale) == "de"
            else " I'm afraid I can't find a free time in the next few days."
        )
    options = _options(slots, time_zone, locale)
    if language(locale) == "de":
        return f" Ich kann Ihnen {options} anbieten."
    return f" I can offer {options}."


def _what(appointment: AppointmentView, time_zone: str, locale: str) -> str:
    when = spoken_time(appointment.start, time_zone, locale)
    if language(locale) == "de":
        return f"{appointment.service_name} bei {appointment.staff_name} am {when}"
    return f"{appointment.service_name} with {appointment.staff_name} on {when}"


def booking_message(result: BookingResult, locale: str) -> str:
    """The sentence for a booking-service result (book, hold, reschedule, cancel)."""
    de = language(locale) == "de"
    tz = result.time_zone
    appointment = result.appointment
    offer = _offer(result.alternatives, tz, locale)
    outcome = result.outcome
    if outcome is Outcome.AVAILABLE and appointment is not None:
        return (
            f"{_what(appointment, tz, locale)} ist frei, ich halte den Termin kurz für Sie."
            if de
            else f"{_what(appointment, tz, locale)} is free; I'm holding it for you."
        )
    if outcome is Outcome.BOOKED and appointment is not None:
        return (
            f"Gebucht: {_what(appointment, tz, locale)}."
            if de
            else f"Booked: {_what(appointment, tz, locale)}."
        )
    if outcome is Outcome.PENDING_CONFIRMATION and appointment is not None:
        return (
            f"Ihr Termin {_what(appointment, tz, locale)} ist eingetragen; "
            "die Bestätigung folgt in Kürze."
            if de
            else f"Your appointment, {_what(appointment, tz, locale)}, is booked; "
            "the confirmation will follow shortly."
        )
    if outcome is Outcome.ALREADY_BOOKED and appointment is not None:
        return (
            f"Dieser Termin war bereits gebucht: {_what(appointment, tz, locale)}."
            if de
            else f"That appointment was already booked: {_what(appointment, tz, locale)}."
        )
    if outcome is Outcome.RESCHEDULED and appointment is not None:
        suffix = ""
        if result.reason == "confirmation_pending":
            suffix = " Die Bestätigung folgt." if de else " The confirmation will follow."
        return (
            f"Verschoben auf {spoken_time(appointment.start, tz, locale)}.{suffix}"
            if de
            else f"Moved to {spoken_time(appointment.start, tz, locale)}.{suffix}"
        )
    if outcome is Outcome.CANCELLED and appointment is not None:
        return (
            f"Der Termin {_what(appointment, tz, locale)} ist storniert."
            if de
            else f"The appointment, {_what(appointment, tz, locale)}, is cancelled."
        )
    if outcome is Outcome.SLOT_TAKEN:
        head = (
            "Dieser Termin ist leider gerade vergeben worden."
            if de
            else "Sorry, that time has just been taken."
        )
        return head + offer
    if outcome is Outcome.TOO_SOON:
        head = "Das ist leider zu kurzfristig." if de else "Sorry, that is too soon to book."
        return head + offer
    if outcome is Outcome.OUTSIDE_HOURS:
        if result.reason == Rule.HORIZON:
            head = (
                "So weit im Voraus kann ich leider noch nicht buchen."
                if de
                else "Sorry, I can't book that far ahead yet."
            )
        else:
            head = (
                "Zu dieser Zeit haben wir leider nicht geöffnet."
                if de
                else "Sorry, we're not open at that time."
            )
        return head + offer
    if outcome is Outcome.NOT_FOUND:
        return (
            "Ich habe dazu leider keinen Termin gefunden."
            if de
            else "Sorry, I couldn't find that appointment."
        )
    return simple_message(outcome, locale)


def simple_message(outcome: Outcome, locale: str, detail: str = "") -> str:
    de = language(locale) == "de"
    if outcome is Outcome.UPSTREAM_UNAVAILABLE:
        return (
            "Ich erreiche den Kalender gerade nicht; versuchen wir es gleich noch einmal."
            if de
            else "I can't reach the calendar right now; let's try again in a moment."
        )
    if outcome is Outcome.INVALID_REQUEST:
        return invalid_message(locale, [detail] if detail else [])
    return detail


# What the agent asks for when a field is missing or wrong: (German, English).
FIELD_LABELS = {
    "service": ("welche Leistung Sie möchten", "which service you would like"),
    "staff": ("bei wem Sie den Termin möchten", "who you would like to see"),
    "date": ("das Datum", "the date"),
    "time": ("die Uhrzeit", "the time"),
    "new_date": ("das neue Datum", "the new date"),
    "new_time": ("die neue Uhrzeit", "the new time"),
    "appointment_id": ("welchen Termin Sie meinen", "which appointment you mean"),
    "caller_number": ("Ihre Telefonnummer", "your phone number"),
    "customer_name": ("Ihren Namen", "your name"),
    "email": ("Ihre E-Mail-Adresse", "your e-mail address"),
}
# Problems that are no missing detail of the caller's: one sentence each.
SENTENCES = {
    "call.to_number": (
        "Diese Rufnummer ist bei uns keinem Betrieb zugeordnet.",
        "This phone number is not assigned to any business here.",
    ),
    "name": ("Diese Anfrage kann ich leider nicht bearbeiten.", "I can't handle that request."),
    "body": ("Diese Anfrage kann ich leider nicht bearbeiten.", "I can't handle that request."),
}


def invalid_message(locale: str, missing: Sequence[str], *, offered: Sequence[str] = ()) -> str:
    """``invalid_request`` in the company's language, from the catalogue only."""
    de = language(locale) == "de"
    for name in missing:
        if name in SENTENCES:
            return SENTENCES[name][0 if de else 1]
    labels: list[str] = []
    for name in missing:
        field = name.split(".")[-1] if name.startswith("args.") else name
        label = FIELD_LABELS.get(field, ("weitere Angaben", "more details"))[0 if de else 1]
        if label not in labels:
            labels.append(label)
    listed = _joined(labels or [FIELD_LABELS["service"][0 if de else 1]], de)
    sentence = f"Mir fehlen noch Angaben: {listed}." if de else f"I still need to know {listed}."
    if offered:
        names = _joined(list(offered), de)
        sentence += f" Wir bieten an: {names}." if de else f" We offer: {names}."
    return sentence


def nonexistent_time_message(locale: str) -> str:
    """The asked-for wall-clock time falls into the hour skipped when summer time starts."""
    if language(locale) == "de":
        return (
            "Diese Uhrzeit gibt es in dieser Nacht nicht, weil die Uhr umgestellt wird. "
            "Welche Uhrzeit möchten Sie stattdessen?"
        )
    return "That time does not exist that night because the clocks change. Which time instead?"


def _joined(items: Sequence[str], de: bool) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + (" und " if de else " and ") + items[-1]


def availability_message(slots: Sequence[Slot], time_zone: str, locale: str) -> str:
    de = language(locale) == "de"
    if not slots:
        return (
            "In diesem Zeitraum ist leider nichts frei."
            if de
            else "Sorry, nothing is free in that period."
        )
    options = _options(slots, time_zone, locale)
    return f"Frei wäre {options}." if de else f"Free times are {options}."


def appointments_message(
    appointments: Sequence[AppointmentView], time_zone: str, locale: str
) -> str:
    de = language(locale) == "de"
    if not appointments:
        return (
            "Unter Ihrer Nummer finde ich keinen kommenden Termin."
            if de
            else "I can't find an upcoming appointment under your number."
        )
    listed = "; ".join(_what(item, time_zone, locale) for item in appointments[:3])
    count = len(appointments)
    if de:
        found = "einen kommenden Termin" if count == 1 else f"{count} kommende Termine"
        return f"Ich finde {found}: {listed}."
    found = "one upcoming appointment" if count == 1 else f"{count} upcoming appointments"
    return f"I found {found}: {listed}."


# -- messages and call-backs (the take_message / request_callback tools) ------------------


def offer_message_tools(locale: str) -> str:
    """Said after "nothing free": the agent offers a message or a call-back instead."""
    if language(locale) == "de":
        return "Ich kann gern eine Nachricht aufnehmen oder einen Rückruf vereinbaren."
    return "I can take a message or arrange a call-back for you."


def take_message_mode_message(locale: str) -> str:
    """The answer to a booking tool while the company only takes messages."""
    if language(locale) == "de":
        return "Ich kann gerade keine Termine ändern; ich nehme gern eine Nachricht auf."
    return "I can't change appointments right now; I'm happy to take a message."


def message_taken_message(locale: str) -> str:
    if language(locale) == "de":
        return "Ich habe Ihre Nachricht notiert und gebe sie weiter."
    return "I've noted your message and will pass it on."


def callback_requested_message(window: str | None, locale: str) -> str:
    if language(locale) == "de":
        when = f" ({window})" if window else ""
        return f"Ich habe Ihren Rückrufwunsch{when} notiert; wir melden uns bei Ihnen."
    when = f" ({window})" if window else ""
    return f"I've noted your call-back request{when}; we'll get back to you."
