"""The förbund's count package for NNS (DESIGN.md "NNS package").

A zip holding ``datapackage.json`` (a Frictionless Tabular Data Package: each
resource's table schema and SHA-256, the instrument's checksum, the förbund's
name and organisation number, the software version), the CSV resources
``answers.csv`` and ``questionnaires.csv``, and ``datapackage.sig`` (Ed25519
over the exact bytes of ``datapackage.json``).

What leaves the förbund is aggregated counts at förbund level only: per year ×
questionnaire × question version × subgroup × answer code, and questionnaires
per questionnaire × collection mode. No insats, no row per respondent, no date
finer than the year (the zip's entries are dated 1 January of the year). The
answers that disclosure control leaves out of the förbund's own figures are
counted here too: NNS adds them up with everyone else's. Blanks are not counted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from importlib import metadata

from sqlalchemy import func, select
from sqlmodel import Session, col

from indicators import Instrument
from surveys.files.reading import whole_number
from surveys.models import (
    Answer,
    InstrumentInfo,
    Question,
    QuestionVersion,
    Response,
    Round,
    Setting,
)
from surveys.services import settings
from surveys.services.actor import Actor, audit, require_admin
from surveys.services.publications import latest, published_years
from surveys.services.signing import sign

ORG_NUMBER = "forbund_org_number"  # setting: the förbund's organisation number
# setting per year: the number of the year's latest signed package (1, 2, …). NNS keeps
# the highest it has imported and refuses a lower one: an old package never replaces a
# newer correction, whichever file lies nearest to hand.
PACKAGE_NUMBER = "nns_package_number_{year}"
FORMAT_VERSION = 1
DESCRIPTOR = "datapackage.json"
SIGNATURE = "datapackage.sig"
ANSWER_FIELDS = [
    "year",
    "questionnaire",
    "question",
    "version_id",
    "subgroup",
    "answer_code",
    "count",
]
QUESTIONNAIRE_FIELDS = ["year", "questionnaire", "mode", "count"]
SUBGROUP_OF_GENDER = {"kvinna": "kvinna", "man": "man"}  # anything else: övriga
OTHER = "övriga"
MODES = {"kiosk": "kiosk", "open_link": "link", "single_use": "single_use_link", None: "paper"}
MODE_LABELS = {
    "kiosk": "surfplatta (kiosk)",
    "link": "öppen länk",
    "single_use_link": "engångslänk",
    "paper": "papper eller fil",
}

_FIELD_DOCS = {
    "year": ("integer", "Mätåret"),
    "questionnaire": ("string", "Enkätens nyckel i instrumentet"),
    "question": ("integer", "Frågans nummer i enkäten"),
    "version_id": ("string", "Frågeversionens fasta id i instrumentet"),
    "subgroup": ("string", "kvinna, man eller övriga för deltagarenkäter, annars tomt"),
    "answer_code": ("integer", "Svarskoden på skalan (tomma svar räknas inte)"),
    "count": ("integer", "Antal"),
    "mode": ("string", "Insamlingssätt: kiosk, link, single_use_link eller paper"),
}
SCHEMAS = {
    "answers": (ANSWER_FIELDS, ["year", "questionnaire", "version_id", "subgroup", "answer_code"]),
    "questionnaires": (QUESTIONNAIRE_FIELDS, ["year", "questionnaire", "mode"]),
}
# Every file a package holds (build_package): NNS refuses a zip with any other.
PACKAGE_FILES = frozenset({DESCRIPTOR, SIGNATURE, *(f"{name}.csv" for name in SCHEMAS)})


class PackageError(Exception):
    """The package cannot be made (Swedish message; nothing was written)."""


@dataclass
class Package:
    """A built package: the zip and what it holds, for the page that shows it."""

    year: int
    descriptor: dict
    answers: list[dict]
    questionnaires: list[dict]
    zip_bytes: bytes
    filename: str


def software_version() -> str:
    try:
        return metadata.version("indikatorenkater")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "0.0.0"


def table_schema(resource: str) -> dict:
    fields, key = SCHEMAS[resource]
    return {
        "fields": [
            {
                "name": name,
                "type": _FIELD_DOCS[name][0],
                "description": _FIELD_DOCS[name][1],
                **({"constraints": {"minimum": 0}} if name == "count" else {}),
            }
            for name in fields
        ],
        "primaryKey": key,
        "missingValues": [""],
    }


# --- counting where the data lives --------------------------------------------


def answer_counts(db: Session, instrument: Instrument, year: int) -> list[dict]:
    """Answer codes per questionnaire × question version × gender (blanks not counted)."""
    keys = (
        col(Response.questionnaire_key),
        col(Answer.question_version_id),
        col(Response.gender),
        col(Answer.code),
    )
    rows = db.execute(
        select(*keys, func.count())
        .select_from(Answer)
        .join(Response, col(Response.id) == col(Answer.response_id))
        .where(col(Response.year) == year, col(Answer.code).is_not(None))
        .group_by(*keys)
    ).all()
    numbers = dict(
        db.execute(
            select(col(QuestionVersion.id), col(Question.number)).join(
                Question, col(Question.id) == col(QuestionVersion.question_id)
            )
        ).all()
    )
    merged: dict[tuple, int] = {}
    for questionnaire, version, gender, code, count in rows:
        subgroup = ""
        if instrument.is_participant(questionnaire):
            subgroup = SUBGROUP_OF_GENDER.get(gender or "", OTHER)
        key = (questionnaire, int(numbers[version]), version, subgroup, int(code))
        merged[key] = merged.get(key, 0) + int(count)
    order = {k: i for i, k in enumerate(instrument.questionnaire_keys)}
    return [
        {
            "year": year,
            "questionnaire": q,
            "question": n,
            "version_id": v,
            "subgroup": s,
            "answer_code": c,
            "count": count,
        }
        for (q, n, v, s, c), count in sorted(
            merged.items(), key=lambda kv: (order.get(kv[0][0], 99), *kv[0][1:])
        )
    ]


def questionnaire_counts(db: Session, instrument: Instrument, year: int) -> list[dict]:
    """Questionnaires per questionnaire and collection mode (the round's; none = paper/file)."""
    rows = db.execute(
        select(col(Response.questionnaire_key), col(Round.mode), func.count())
        .select_from(Response)
        .outerjoin(Round, col(Round.id) == col(Response.round_id))
        .where(col(Response.year) == year)
        .group_by(col(Response.questionnaire_key), col(Round.mode))
    ).all()
    merged: dict[tuple[str, str], int] = {}
    for questionnaire, mode, count in rows:
        key = (questionnaire, MODES.get(mode, "link"))
        merged[key] = merged.get(key, 0) + int(count)
    order = {k: i for i, k in enumerate(instrument.questionnaire_keys)}
    return [
        {"year": year, "questionnaire": q, "mode": m, "count": c}
        for (q, m), c in sorted(merged.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))
    ]


# --- the package ----------------------------------------------------------------


def to_csv(rows: list[dict], fields: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_exportable(db: Session, year: int) -> None:
    """Refuse a year without a publication (its collection is not done)."""
    if latest(db, year) is None:
        years = ", ".join(map(str, published_years(db))) or "inga"
        raise PackageError(
            f"År {year} är inte publicerat, så det finns inget paket att skicka till NNS. "
            f"Publicera året först (publicerade år: {years})."
        )


def build_package(
    db: Session, instrument: Instrument, year: int, *, sign_with=None, number: int | None = None
) -> Package:
    """Count the year and assemble the package; signs it when ``sign_with`` (a private key).

    ``number`` is the package's number in the year (signed with the rest); by default the
    one the next export will take (``next_number``), as the page shows before it."""
    check_exportable(db, year)
    if number is None:
        number = next_number(db, year)
    name = settings.forbund_name(db)
    org = settings.get(db, ORG_NUMBER)
    if sign_with is not None and not org:
        raise PackageError(
            "Förbundets organisationsnummer saknas: NNS känner igen förbundet på det. Ange det "
            "under Administration → Paket till NNS. Ingenting har skrivits."
        )
    info = db.get(InstrumentInfo, "current")
    answers = answer_counts(db, instrument, year)
    questionnaires = questionnaire_counts(db, instrument, year)
    resources = {
        "answers": to_csv(answers, ANSWER_FIELDS),
        "questionnaires": to_csv(questionnaires, QUESTIONNAIRE_FIELDS),
    }
    descriptor = {
        "profile": "tabular-data-package",
        "name": f"nns-indikatorer-{year}",
        "title": f"Indikatorenkäter {year}: antal svar från {name}",
        "nns": {
            "format_version": FORMAT_VERSION,
            "year": year,
            "package_number": number,
            "forbund": name,
            "organisation_number": org,
            "instrument_version": info.version if info else "",
            "instrument_checksum": info.checksum if info else "",
            "software": "indikatorenkater",
            "software_version": software_version(),
        },
        "resources": [
            {
                "name": resource,
                "path": f"{resource}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": len(data),
                "hash": f"sha256:{sha256(data)}",
                "schema": table_schema(resource),
            }
            for resource, data in resources.items()
        ],
    }
    descriptor_bytes = (json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n").encode()
    files = {DESCRIPTOR: descriptor_bytes, **{f"{k}.csv": v for k, v in resources.items()}}
    if sign_with is not None:
        files[SIGNATURE] = sign(sign_with, descriptor_bytes)
    return Package(
        year=year,
        descriptor=descriptor,
        answers=answers,
        questionnaires=questionnaires,
        zip_bytes=zip_files(files, year=year),
        filename=f"nns-paket-{_slug(org or name)}-{year}.zip",
    )


def zip_files(files: dict[str, bytes], *, year: int) -> bytes:
    """A zip of ``files`` whose entries carry no date finer than the year.

    Stored, not compressed, in a fixed order with fixed attributes: the same files
    always give the same bytes, so NNS can check that not one byte of the zip
    itself was changed (compressed bytes could differ between zlib versions).
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(name, date_time=(max(year, 1980), 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_STORED
            entry.create_system = 3  # the same on every system
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, files[name])
    return out.getvalue()


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in keep.split("-") if part)[:60] or "forbund"


# --- the actions (an actor, a permission check, an audit entry each) ------------------


def normal_org_number(text: str) -> str | None:
    """``NNNNNN-NNNN`` from an organisation number typed with or without the dash."""
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) != 10 or any(c not in "0123456789- " for c in text.strip()):
        return None
    return f"{digits[:6]}-{digits[6:]}"


def not_an_org_number(text: str) -> str:
    """The Swedish refusal of a typed text that ``normal_org_number`` cannot read."""
    return f"{text.strip()!r} är inget organisationsnummer (tio siffror, t.ex. 222000-1234)."


def change_org_number(db: Session, actor: Actor, raw: str) -> str:
    """The administrator sets the förbund's organisation number, audited as
    ``nns.organisationsnummer``; returns it as stored (``normal_org_number``). A text that
    is no organisation number is a ``settings.SettingError`` (Swedish, nothing changed)."""
    require_admin(actor)
    value = normal_org_number(raw)
    if value is None:
        raise settings.SettingError(not_an_org_number(raw))
    settings.put(db, ORG_NUMBER, value)
    audit(db, actor, "nns.organisationsnummer", value)
    return value


def export_package(
    db: Session, actor: Actor, instrument: Instrument, year: int, *, sign_with
) -> Package:
    """The signed package for NNS, audited as ``nns.exportera`` (page and CLI alike)."""
    require_admin(actor)
    number = next_number(db, year, for_update=True)
    package = build_package(db, instrument, year, sign_with=sign_with, number=number)
    settings.put(db, PACKAGE_NUMBER.format(year=year), str(number))
    rows = len(package.answers)
    detail = f"{year}: {package.filename}, paket nr {number}, {rows} rader antal svar"
    audit(db, actor, "nns.exportera", detail)
    return package


def next_number(db: Session, year: int, *, for_update: bool = False) -> int:
    """The number the year's next signed package takes: one more than the last one's.
    ``for_update``: the setting's row stays locked to this transaction (PostgreSQL), so
    two exports at once cannot both take the same number."""
    row = db.get(Setting, PACKAGE_NUMBER.format(year=year), with_for_update=for_update)
    last = whole_number(row.value) if row is not None else None
    return max(last or 0, 0) + 1
