"""Audit log of administrative actions: who, what, when — never answers.

Entries name objects the way people do ("Deltagare avslut 2026 – Steget"), and the log
page shows a Swedish description and Stockholm local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from surveys import clock
from surveys.models import AuditEntry, User

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ACTIONS = {
    "inloggning": "Loggade in",
    "utloggning": "Loggade ut",
    "omgång.skapa": "Startade en mätomgång",
    "omgång.oppna": "Öppnade en mätomgång",
    "omgång.stang": "Stängde en mätomgång",
    "omgång.ta_bort": "Tog bort en tom mätomgång",
    "länkar.skapa": "Skapade engångslänkar (CSV)",
    "lappar.skapa": "Skapade lappar med engångslänkar",
    "länkar.skicka": "Skickade engångslänkar med e-post",
    "kiosk.ny_lank": "Skapade en ny kiosklänk för surfplattor",
    "kiosk.aterkalla": "Återkallade kiosklänken",
    "pappersenkät.registrera": "Registrerade en pappersenkät",
    "användare.skapa": "Skapade en användare",
    "användare.ändra": "Ändrade en användare",
    "användare.inaktivera": "Inaktiverade en användare",
    "användare.aktivera": "Aktiverade en användare",
    "användare.lösenord": "Satte nytt lösenord för en användare",
    "insats.skapa": "Skapade en insats",
    "insats.byt_namn": "Bytte namn på en insats",
    "gräns.ändra": "Ändrade gränsen för små tal",
    "förbund.namn": "Ändrade förbundets namn",
    "import.historik": "Importerade historik",
    "import.riket": "Importerade nationella resultat (Riket)",
    "import.svar": "Importerade enkätsvar från fil",
    "import.history": "Importerade historik",
    "import.national": "Importerade nationella resultat (Riket)",
    "import.answers": "Importerade enkätsvar från fil",
    "import.ta_bort.history": "Tog bort importerad historik",
    "import.ta_bort.national": "Tog bort importerade nationella resultat",
    "publicering.publicera": "Publicerade resultaten för ett år",
    "inställning.skydda_övriga": "Ändrade skyddet av svar med annat eller inget kön",
    "översättning.läs_in": "Läste in en översättning av deltagarnas enkät",
    "översättning.godkänn": "Godkände en översättning så att den erbjuds deltagarna",
    "ljud.läs_in": "Lade in en inspelad uppläsning av en fråga",
    "instrument.läs_in": "Läste in instrumentet (frågekatalogen)",
    "svar.gallra": "Gallrade enskilda enkätsvar (de publicerade resultaten finns kvar)",
    "nyckel.skapa": "Skapade instansens signeringsnyckel",
    "nns.organisationsnummer": "Ändrade förbundets organisationsnummer",
    "nns.exportera": "Laddade ner paketet till NNS",
    "riket.förbund.registrera": "Registrerade ett förbund (NNS)",
    "riket.förbund.ändra": "Ändrade ett registrerat förbund (NNS)",
    "riket.paket.importera": "Importerade ett förbunds paket (NNS)",
    "riket.paket.ersätt": "Ersatte ett förbunds paket med ett nyare (NNS)",
    "riket.publicera": "Publicerade Riket för ett år (NNS)",
    "riket.exportera": "Exporterade rikets fil (NNS)",
    "omgång.surfplatta": "Ändrade surfplattornas inställning för en mätomgång",
    "omgång.sena_svar": "Tog emot enkäter efter att omgången stängts (inom respittiden)",
    "kommentar.ändra": "Skrev eller ändrade en kommentar i rapporten",
    "kommentar.tömma": "Tog bort en kommentar i rapporten",
    "rapporttext.ändra": "Ändrade en av rapportens fasta texter",
    "inställning.stapeldiagram": "Ändrade om PDF- och Word-rapporten ritar årets staplar",
    "väntande.oläsbara_bort": "Tog bort väntande svar som inte går att läsa (nyckeln saknas)",
}


def record(db: Session, *, user_email: str, action: str, detail: str = "") -> None:
    """Add an entry to the session (committed with the change it describes)."""
    db.add(
        AuditEntry(
            at=clock.utcnow(),
            user_email=user_email,
            action=action,
            detail=detail[:1000],
        )
    )


@dataclass(frozen=True)
class LogLine:
    """One audit entry as a person reads it."""

    when: str  # Stockholm local time, "2026-11-23 17:05"
    who: str  # name (e-mail)
    what: str  # Swedish description
    detail: str  # object names and parameters


def stockholm(at: datetime) -> datetime:
    """Stored times are UTC (SQLite returns them naive)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(STOCKHOLM)


def latest(db: Session, limit: int = 500) -> list[LogLine]:
    """The latest entries, newest first, for the log page."""
    names = {u.email: u.name for u in db.exec(select(User)).all()}
    entries = db.exec(select(AuditEntry).order_by(col(AuditEntry.at).desc()).limit(limit)).all()
    lines = []
    for entry in entries:
        name = names.get(entry.user_email)
        lines.append(
            LogLine(
                when=stockholm(entry.at).strftime("%Y-%m-%d %H:%M"),
                who=f"{name} ({entry.user_email})" if name else entry.user_email,
                what=ACTIONS.get(entry.action, entry.action),
                detail=entry.detail,
            )
        )
    return lines
