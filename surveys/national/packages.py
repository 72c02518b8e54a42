"""NNS's side of the count packages: register förbund, verify and import packages.

Every package is checked whole before anything is stored (all-or-nothing, also
across the files of one import): the zip and its four files, the förbund (by
organisation number) and its registered public key, the Ed25519 signature over
``datapackage.json``, the SHA-256 and size of every resource, the instrument
checksum against the national instrument, every row against the instrument
(question version valid in the year, code on the question's scale) and counts
that cannot be true (negative, over MAX_COUNT, more answers to a question than
questionnaires) and years that have not begun.
Each refusal is a Swedish sentence that starts with the file's name.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlmodel import Session, col

from indicators import Instrument
from surveys import clock
from surveys.files.reading import csv_problem, whole_number
from surveys.models import (
    InstrumentInfo,
    NationalCount,
    NationalMember,
    NationalModeCount,
    NationalPackage,
    table_of,
)
from surveys.names import (
    FORMULA_START,
    REFUSED_CATEGORIES,
    by_name,
    file_label,
    sort_key,
    visible,
)
from surveys.services import locks, publications
from surveys.services.actor import Actor, audit, require_admin
from surveys.services.nns_package import (
    ANSWER_FIELDS,
    DESCRIPTOR,
    MODE_LABELS,
    OTHER,
    PACKAGE_FILES,
    QUESTIONNAIRE_FIELDS,
    SIGNATURE,
    normal_org_number,
    not_an_org_number,
    sha256,
    zip_files,
)
from surveys.services.signing import (
    parse_public_key,
    same_public_key,
    small_order_key,
    verify,
)

MAX_PACKAGE = 20 * 1024 * 1024  # a förbund's year is a few hundred kB at most
MAX_DESCRIPTOR = 256 * 1024  # datapackage.json is a few kB: names, sizes, hashes, schemas
SUBGROUPS = ("kvinna", "man", OTHER)
# No count in a package can be larger: all of Sweden answers a few thousand questionnaires
# a year, and the count columns are 32-bit integers in PostgreSQL.
MAX_COUNT = 1_000_000


class PackageRefused(Exception):
    """One or more packages failed a check; ``errors`` are Swedish, nothing was stored."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


class MemberError(Exception):
    """Registering a förbund was refused (Swedish message; nothing changed)."""


@dataclass
class Checked:
    """A package that passed every check, ready to store."""

    filename: str
    member: NationalMember
    year: int
    digest: str
    instrument_checksum: str
    software_version: str
    number: int  # the package's signed number in its year (0: made before numbering)
    replaces: NationalPackage | None  # the förbund's package of the year NNS holds now
    answers: list[dict] = field(default_factory=list)
    modes: list[dict] = field(default_factory=list)

    @property
    def questionnaires(self) -> int:
        return sum(m["count"] for m in self.modes)


# --- the register of förbund ------------------------------------------------------


def register_member(
    db: Session,
    actor: Actor,
    *,
    name: str,
    org_number: str,
    public_key: str,
    comparison_group: str = "",
) -> NationalMember:
    """NNS's administrator registers a förbund, or updates the one with that organisation
    number (``riket.förbund.registrera``/``ändra``); MemberError or Refused, nothing written."""
    require_admin(actor)
    name = name.strip()
    org = normal_org_number(org_number)
    group = comparison_group.strip()
    if not name or len(name) > 200:
        raise MemberError("Ange förbundets namn (högst 200 tecken).")
    if org is None:
        raise MemberError(not_an_org_number(org_number))
    key = parse_public_key(public_key)
    if key is None and small_order_key(public_key):
        raise MemberError(
            "Det där är ingen riktig publik nyckel (en punkt av låg ordning, t.ex. bara "
            "nollor): vem som helst kan göra signaturer som den godtar. Klistra in raden som "
            "'surveys keys create' skrev ut hos förbundet."
        )
    if key is None:
        raise MemberError(
            "Den publika nyckeln går inte att läsa. Klistra in raden som "
            "'surveys keys create' skrev ut hos förbundet (44 tecken base64)."
        )
    if len(group) > 100:
        raise MemberError("Jämförelsegruppens namn får vara högst 100 tecken.")
    for what, text in (("Förbundets namn", name), ("Jämförelsegruppens namn", group)):
        _check_shown_text(what, text)
    member = db.execute(
        select(NationalMember).where(col(NationalMember.org_number) == org)
    ).scalar_one_or_none()
    same_name = db.execute(
        select(NationalMember).where(col(NationalMember.name) == name)
    ).scalar_one_or_none()
    if same_name is not None and same_name is not member:
        raise MemberError(f"Det finns redan ett förbund som heter {name}.")
    for other in members(db):  # a shared key would let one förbund send the other's packages
        if other is not member and same_public_key(other.public_key, key):
            raise MemberError(
                f"Nyckeln är redan registrerad för {other.name}. Varje förbund har en egen "
                "nyckel: 'surveys keys create' hos förbundet skriver ut den."
            )
    action = "riket.förbund.ändra" if member else "riket.förbund.registrera"
    if member is None:
        member = NationalMember(
            name=name, org_number=org, public_key="", registered_at=clock.utcnow()
        )
    if member.name and member.name != name:  # its rows hidden in shown versions keep hidden
        publications.rename_in_versions(db, member.name, name)
    member.name = name
    member.public_key = public_key.strip()
    member.comparison_group = group
    db.add(member)
    db.flush()
    audit(db, actor, action, f"{name} ({org}){', jämförelsegrupp ' + group if group else ''}")
    return member


def _check_shown_text(what: str, text: str) -> None:
    """Names shown in NNS's report and written to the Riket file: no control or invisible
    characters (a bidirectional override makes one name look like another), no formula."""
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in text):
        raise MemberError(
            f"{what} innehåller osynliga tecken eller styrtecken (till exempel tecken som "
            "vänder skrivriktningen). Skriv det med vanliga bokstäver, siffror och skiljetecken."
        )
    if text.startswith(FORMULA_START):
        raise MemberError(
            f"{what} får inte börja med =, +, - eller @ (ett kalkylprogram skulle läsa det "
            "som en formel)."
        )


def members(db: Session) -> list[NationalMember]:
    """The förbund of the network, in Swedish alphabetical order."""
    return by_name(db.execute(select(NationalMember)).scalars(), lambda m: m.name)


# --- checking a package -------------------------------------------------------------


def check_package(db: Session, instrument: Instrument, *, data: bytes, filename: str) -> Checked:
    """Every check of one package; raises PackageRefused naming the file and the reason."""
    errors: list[str] = []

    def refuse(reason: str) -> PackageRefused:
        return PackageRefused([f"{filename}: {reason}"])

    files = _open_zip(data, refuse)
    descriptor_bytes = files[DESCRIPTOR]
    meta, year, org, resources = _read_descriptor(descriptor_bytes, refuse)
    member = _member(db, org)
    if member is None:
        raise refuse(
            f"förbundet med organisationsnummer {org or '(tomt)'} ({meta.get('forbund', '')}) "
            "är inte registrerat hos NNS. Registrera det med dess publika nyckel först."
        )
    if SIGNATURE not in files:
        raise refuse(f"paketet är inte signerat ({SIGNATURE} saknas).")
    if not verify(member.public_key, descriptor_bytes, files[SIGNATURE]):
        raise refuse(
            f"signaturen stämmer inte med den nyckel som är registrerad för {member.name}: "
            "paketet är ändrat efter signeringen, eller signerat med en annan nyckel."
        )
    _check_resources(files, resources, refuse)
    # The year first: the zip is rebuilt with it, and a zip cannot date a file after 2107.
    if year > clock.today().year:
        raise refuse(f"året {year} har inte börjat ännu, så det kan inte finnas svar från det.")
    if not _year_in_instrument(instrument, year):
        raise refuse(f"året {year} ligger utanför instrumentet (ingen fråga ställdes det året).")
    if zip_files(files, year=year) != data:
        raise refuse(
            "zip-filen är ändrad: den är inte byte för byte den som förbundets program skrev "
            "(ändra aldrig i paketet, exportera ett nytt)."
        )
    info = db.get(InstrumentInfo, "current")
    checksum = str(meta.get("instrument_checksum", ""))
    if info is None or checksum != info.checksum:
        raise refuse(
            f"instrumentets kontrollsumma {checksum[:12] or '(tom)'}… är inte NNS nationella "
            "instrument. Förbundet behöver läsa in den gällande instrumentfilen."
        )
    digest = sha256(descriptor_bytes)
    existing = db.execute(
        select(NationalPackage).where(col(NationalPackage.digest) == digest)
    ).scalar_one_or_none()
    if existing is not None:
        raise refuse(
            f"samma paket ({member.name} {year}) är redan importerat "
            f"({existing.filename or 'utan filnamn'})."
        )
    number = _package_number(meta, refuse)
    replaces = _stored(db, member.id, year)
    _check_not_older(member, year, number, replaces, refuse)
    modes = _read_modes(files[resources["questionnaires"]["path"]], instrument, year, errors)
    answers = _read_answers(files[resources["answers"]["path"]], instrument, year, errors)
    if not errors:
        _check_totals(answers, modes, errors)
    if errors:
        shown = errors[:20] + ([f"… och {len(errors) - 20} fel till."] if len(errors) > 20 else [])
        raise PackageRefused([f"{filename}: {e}" for e in shown])
    return Checked(
        filename=filename,
        member=member,
        year=year,
        digest=digest,
        instrument_checksum=checksum,
        software_version=_software_version(meta),
        number=number,
        replaces=replaces,
        answers=answers,
        modes=modes,
    )


def _software_version(meta: dict) -> str:
    """The sender's software version, as information only: what a page can show and
    PostgreSQL can store (a NUL made the import fail there), at most 40 characters."""
    return visible(str(meta.get("software_version", "")))[:40]


def _open_zip(data: bytes, refuse) -> dict[str, bytes]:
    """The package's files by name; refuses anything that is not a zip with a descriptor."""
    if len(data) > MAX_PACKAGE:
        raise refuse("filen är för stor för ett paket (högst 20 MB).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [i for i in archive.infolist() if not i.is_dir()]
        _check_entries(entries, refuse)  # before anything is decompressed
        files = {i.filename: archive.read(i) for i in entries}
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        NotImplementedError,
        ValueError,
        RuntimeError,  # an entry flagged as encrypted
        KeyError,
        zlib.error,
    ):
        raise refuse(
            "filen är ingen läsbar zip-fil (ett paket från 'surveys export nns')."
        ) from None
    if DESCRIPTOR not in files:
        raise refuse(f"{DESCRIPTOR} saknas i paketet.")
    return files


def _read_descriptor(descriptor_bytes: bytes, refuse) -> tuple[dict, int, str, dict]:
    """The descriptor's NNS part, year, organisation number and resources by name."""
    try:
        if len(descriptor_bytes) > MAX_DESCRIPTOR:
            raise ValueError("far larger than a descriptor")
        descriptor = json.loads(descriptor_bytes.decode("utf-8"))
        meta = descriptor["nns"]
        year = meta["year"]
        if isinstance(year, bool) or not isinstance(year, int):
            raise TypeError("the year is not a whole number")
        org = str(meta["organisation_number"])
        resources = {r["name"]: r for r in descriptor["resources"]}
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError):
        raise refuse(f"{DESCRIPTOR} går inte att läsa som en NNS-paketbeskrivning.") from None
    return meta, year, org, resources


MAX_PACKAGE_NUMBER = 1_000_000  # a förbund exports a year's package a few times at most


def _package_number(meta: dict, refuse) -> int:
    """The package's signed number in its year; 0 for a package made before numbering."""
    number = meta.get("package_number", 0)
    if isinstance(number, bool) or not isinstance(number, int):
        number = -1
    if not 0 <= number <= MAX_PACKAGE_NUMBER:
        raise refuse(
            f"paketnumret i {DESCRIPTOR} är inte ett heltal mellan 1 och {MAX_PACKAGE_NUMBER}."
        )
    return number


def _check_not_older(
    member: NationalMember, year: int, number: int, stored: NationalPackage | None, refuse
) -> None:
    """Refuse a package whose number is not above the förbund's year already imported
    (``stored``): an old file (the first of two, sent again or picked by mistake) never
    replaces the correction. Two packages both made before numbering (0) replace as
    before."""
    if stored is None or number == stored.package_number == 0:
        return
    if number <= stored.package_number:
        kept = f"nummer {stored.package_number}" if stored.package_number else "utan nummer"
        raise refuse(
            f"paketet har nummer {number or '(inget)'}, men {member.name} {year} har redan "
            f"paket {kept} ({stored.filename or 'utan filnamn'}): ett äldre paket ersätter "
            "aldrig ett nyare. Har något ändrats, be förbundet exportera ett nytt paket."
        )


def _stored(db: Session, member_id: str, year: int) -> NationalPackage | None:
    """The förbund's package of the year that NNS holds now, if any."""
    return db.execute(
        select(NationalPackage).where(
            col(NationalPackage.member_id) == member_id, col(NationalPackage.year) == year
        )
    ).scalar_one_or_none()


def _check_entries(entries: list[zipfile.ZipInfo], refuse) -> None:
    """Only the files a package holds, each once and stored uncompressed, as
    ``zip_files`` writes them: a compressed entry could unpack to gigabytes from a file
    that is small enough to send (a zip bomb), before the signature is even read."""
    names = [entry.filename for entry in entries]
    if len(names) != len(set(names)) or not set(names) <= PACKAGE_FILES:
        raise refuse(
            "paketet innehåller andra filer än ett paket från 'surveys export nns' "
            f"({', '.join(sorted(PACKAGE_FILES))})."
        )
    unpacked = sum(entry.file_size for entry in entries)
    if any(e.compress_type != zipfile.ZIP_STORED for e in entries) or unpacked > MAX_PACKAGE:
        raise refuse("filerna i paketet är komprimerade; ett paket från NNS-exporten är det inte.")


def _check_resources(files: dict[str, bytes], resources: dict, refuse) -> None:
    """Each resource is in the zip with the size and SHA-256 the signed descriptor gives."""
    for name in ("answers", "questionnaires"):
        resource = resources.get(name)
        if not isinstance(resource, dict):
            raise refuse(f"resursen {name} saknas i paketet.")
        path = resource.get("path")
        if not isinstance(path, str) or path not in files:  # a list is no file name either
            raise refuse(f"resursen {name} saknas i paketet.")
        content = files[path]
        if resource.get("hash") != f"sha256:{sha256(content)}" or resource.get("bytes") != len(
            content
        ):
            raise refuse(f"kontrollsumman för {path} stämmer inte (filen är ändrad).")


def _member(db: Session, org: str) -> NationalMember | None:
    normal = normal_org_number(org)
    if normal is None:
        return None
    return db.execute(
        select(NationalMember).where(col(NationalMember.org_number) == normal)
    ).scalar_one_or_none()


def _year_in_instrument(instrument: Instrument, year: int) -> bool:
    return any(q.asked_in(year) for qn in instrument.questionnaires for q in qn.questions_in(year))


def _csv_rows(content: bytes, fields: list[str], name: str, errors: list[str]) -> list[dict]:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        errors.append(f"{name} är inte UTF-8-kodad.")
        return []
    if "\x00" in text:
        errors.append(f"{name} innehåller ogiltiga tecken (NUL).")
        return []
    # strict: a file cut off inside a quoted field is an error, not a made-up last row
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        errors.append(f"{name}: {csv_problem(exc, reader.reader.line_num)}")
        return []
    if reader.fieldnames != fields:
        errors.append(f"{name} ska ha kolumnerna {','.join(fields)}.")
        return []
    extra = next((number for number, row in enumerate(rows, start=2) if None in row), None)
    if extra is not None:  # DictReader keeps values past the header under the key None
        errors.append(f"{name}, rad {extra}: raden har fler värden än rubrikraden.")
        return []
    return rows


def _int(raw: str | None) -> int | None:
    """A whole number written with the digits 0–9 (``reading.whole_number``)."""
    return whole_number(str(raw).strip())


def _plausible(count: int) -> bool:
    """A count a förbund's year can have: from 0 to MAX_COUNT."""
    return 0 <= count <= MAX_COUNT


def _read_modes(content: bytes, instrument: Instrument, year: int, errors: list[str]) -> list[dict]:
    out, seen = [], set()
    for line, row in enumerate(
        _csv_rows(content, QUESTIONNAIRE_FIELDS, "questionnaires.csv", errors), 2
    ):
        where = f"questionnaires.csv rad {line}"
        count = _int(row["count"])
        if _int(row["year"]) != year:
            errors.append(f"{where}: året {row['year']!r} är inte paketets år {year}.")
        elif row["questionnaire"] not in instrument.questionnaire_keys:
            errors.append(f"{where}: okänd enkät {row['questionnaire']!r}.")
        elif row["mode"] not in MODE_LABELS:
            errors.append(f"{where}: okänt insamlingssätt {row['mode']!r}.")
        elif count is None or not _plausible(count):
            errors.append(
                f"{where}: antalet {row['count']!r} kan inte stämma (negativt, inget tal "
                "eller över en miljon)."
            )
        elif (row["questionnaire"], row["mode"]) in seen:
            errors.append(f"{where}: enkäten och insamlingssättet finns redan i filen.")
        else:
            seen.add((row["questionnaire"], row["mode"]))
            out.append({"questionnaire": row["questionnaire"], "mode": row["mode"], "count": count})
    return out


def _read_answers(
    content: bytes, instrument: Instrument, year: int, errors: list[str]
) -> list[dict]:
    versions = {v.id: (q, v) for q in instrument.all_questions() for v in q.versions}
    out, seen = [], set()
    for line, row in enumerate(_csv_rows(content, ANSWER_FIELDS, "answers.csv", errors), 2):
        where = f"answers.csv rad {line}"
        found = versions.get(row["version_id"])
        count = _int(row["count"])
        code = _int(row["answer_code"])
        if _int(row["year"]) != year:
            errors.append(f"{where}: året {row['year']!r} är inte paketets år {year}.")
            continue
        if found is None:
            errors.append(
                f"{where}: frågeversionen {row['version_id']!r} finns inte i instrumentet."
            )
            continue
        question, version = found
        participant = instrument.is_participant(question.questionnaire)
        if (
            row["questionnaire"] != question.questionnaire
            or _int(row["question"]) != question.number
        ):
            errors.append(
                f"{where}: {row['version_id']} hör till {question.questionnaire} fråga "
                f"{question.number}, inte {row['questionnaire']} fråga {row['question']}."
            )
        elif not (version.valid_in(year) and question.asked_in(year)):
            errors.append(f"{where}: frågeversionen {version.id} gäller inte år {year}.")
        elif row["subgroup"] not in (SUBGROUPS if participant else ("",)):
            errors.append(
                f"{where}: undergruppen {row['subgroup']!r} är inte tillåten för enkäten."
            )
        elif code is None or code not in instrument.scales[question.scale].codes:
            errors.append(
                f"{where}: svarskoden {row['answer_code']!r} finns inte på frågans skala."
            )
        elif count is None or not _plausible(count):
            errors.append(
                f"{where}: antalet {row['count']!r} kan inte stämma (negativt, inget tal "
                "eller över en miljon)."
            )
        elif (version.id, row["subgroup"], code) in seen:
            errors.append(
                f"{where}: samma frågeversion, undergrupp och svarskod finns redan i filen."
            )
        elif count > 0:
            seen.add((version.id, row["subgroup"], code))
            out.append(
                {
                    "questionnaire": question.questionnaire,
                    "question": question.number,
                    "version_id": version.id,
                    "subgroup": row["subgroup"],
                    "code": code,
                    "count": count,
                }
            )
    return out


def _check_totals(answers: list[dict], modes: list[dict], errors: list[str]) -> None:
    """No question has more answers than its questionnaire has questionnaires."""
    forms: dict[str, int] = {}
    for m in modes:
        forms[m["questionnaire"]] = forms.get(m["questionnaire"], 0) + m["count"]
    per_question: dict[tuple[str, int], int] = {}
    for a in answers:
        key = (a["questionnaire"], a["question"])
        per_question[key] = per_question.get(key, 0) + a["count"]
    for (questionnaire, number), total in sorted(per_question.items()):
        if total > forms.get(questionnaire, 0):
            errors.append(
                f"{questionnaire} fråga {number} har {total} svar men enkäten bara "
                f"{forms.get(questionnaire, 0)} ifyllda enkäter: antalen kan inte stämma."
            )


# --- importing ------------------------------------------------------------------------


def import_packages(
    db: Session, actor: Actor, instrument: Instrument, files: list[tuple[str, bytes]]
) -> list[str]:
    """NNS's administrator imports packages (``riket.paket.importera``/``ersätt`` each):
    every file checked, then all stored (no commit); returns a Swedish line per package.

    All-or-nothing: one failing package refuses the whole import (``PackageRefused``
    with every file's reasons). A newer package of a förbund's year replaces the older.
    """
    require_admin(actor)
    # two imports at once wait for each other: the second checks against the first's
    # packages (a newer one, the same one) instead of meeting its row as a 500
    locks.in_turn(db, "package-import")
    checked: list[Checked] = []
    errors: list[str] = []
    for sent_name, data in files:
        filename = file_label(sent_name)  # the sender's text: kept only cleaned
        try:
            checked.append(check_package(db, instrument, data=data, filename=filename))
        except PackageRefused as exc:
            errors += exc.errors
    seen: dict[tuple[str, int], str] = {}
    for c in checked:
        key = (c.member.id, c.year)
        if key in seen:
            errors.append(
                f"{c.filename}: {c.member.name} {c.year} finns också i {seen[key]}; "
                "importera ett paket per förbund och år."
            )
        seen[key] = c.filename
    if errors:
        raise PackageRefused(errors)
    return [_store(db, actor, c) for c in checked]


def _store(db: Session, actor: Actor, c: Checked) -> str:
    older = c.replaces  # found by the check; one package per förbund and year per import
    if older is not None:
        drop_package(db, older)
    package = NationalPackage(
        member_id=c.member.id,
        year=c.year,
        digest=c.digest,
        filename=c.filename[:200],
        instrument_checksum=c.instrument_checksum,
        software_version=c.software_version,
        package_number=c.number,
        questionnaires=c.questionnaires,
        imported_at=clock.utcnow(),
        imported_by=actor.email,
    )
    db.add(package)
    db.flush()
    conn = db.connection()
    if c.answers:
        conn.execute(
            table_of(NationalCount).insert(), [{"package_id": package.id, **a} for a in c.answers]
        )
    if c.modes:
        conn.execute(
            table_of(NationalModeCount).insert(), [{"package_id": package.id, **m} for m in c.modes]
        )
    replaced = f"; ersätter {older.filename or 'ett äldre paket'}" if older is not None else ""
    audit(
        db,
        actor,
        "riket.paket.ersätt" if older is not None else "riket.paket.importera",
        f"{c.member.name} {c.year}: {c.filename}, {c.questionnaires} enkäter{replaced}",
    )
    verb = "ersatte ett äldre paket" if older is not None else "importerat"
    return f"{c.filename}: {c.member.name} {c.year}, {c.questionnaires} enkäter – {verb}."


def drop_package(db: Session, package: NationalPackage) -> None:
    for model in (NationalCount, NationalModeCount):
        db.execute(delete(model).where(table_of(model).c.package_id == package.id))
    db.delete(package)
    db.flush()


def packages(db: Session) -> list[tuple[NationalPackage, NationalMember]]:
    """Every package with its förbund: the latest year first, each year by förbund name."""
    rows = db.execute(
        select(NationalPackage, NationalMember).join(
            NationalMember, col(NationalMember.id) == col(NationalPackage.member_id)
        )
    ).all()
    return sorted(((p, m) for p, m in rows), key=lambda row: (-row[0].year, sort_key(row[1].name)))
