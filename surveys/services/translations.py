"""Translations of the participants' questionnaire as data, tied to the instrument (issue 22).

Every text a participant sees has a key: a question version by its id (``fraga.<id>``),
an answer option (``skala.<scale>.<code>``), a questionnaire's name (``enkat.<key>``), the
gender question (``kon.*``) and the page's buttons and messages (``ui.*``). A translated row
keeps the sha256 of the Swedish text it translates: when the Swedish text changes later
(an edited, unanswered question version), the row no longer matches and is *stale*.

A language is offered to respondents only while it is *available*: approved (the
approval holds for exactly the rows that were approved, by their digest) and without a
missing or stale row. The language is never stored with an answer (DESIGN.md principle 1);
``language_count`` counts questionnaires per round and language, apart from the answers.

Only the participants' questionnaires are translated: staff, remitters, managers and
board members answer in Swedish at work; participants are the ones who may read
little Swedish. Services only flush; the caller commits.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from datetime import time as dt_time
from itertools import chain
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import event
from sqlalchemy import text as sql
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from indicators.instrument import Instrument
from surveys import clock
from surveys.db import app_cache
from surveys.files.reading import (
    FORMULA_START,
    FileError,
    formula_safe,
    inert_formulas,
    open_table,
    shown,
)
from surveys.models import LanguageCount, TranslationLanguage, TranslationText
from surveys.names import BIDI_CONTROLS
from surveys.services.actor import Actor, audit, require_admin
from surveys.services.validation import GENDER_LABELS


@dataclass(frozen=True)
class Language:
    code: str  # BCP 47 primary tag, also the value of ?sprak= and <html lang>
    name: str  # the language's name in its own script (the picker shows this)
    swedish: str  # its Swedish name (staff and administrator pages)
    direction: str = "ltr"  # "rtl" for Arabic script
    script: str | None = None  # "arabic" or "ethiopic": the app's own font is loaded


# The languages a förbund may load. Names in their own script, as the picker shows them.
LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("ar", "العربية", "arabiska", "rtl", "arabic"),
        Language("fa", "فارسی", "persiska", "rtl", "arabic"),
        Language("prs", "دری", "dari", "rtl", "arabic"),
        Language("ps", "پښتو", "pashto", "rtl", "arabic"),
        Language("ckb", "کوردی", "soranî", "rtl", "arabic"),
        Language("kmr", "Kurmancî", "kurmanji"),
        Language("so", "Soomaali", "somaliska"),
        Language("ti", "ትግርኛ", "tigrinska", "ltr", "ethiopic"),
        Language("am", "አማርኛ", "amhariska", "ltr", "ethiopic"),
        Language("en", "English", "engelska"),
        Language("uk", "Українська", "ukrainska"),
        Language("ru", "Русский", "ryska"),
        Language("tr", "Türkçe", "turkiska"),
        Language("pl", "Polski", "polska"),
        Language("bs", "Bosanski", "bosniska"),
        Language("fi", "Suomi", "finska"),
        Language("es", "Español", "spanska"),
    )
}
SWEDISH = Language("sv", "Svenska", "svenska")

# The page's buttons and messages (Swedish source; "{n}"-style placeholders are kept).
UI_TEXTS: dict[str, str] = {
    "ui.intro": "Enkäten tar ett par minuter. Du är anonym: vi sparar inte ditt namn eller "
    "något annat som visar vem du är. Välj det svar som passar bäst. Du kan hoppa över en "
    "fråga eller svara Vet ej.",
    "ui.language": "Språk",
    "ui.skip": "Hoppa till innehållet",
    "ui.thanks_page": "Tack för dina svar",
    "ui.question_number": "Fråga {n} av {total}",
    "ui.listen": "Lyssna",
    "ui.listen_question": "Lyssna: fråga {n}",
    "ui.optional": "(frivilligt)",
    "ui.send": "Skicka svaren",
    "ui.send_anyway": "Skicka ändå",
    "ui.answer_questions": "Svara på frågorna",
    "ui.empty": "Du har inte svarat på någon fråga. Vill du skicka ändå?",
    # Names the exit questionnaire's gate as it stands (8, Ja). Not made from the instrument
    # yet: a new Swedish source makes this row stale in every approved translation, and a
    # stale language is taken off the questionnaire until it is translated and approved
    # again. Change it together with the next translation round (or a new instrument).
    "ui.conditional": "Du svarade Ja på fråga 8. Här kommer två frågor till.",
    "ui.sending": "Skickar dina svar …",
    "ui.progress": "{answered} av {shown} besvarade",
    "ui.thanks_title": "Tack!",
    "ui.thanks_text": "Dina svar är sparade. De hjälper oss att göra stödet bättre.",
    "ui.close_page": "Du kan stänga sidan nu.",
    "ui.offline": "Svaren skickas så snart surfplattan har nät igen.",
    "ui.still_there": "Är du kvar?",
    "ui.yes_still_there": "Ja, jag är kvar",
    "ui.more_time": "Jag behöver mer tid",
    "ui.restart_now": "Börja om nu",
    "ui.restart_in": "Enkäten börjar om för nästa person om {seconds} sekunder.",
    "ui.otherwise_restart": "Annars börjar enkäten om för nästa person om {seconds} sekunder.",
}
GENDER_QUESTION = "Är du …"
# Texts the page's script needs (questionnaire.js reads them from data-texts).
SCRIPT_KEYS = (
    "ui.thanks_page",
    "ui.sending",
    "ui.progress",
    "ui.thanks_title",
    "ui.thanks_text",
    "ui.offline",
    "ui.still_there",
    "ui.yes_still_there",
    "ui.more_time",
    "ui.restart_now",
    "ui.restart_in",
    "ui.otherwise_restart",
    "ui.empty",
    "ui.send_anyway",
    "ui.answer_questions",
)
MAX_FILE = 1024 * 1024  # bytes: a translation is some 60 short texts, 1 MB is plenty
FILE_TOO_LARGE = f"Filen är för stor (högst {MAX_FILE // 1024**2} MB). Ingenting har lästs in."
MAX_TEXT = 2000  # characters in one translated text
LONGER_FACTOR = 3  # a translation may be at most 3 × the Swedish (+ SLACK) characters
SLACK = 20
MARKUP = re.compile(r"<\s*[A-Za-z/!?]|&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);|\]\(|javascript:", re.I)
PLACEHOLDER = re.compile(r"\{[a-z]+\}")
# Zero-width (non-)joiners shape Persian and Arabic words; every other format or control
# character (bidirectional overrides and isolates included) is refused.
ALLOWED_FORMAT = {"\u200c", "\u200d"}


class TranslationError(ValueError):
    """A refusal with a Swedish message; nothing was changed."""


def language(code: str | None) -> Language | None:
    """A language the app knows by its code (not Swedish), else None."""
    return LANGUAGES.get((code or "").strip().lower())


def sv_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- what is translated ----------------------------------------------------------


def source_texts(instrument: Instrument, year: int | None = None) -> dict[str, str]:
    """Every text a participant sees (key → Swedish), in the order of the page."""
    year = year or clock.today().year
    texts: dict[str, str] = dict(UI_TEXTS)
    texts["kon.fraga"] = GENDER_QUESTION
    texts.update({f"kon.{value}": label for value, label in GENDER_LABELS.items()})
    scales: list[str] = []
    for qn in instrument.questionnaires:
        if not qn.participant:
            continue
        texts[f"enkat.{qn.key}"] = qn.name
        for question in qn.questions:
            for version in question.versions:
                if version.valid_until is None or version.valid_until >= year:
                    texts[f"fraga.{version.id}"] = version.text
            if question.scale not in scales:
                scales.append(question.scale)
    for scale in scales:
        for option in instrument.scales[scale].options:
            texts[f"skala.{scale}.{option.code}"] = option.label
    return texts


# --- template -----------------------------------------------------------------------


def template_rows(db: Session, instrument: Instrument, code: str) -> list[tuple[str, str, str]]:
    """(key, sv, text) per text; ``text`` is the current translation or empty."""
    current = {row.key: row.text for row in _rows(db, code)}
    return [(key, sv, current.get(key, "")) for key, sv in source_texts(instrument).items()]


def write_template(rows: list[tuple[str, str, str]], fmt: str) -> bytes:
    """The template as CSV (UTF-8 with BOM, for Excel) or XLSX; columns key,sv,text."""
    if fmt == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.title = "översättning"
        sheet.append(["key", "sv", "text"])
        for row in rows:
            sheet.append(list(row))
        inert_formulas(book)  # a stored text such as "=HYPERLINK(…)" stays text in Excel
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["key", "sv", "text"])
    for key, sv, text in rows:
        writer.writerow([key, formula_safe(sv), formula_safe(text)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- loading -------------------------------------------------------------------------


@dataclass
class LoadReport:
    loaded: int = 0
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def lines(self, code: str) -> list[str]:
        """The report in Swedish."""
        out = [f"{self.loaded} översatta texter inlästa för {name_of(code)}."]
        if self.missing:
            out.append(f"{len(self.missing)} saknas: {', '.join(self.missing)}")
        if self.stale:
            out.append(
                f"{len(self.stale)} inaktuella (den svenska texten har ändrats sedan "
                f"översättningen): {', '.join(self.stale)}"
            )
        if self.missing or self.stale:
            out.append("Språket kan inte erbjudas förrän alla texter är översatta och aktuella.")
        else:
            out.append("Alla texter är översatta. Språket behöver godkännas innan det erbjuds.")
        return out


def name_of(code: str) -> str:
    lang = LANGUAGES.get(code)
    return f"{lang.swedish} ({code})" if lang else code


def load_translation(
    db: Session, instrument: Instrument, code: str, data: bytes | Path, *, filename: str
) -> LoadReport:
    """Replace the language's translation with the file's rows; FileError names the rows.

    All or nothing: an unknown key, a wrong column, markup, a text far longer than the
    Swedish, a control character or a changed placeholder refuses the whole file, as
    does a file over ``MAX_FILE`` bytes (the page and the command line alike)."""
    lang = _known(code)
    size = data.stat().st_size if isinstance(data, Path) else len(data)
    if size > MAX_FILE:
        raise FileError([FILE_TOO_LARGE])
    sources = source_texts(instrument)
    try:
        rows = _translated_rows(data, filename, sources)
    except FileError as exc:  # the file as a whole, or its rows: nothing was read in
        raise FileError([*exc.errors, NOTHING_LOADED]) from None
    if not rows:  # an empty template would wipe the language with a success message
        raise FileError([NO_TEXTS, NOTHING_LOADED])
    _replace(db, lang.code, rows)
    report = LoadReport(loaded=len(rows))
    report.missing = [key for key in sources if key not in rows]
    report.stale = [k for k, (_, h) in rows.items() if h != sv_hash(sources[k])]
    return report


NOTHING_LOADED = "Ingenting har lästs in."
NO_TEXTS = (
    "Filen har inga översatta texter: kolumnen text är tom på varje rad. Fyll i "
    "översättningarna i mallen och läs in den igen."
)


def _translated_rows(
    data: bytes | Path, filename: str, sources: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """The file's translated rows by key, (text, hash of its Swedish); FileError naming
    every row that is refused (at most 50)."""
    table = open_table(data, filename=filename, required=["key", "sv", "text"])
    errors: list[str] = []
    rows: dict[str, tuple[str, str]] = {}
    for line, row in table.rows():
        key = _cell(row.get("key"))
        sv, text = _cell(row.get("sv")), _cell(row.get("text"))
        problem = _not_text(row) or _row_problem(key, sv, text, sources, rows)
        if problem:
            errors.append(f"Rad {line}: {problem}")
        elif text:
            rows[key] = (text, sv_hash(sv))
        if len(errors) >= 50:
            break
    if errors:
        raise FileError(errors)
    return rows


def _known(code: str) -> Language:
    lang = language(code)
    if lang is None:
        raise TranslationError(
            f"Okänt språk: {code!r}. Kända språkkoder: {', '.join(sorted(LANGUAGES))}."
        )
    return lang


def _cell(value: object) -> str:
    return "" if value is None else unicodedata.normalize("NFC", str(value).strip())


def _not_text(row: dict[str, object]) -> str | None:
    """A cell Excel turned into a truth value or a date (a key typed as SANT, a text
    as 1/2): refused, quoted as the sheet shows it, rather than read as 'True' or
    '2024-01-02 00:00:00'. A number is taken as its digits (a text may be "5")."""
    for column in ("key", "sv", "text"):
        value = row.get(column)
        if isinstance(value, bool | date | dt_time):
            return (
                f"kolumnen {column} har värdet {shown(value)}, som Excel har gjort om från "
                "text. Formatera cellen som text och skriv in den igen."
            )
    return None


def _row_problem(
    key: str, sv: str, text: str, sources: dict[str, str], seen: dict[str, tuple[str, str]]
) -> str | None:
    """What is wrong with one row, in Swedish, or None."""
    if key not in sources:
        return f"okänd nyckel {key!r} (den finns inte i mallen; skapa en ny mall)."
    if key in seen:
        return f"nyckeln {key} finns två gånger."
    for column, value in (("sv", sv), ("text", text)):
        bad = _bad_character(value)
        if bad:
            return f"kolumnen {column} innehåller det otillåtna tecknet {bad}."
    if not text:
        return None
    if not sv:
        return "kolumnen sv är tom: behåll den svenska texten från mallen."
    if MARKUP.search(text):
        return "texten innehåller kod eller märkning (t.ex. <, &amp; eller länkar); bara ren text."
    if text.startswith(FORMULA_START):
        # The template carries the text back out in CSV and XLSX: a formula would run there.
        return (
            "texten får inte börja med =, +, - eller @ (ett kalkylprogram skulle läsa den "
            "som en formel)."
        )
    if len(text) > min(MAX_TEXT, LONGER_FACTOR * len(sv or sources[key]) + SLACK):
        return (
            f"texten är mycket längre än den svenska ({len(text)} mot "
            f"{len(sv or sources[key])} tecken)."
        )
    expected = sorted(PLACEHOLDER.findall(sources[key]))
    stray = "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text)
    if stray or sorted(PLACEHOLDER.findall(text)) != expected:
        wanted = ", ".join(expected) or "inga"
        return (
            f"texten måste ha samma platshållare som den svenska ({wanted}) och inga "
            "andra klammerparenteser."
        )
    return None


def _bad_character(value: str) -> str | None:
    """The first control, format (bidi override), private or unpaired character, named."""
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co", "Cn") or (
            category == "Cf" and char not in ALLOWED_FORMAT
        ):
            return f"U+{ord(char):04X} ({_kind_of(char, category)})"
    return None


def _kind_of(char: str, category: str) -> str:
    """What kind of character it is, in Swedish (Unicode's names are English)."""
    if char in BIDI_CONTROLS:
        return "ett tecken som styr skrivriktningen"
    return {
        "Cc": "ett styrtecken",
        "Cf": "ett osynligt formateringstecken",
        "Co": "ett tecken för privat bruk",
        "Cs": "ett ensamt surrogattecken",
    }.get(category, "ett tecken som inte finns i Unicode")


def _replace(db: Session, code: str, rows: dict[str, tuple[str, str]]) -> None:
    entry = db.get(TranslationLanguage, code)
    if entry is None:
        entry = TranslationLanguage(code=code)
    entry.loaded_on = clock.today()
    db.add(entry)
    db.flush()
    for old in _rows(db, code):
        db.delete(old)
    db.flush()
    for key, (text, hashed) in rows.items():
        db.add(TranslationText(language=code, key=key, text=text, sv_hash=hashed))
    db.flush()


def _rows(db: Session, code: str) -> list[TranslationText]:
    return list(
        db.exec(
            select(TranslationText)
            .where(col(TranslationText.language) == code)
            .order_by(col(TranslationText.key))
        ).all()
    )


# --- status and approval ---------------------------------------------------------------


@dataclass
class Status:
    language: Language
    loaded: int
    missing: list[str]
    stale: list[str]
    approved: bool  # the rows as they are now were approved
    reference: str  # the approval's reference (also of an earlier approval)
    approved_on: date | None  # the day of the approval, if any

    @property
    def available(self) -> bool:
        return self.approved and not self.missing and not self.stale

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale


def _digest(rows: Iterable[TranslationText]) -> str:
    h = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.key):
        h.update(f"{row.key}\x1f{row.sv_hash}\x1f{row.text}\x1e".encode())
    return h.hexdigest()


def status(db: Session, instrument: Instrument, code: str) -> Status | None:
    """Where a loaded language stands; None if nothing was loaded for it."""
    lang = language(code)
    entry = db.get(TranslationLanguage, code) if lang else None
    if lang is None or entry is None:
        return None
    rows = _rows(db, code)
    sources = source_texts(instrument)
    by_key = {row.key: row for row in rows}
    return Status(
        language=lang,
        loaded=len(rows),
        missing=[key for key in sources if key not in by_key],
        stale=[
            key
            for key, row in by_key.items()
            if key in sources and row.sv_hash != sv_hash(sources[key])
        ],
        approved=bool(entry.approved_digest) and entry.approved_digest == _digest(rows),
        reference=entry.approved_reference,
        approved_on=entry.approved_on,
    )


def all_statuses(db: Session, instrument: Instrument) -> list[Status]:
    codes = db.exec(select(TranslationLanguage.code).order_by(col(TranslationLanguage.code)))
    return [s for s in (status(db, instrument, c) for c in codes.all()) if s is not None]


def approve(db: Session, instrument: Instrument, code: str, *, reference: str, by: str) -> Status:
    """Approve the language's rows as they are now; TranslationError when it cannot be."""
    _known(code)
    reference = _cell(reference)
    if not reference or len(reference) > 200 or _bad_character(reference):
        raise TranslationError(
            "Ange en referens för godkännandet (högst 200 tecken), t.ex. "
            "”godkänd av NNS 2027-01-10”. Ingenting har ändrats."
        )
    found = status(db, instrument, code)
    if found is None:
        raise TranslationError(
            f"Ingen översättning till {name_of(code)} är inläst. Ingenting har ändrats."
        )
    if not found.complete:
        raise TranslationError(
            f"{name_of(code)} kan inte godkännas: {len(found.missing)} texter saknas och "
            f"{len(found.stale)} är inaktuella. Ingenting har ändrats."
        )
    entry = db.get(TranslationLanguage, code)
    assert entry is not None  # status() found it
    entry.approved_digest = _digest(_rows(db, code))
    entry.approved_reference = reference
    entry.approved_by = by
    entry.approved_on = clock.today()
    db.add(entry)
    db.flush()
    found.approved, found.reference, found.approved_on = True, reference, entry.approved_on
    return found


# --- the respondent path: available languages and their texts (cached per worker) ----

TTL_SECONDS = 5.0
monotonic = time.monotonic  # the cache's clock (tests move it instead of sleeping)
_generation = 0  # bumped whenever this process changes a translation


@dataclass(frozen=True)
class Offered:
    """The languages offered now, each with its texts (key → translation)."""

    languages: tuple[Language, ...]
    texts: dict[str, dict[str, str]]

    def get(self, code: str | None) -> Language | None:
        lang = language(code)
        return lang if lang is not None and lang.code in self.texts else None


def offered(db: Session | Callable[[], Session], instrument: Instrument) -> Offered:
    """Available languages (approved, nothing missing or stale), at most TTL_SECONDS old.

    ``db`` may be a function giving the session: the respondent's pages then make none
    while the cached answer is fresh (nearly always)."""
    cache = app_cache("translations_cache")
    entry = cache.get("offered")
    now = monotonic()
    if (
        entry is not None
        and entry[0] == _generation
        and entry[1] is instrument
        and now - entry[2] < TTL_SECONDS
    ):
        return entry[3]
    generation = _generation
    if callable(db):
        db = db()
    languages, texts = [], {}
    for found in all_statuses(db, instrument):
        if found.available:
            languages.append(found.language)
            texts[found.language.code] = {r.key: r.text for r in _rows(db, found.language.code)}
    result = Offered(languages=tuple(languages), texts=texts)
    if entry is not None and entry[1] is instrument and entry[3] == result:
        result = entry[3]  # unchanged: the same object, so pages rendered from it stay cached
    cache["offered"] = (generation, instrument, now, result)
    return result


@event.listens_for(OrmSession, "after_flush")
def _invalidate(session: OrmSession, _context) -> None:
    global _generation
    watched = (TranslationLanguage, TranslationText)
    if any(isinstance(obj, watched) for obj in chain(session.new, session.dirty, session.deleted)):
        _generation += 1


# --- the per-language counter ------------------------------------------------------------


def count_language(db: Session, round_id: str, code: str) -> None:
    """One more questionnaire of the round answered in this language (no commit).

    An upsert, as the weekly counter: two tablets submitting at once both count."""
    db.connection().execute(
        sql(
            "INSERT INTO language_count (round_id, language, count) VALUES (:r, :l, 1) "
            "ON CONFLICT (round_id, language) DO UPDATE SET count = language_count.count + 1"
        ),
        {"r": round_id, "l": code},
    )


def language_counts(db: Session, round_id: str) -> list[tuple[Language, int]]:
    """Questionnaires per language other than Swedish, for the round page."""
    rows = db.exec(
        select(LanguageCount.language, LanguageCount.count).where(
            col(LanguageCount.round_id) == round_id
        )
    ).all()
    return sorted(
        ((LANGUAGES[code], count) for code, count in rows if code in LANGUAGES),
        key=lambda pair: pair[0].swedish,
    )


# --- the actions (an actor, a permission check, an audit entry each) ------------------


def load_language(
    db: Session,
    actor: Actor,
    instrument: Instrument,
    code: str,
    data: bytes | Path,
    *,
    filename: str,
) -> LoadReport:
    """The administrator loads a translation (``översättning.läs_in``): all or nothing."""
    require_admin(actor)
    report = load_translation(db, instrument, code, data, filename=filename)
    audit(db, actor, "översättning.läs_in", name_of(code))
    return report


def approve_language(
    db: Session, actor: Actor, instrument: Instrument, code: str, *, reference: str
) -> Status:
    """The administrator approves a translation (``översättning.godkänn``)."""
    require_admin(actor)
    found = approve(db, instrument, code, reference=reference, by=actor.email)
    audit(db, actor, "översättning.godkänn", f"{name_of(code)}: {reference.strip()}")
    return found
