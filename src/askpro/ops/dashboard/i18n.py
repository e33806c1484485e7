"""Labels of the dashboard in English (the keys) and German, chosen by the company's locale."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from askpro.kit.time import zone

NONE = "\N{EN DASH}"  # shown for a missing value

GERMAN: dict[str, str] = {
    "Today": "Heute",
    "Webhook events": "Webhook-Ereignisse",
    "Calls": "Anrufe",
    "Appointments": "Termine",
    "Customers": "Kunden",
    "Charts": "Diagramme",
    "Log out": "Abmelden",
    "Log in": "Anmelden",
    "API token": "API-Token",
    "Company": "Firma",
    "Choose": "Wählen",
    "Choose a company": "Firma wählen",
    "All companies": "Alle Firmen",
    "Calls answered": "Angenommene Anrufe",
    "Booked by phone": "Telefonisch gebucht",
    "Conversion (calls → bookings)": "Umwandlung (Anrufe → Buchungen)",
    "Messages and call-backs taken": "Aufgenommene Nachrichten und Rückrufwünsche",
    "Minutes used": "Verbrauchte Minuten",
    "Balance": "Guthaben",
    "Failed webhooks": "Fehlgeschlagene Webhooks",
    "Dead webhooks": "Tote Webhooks",
    "Cal.com health": "Cal.com-Status",
    "Webhook endpoints not delivering": "Webhook-Endpunkte, die nichts zustellen",
    "The deliveries of a switched-off endpoint wait until the company re-enables it.": (
        "Die Zustellungen eines abgeschalteten Endpunkts warten, bis die Firma ihn wieder "
        "einschaltet."
    ),
    "URL": "URL",
    "Reason": "Grund",
    "Since": "Seit",
    "Waiting deliveries": "Wartende Zustellungen",
    "Switched off: the receiver answered 410 Gone": (
        "Abgeschaltet: der Empfänger antwortete 410 Gone"
    ),
    "Switched off: every delivery failed for too long": (
        "Abgeschaltet: jede Zustellung schlug zu lange fehl"
    ),
    "Failing, still retried": "Fehlerhaft, wird weiter versucht",
    "Pending syncs": "Ausstehende Synchronisierungen",
    "Breaker": "Schutzschalter",
    "Rate budget left": "Verbleibendes Kontingent",
    "Reachable": "Erreichbar",
    "not configured": "nicht eingerichtet",
    "The stored Cal.com key cannot be decrypted (was ASKPRO_SECRET_KEY changed?).": (
        "Der gespeicherte Cal.com-Schlüssel lässt sich nicht entschlüsseln "
        "(wurde ASKPRO_SECRET_KEY geändert?)."
    ),
    "yes": "ja",
    "no": "nein",
    "Provider": "Anbieter",
    "Status": "Status",
    "Type": "Typ",
    "Received": "Empfangen",
    "Received from": "Empfangen ab",
    "Received before": "Empfangen vor",
    "Attempts": "Versuche",
    "Last error": "Letzter Fehler",
    "Correlation id": "Korrelations-ID",
    "Filter": "Filtern",
    "any": "alle",
    "Next page": "Nächste Seite",
    "No entries.": "Keine Einträge.",
    "Replay": "Erneut verarbeiten",
    "Replay all matching": "Alle Treffer erneut verarbeiten",
    "Headers": "Header",
    "Payload": "Inhalt",
    "Jobs": "Aufträge",
    "Replayed": "Erneut verarbeitet",
    "Processed": "Verarbeitet",
    "Body pruned": "Inhalt gelöscht",
    "Confirm replay": "Erneute Verarbeitung bestätigen",
    "events match this filter and will be processed again.": (
        "Ereignisse passen zu diesem Filter und werden erneut verarbeitet."
    ),
    "Replay these events": "Diese Ereignisse erneut verarbeiten",
    "Cancel": "Abbrechen",
    "The number of matching events changed; please confirm again.": (
        "Die Anzahl der Treffer hat sich geändert; bitte erneut bestätigen."
    ),
    "events queued again.": "Ereignisse erneut eingereiht.",
    "Caller": "Anrufer",
    "Started": "Beginn",
    "Duration": "Dauer",
    "Outcome": "Ergebnis",
    "Cost": "Kosten",
    "Transcript": "Gesprächsverlauf",
    "Summary": "Zusammenfassung",
    "Sentiment": "Stimmung",
    "Appointments booked or changed in this call": (
        "In diesem Anruf gebuchte oder geänderte Termine"
    ),
    "Date": "Datum",
    "Day": "Tag",
    "Week": "Woche",
    "Branch": "Filiale",
    "Time": "Uhrzeit",
    "Service": "Leistung",
    "Staff": "Mitarbeiter",
    "Customer": "Kunde",
    "Sync": "Synchronisierung",
    "Source": "Quelle",
    "History": "Verlauf",
    "Channel": "Kanal",
    "Actor": "Von",
    "Changes": "Änderungen",
    "Show": "Anzeigen",
    "Numbers as a table": "Zahlen als Tabelle",
    "Search by name or number": "Suche nach Name oder Nummer",
    "Search": "Suchen",
    "Name": "Name",
    "Phone": "Telefon",
    "Email": "E-Mail",
    "Webhook volume and failures per hour (48 h)": ("Webhook-Volumen und Fehler pro Stunde (48 h)"),
    "Calls and bookings per day (30 days)": "Anrufe und Buchungen pro Tag (30 Tage)",
    "Webhook acknowledgement latency p95": "Webhook-Bestätigungslatenz p95",
    "events": "Ereignisse",
    "failed or dead": "fehlgeschlagen oder tot",
    "bookings": "Buchungen",
    "no requests measured by this process yet": "von diesem Prozess noch nicht gemessen",
    "Not found": "Nicht gefunden",
    "Forbidden": "Nicht erlaubt",
    "Your token lacks the scope": "Ihrem Token fehlt der Scope",
    "The login was not accepted.": "Die Anmeldung wurde nicht akzeptiert.",
    "Too many attempts; try again later.": "Zu viele Versuche; bitte später erneut.",
    "Previous": "Zurück",
    "Next": "Weiter",
    "Back to the list": "Zurück zur Liste",
    "Skip to content": "Zum Inhalt springen",
    "Main": "Hauptnavigation",
}


def language(locale: str | None) -> str:
    return "en" if (locale or "en").lower().startswith("en") else "de"


def translator(lang: str) -> Callable[[str], str]:
    if lang == "de":
        return lambda label: GERMAN.get(label, label)
    return lambda label: label


def local_time_formatter(lang: str, time_zone: str) -> Callable[[dt.datetime | None], str]:
    """``01.12.2026 14:05`` (German) or ``2026-12-01 14:05`` in the company's zone."""
    tz = zone(time_zone)
    pattern = "%d.%m.%Y %H:%M" if lang == "de" else "%Y-%m-%d %H:%M"

    def format_time(moment: dt.datetime | None) -> str:
        return moment.astimezone(tz).strftime(pattern) if moment is not None else NONE

    return format_time
