"""Names people type for an insats: cleaned once, compared without regard to case.

"Steget", "steget" and "STEGET" are one insats, and so are two spellings that
differ only in Unicode form (a precomposed "å" and "a" + ring). A name may not
hold control characters or invisible formatting characters such as the
bidirectional overrides (U+202E), which make a name look like another one in a
list or a report, nor start like a spreadsheet formula. Lists of names are shown in
Swedish alphabetical order (``sort_key``). Pure functions, no database.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

MAX_NAME_LENGTH = 200
# Unicode categories refused in a name: controls, format characters (bidirectional
# marks, embeddings, overrides and isolates, zero-width characters, the BOM), line and
# paragraph separators, private use and unassigned code points.
REFUSED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}
# Bidirectional marks, embeddings, overrides and isolates (Unicode's Bidi_Control): free
# text (comments, translations) refuses these even where it allows other format characters.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# A name a spreadsheet would run as a formula is refused too: imports take cells as they
# are, so the CSV export's apostrophe in front of such text could not be undone on import.
FORMULA_START = ("=", "+", "-", "@")


class InvalidName(ValueError):
    """A name that cannot be used; the message is Swedish."""


def clean_insats_name(raw: str) -> str:
    """The name as stored (NFC, no surrounding spaces), or InvalidName in Swedish."""
    name = _cleaned(raw, "Insatsens namn")
    if not name:
        raise InvalidName("Ange insatsens namn.")
    if name.startswith(FORMULA_START):
        raise InvalidName(
            "Insatsens namn får inte börja med =, +, - eller @ (ett kalkylprogram skulle läsa "
            "det som en formel)."
        )
    return name


def clean_person_name(raw: str) -> str:
    """A user's name as stored (may be empty: the e-mail address names them then), by
    the insats names' rules for length and invisible characters."""
    return _cleaned(raw, "Namnet")


MAX_FILE_LABEL = 120  # characters of an uploaded file's name kept in lists and the log


def file_label(raw: str) -> str:
    """An uploaded file's name as the imports list and the audit log keep it: its last
    path part, without control or invisible characters and without a leading formula
    sign, at most MAX_FILE_LABEL characters with its extension kept (the type of a file
    is read from it); "fil" when nothing is left. The name is the sender's text."""
    base = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    kept = visible(base)
    kept = kept.strip().lstrip("".join(FORMULA_START)).strip()
    if len(kept) > MAX_FILE_LABEL:
        stem, dot, suffix = kept.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            kept = f"{stem[: MAX_FILE_LABEL - len(suffix) - 2]}….{suffix}"
        else:
            kept = kept[: MAX_FILE_LABEL - 1] + "…"
    return kept or "fil"


def visible(text: str) -> str:
    """The text without control and invisible characters (``REFUSED_CATEGORIES``): kept
    where the sender's text is information only (a file's name, a software version)."""
    return "".join(c for c in text if unicodedata.category(c) not in REFUSED_CATEGORIES)


def clean_forbund_name(raw: str) -> str:
    """Förbundets namn as stored (may be empty: the caller asks for one), by the same
    rules: it heads the report and is the sender and subject of every mail."""
    return _cleaned(raw, "Förbundets namn")


def _cleaned(raw: str, what: str) -> str:
    """NFC without surrounding spaces; InvalidName (``what`` … ) when too long or
    holding control or invisible formatting characters."""
    name = unicodedata.normalize("NFC", raw).strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"{what} är för långt (högst {MAX_NAME_LENGTH} tecken).")
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in name):
        raise InvalidName(
            f"{what} innehåller osynliga tecken eller styrtecken (till exempel tecken "
            "som vänder skrivriktningen). Skriv namnet med vanliga bokstäver, siffror och "
            "skiljetecken."
        )
    return name


def name_key(name: str) -> str:
    """What two names are compared by: the SHA-256 of the name compatibility-normalised
    and case folded (a hash, because folding can make a name longer: "ß" → "ss")."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return hashlib.sha256(folded.strip().encode("utf-8")).hexdigest()


# Swedish alphabetical order: å, ä and ö are letters of their own after z, in that order
# (æ and ø are read as ä and ö, ü as y); other accents are ignored (é as e). Neither
# database gives this: SQLite compares code points (ä before å, and capitals before
# small letters), PostgreSQL's usual collations put å and ä among the a's. The three
# letters become the three characters right after "z" in ASCII.
_SWEDISH_LETTERS = str.maketrans({"å": "{", "ä": "|", "æ": "|", "ö": "}", "ø": "}", "ü": "y"})


def sort_key(name: str) -> tuple[str, str]:
    """Sorts names as a Swedish reader expects ("Backen", "Åsen", "Ängen", "Öppna
    dörren"), case and accents aside; names equal but for those come in a fixed order."""
    folded = unicodedata.normalize("NFC", name).casefold().translate(_SWEDISH_LETTERS)
    plain = "".join(
        char for char in unicodedata.normalize("NFD", folded) if not unicodedata.combining(char)
    )
    return plain, name


def by_name(items: Iterable[T], name: Callable[[T], str]) -> list[T]:
    """``items`` in Swedish alphabetical order of ``name(item)``."""
    return sorted(items, key=lambda item: sort_key(name(item)))
