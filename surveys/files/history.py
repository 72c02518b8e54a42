"""History (old annual reports) and national figures (Riket): validated, all-or-nothing.

Every upload is an :class:`ImportBatch` (kind, rows, when, by whom) that an
administrator can list and remove; a figure re-imported later belongs to the
newer batch. Labels are taken as people type them ("Deltagare avslut", "män",
"3,5", "86%").
"""

from __future__ import annotations

from sqlmodel import Session, col, delete, func, select

from indicators.instrument import Instrument
from indicators.report import HISTORY_COLUMNS, NATIONAL_COLUMNS
from indicators.scoring import SUBGROUPS
from surveys import clock
from surveys.files.reading import (
    FileError,
    open_table,
    parse_cell_int,
    parse_share,
    questionnaire_key,
    shown,
    subgroup_value,
    text,
)
from surveys.models import HistoryFigure, ImportBatch, NationalFigure, table_of
from surveys.names import InvalidName, clean_insats_name
from surveys.services import locks

KIND_LABELS = {
    "answers": "Enkätsvar",
    "history": "Historik från tidigare årsrapporter",
    "national": "Nationella resultat (Riket)",
}
FIGURE_MODELS: dict[str, type[HistoryFigure] | type[NationalFigure]] = {
    "history": HistoryFigure,
    "national": NationalFigure,
}
SWEDISH_HEADERS = {
    "år": "year",
    "enkät": "questionnaire",
    "fråga": "question",
    "undergrupp": "subgroup",
}

PERCENT_COLUMNS = ("negative", "neutral", "positive", "clearly_positive", "response_rate")


def _check_key(instrument: Instrument, row: dict, errors: list[str], line: int) -> tuple | None:
    year = parse_cell_int(row.get("year"), low=2000, high=2100)
    if year is None:
        errors.append(f"Rad {line}, kolumn year: {shown(row.get('year'))} är inget giltigt år.")
    qn_key = questionnaire_key(instrument, row.get("questionnaire"))
    if qn_key is None:
        errors.append(
            f"Rad {line}, kolumn questionnaire: okänd enkät {shown(row.get('questionnaire'))} "
            f"(t.ex. {instrument.questionnaires[0].short_name!r})."
        )
        return None
    number = parse_cell_int(row.get("question"), low=1, high=99)
    if number is None or instrument.question(qn_key, number) is None:
        errors.append(
            f"Rad {line}, kolumn question: enkäten {qn_key} har ingen fråga "
            f"{shown(row.get('question'))}."
        )
    subgroup = subgroup_value(row.get("subgroup"))
    allowed = SUBGROUPS if instrument.is_participant(qn_key) else ("samtliga",)
    if subgroup not in allowed:
        allowed_words = ", ".join("män" if a == "man" else a for a in allowed)
        errors.append(
            f"Rad {line}, kolumn subgroup: {shown(row.get('subgroup'))} är inte tillåtet här "
            f"({allowed_words})."
        )
    if year is None or number is None or subgroup not in allowed:
        return None
    return year, qn_key, number, subgroup


def _percent(row: dict, column: str, errors: list[str], line: int, *, required: bool) -> int | None:
    raw = text(row.get(column))
    if raw == "":
        if required:
            errors.append(f"Rad {line}, kolumn {column}: värde saknas.")
        return None
    value = parse_share(row.get(column))
    if value is None:
        errors.append(
            f"Rad {line}, kolumn {column}: {shown(row.get(column))} är ingen procentsats 0–100 "
            "(t.ex. 86, 86 % eller 85,5)."
        )
    return value


def _parse(
    instrument: Instrument,
    data: bytes,
    filename: str,
    columns: list[str],
    build,
    *,
    optional: tuple[str, ...] = (),
    scope=None,
) -> list:
    table = open_table(
        data, filename=filename, required=columns, optional=optional, aliases=SWEDISH_HEADERS
    )
    errors: list[str] = []
    objects, seen = [], set()
    for line, row in table.rows():
        key = _check_key(instrument, row, errors, line)
        obj = build(row, errors, line)
        # ``scope``: what else tells rows apart (the Riket file's comparison group)
        seen_key = None if key is None else (*key, scope(row) if scope else "")
        if seen_key is not None and seen_key in seen:
            errors.append(f"Rad {line}: samma år, enkät, fråga och undergrupp finns redan i filen.")
        if key is not None:
            seen.add(seen_key)
            if obj is not None:
                objects.append((key, obj))
    if errors:
        raise FileError(errors[:50])
    if not objects:
        raise FileError(["Filen innehåller inga rader."])
    return objects


def import_history(
    db: Session, instrument: Instrument, *, data: bytes, filename: str, by: str = "kommandoraden"
) -> int:
    """Replace-or-add aggregated figures from old annual reports."""

    def build(row: dict, errors: list[str], line: int) -> dict | None:
        n = parse_cell_int(row.get("n"), low=0, high=1_000_000)
        if n is None:
            errors.append(f"Rad {line}, kolumn n: {shown(row.get('n'))} är inget antal.")
        values = {
            c: _percent(row, c, errors, line, required=c in ("positive", "response_rate"))
            for c in PERCENT_COLUMNS
        }
        if (
            values["clearly_positive"] is not None
            and values["positive"] is not None
            and values["clearly_positive"] > values["positive"]
        ):
            errors.append(f"Rad {line}: Klart positivt kan inte vara större än Positivt.")
        return None if n is None else {"n": n, **values}

    objects = _parse(instrument, data, filename, HISTORY_COLUMNS, build)
    return _replace(db, "history", objects, filename=filename, by=by)


def import_national(
    db: Session, instrument: Instrument, *, data: bytes, filename: str, by: str = "kommandoraden"
) -> int:
    """Replace-or-add Riket's positive shares.

    NNS's extended Riket file (issue 21) also has ``n`` and ``comparison_group``: the
    rows of Riket itself (empty comparison_group) and of each comparison group are kept
    with their n; the förbund's report shows Riket and its own group (setting)."""

    def build(row: dict, errors: list[str], line: int) -> dict | None:
        value = _percent(row, "positive", errors, line, required=True)
        n = None
        if text(row.get("n")):
            n = parse_cell_int(row.get("n"), low=0, high=10_000_000)
            if n is None:
                errors.append(f"Rad {line}, kolumn n: {shown(row.get('n'))} är inget antal.")
                return None
        group = _group_name(row, errors, line)
        version = text(row.get("riket_version"))
        riket_version = parse_cell_int(version, low=1, high=MAX_RIKET_VERSION) if version else None
        if version and riket_version is None:
            errors.append(
                f"Rad {line}, kolumn riket_version: {shown(row.get('riket_version'))} är inget "
                "versionsnummer "
                f"(ett heltal 1–{MAX_RIKET_VERSION})."
            )
            return None
        if value is None or group is None:
            return None
        return {
            "positive": value,
            "n": n,
            "comparison_group": group,
            "riket_version": riket_version,
        }

    objects = _parse(
        instrument,
        data,
        filename,
        NATIONAL_COLUMNS,
        build,
        optional=("n", "comparison_group", "riket_version"),
        scope=lambda row: text(row.get("comparison_group")),
    )
    versions = _riket_versions(objects, filename)
    # two Riket imports at once: the second checks its version against the first's
    locks.in_turn(db, "riket-import")
    for year, version in sorted(versions.items()):
        _check_not_older(db, year, version, filename)
    whole = [year for year, version in versions.items() if version is not None]
    if whole:  # NNS's file is the year's whole Riket: a row it no longer has goes too
        db.exec(delete(NationalFigure).where(col(NationalFigure.year).in_(whole)))
    return _replace(db, "national", objects, filename=filename, by=by)


MAX_RIKET_VERSION = 1_000_000  # NNS publishes a year a few times at most


def _riket_versions(objects: list, filename: str) -> dict[int, int | None]:
    """The file's version of each of its years (None: none given); FileError when a
    year's rows do not all carry the same one."""
    seen: dict[int, set[int | None]] = {}
    for (year, *_), values in objects:
        seen.setdefault(year, set()).add(values["riket_version"])
    mixed = {year: found for year, found in seen.items() if len(found) > 1}
    if mixed:
        year, found = min(mixed.items())
        versions = ", ".join(str(v) if v else "(tom)" for v in sorted(found, key=lambda v: v or 0))
        raise FileError(
            [
                f"{filename}: raderna för {year} har olika riket_version ({versions}). "
                "En fil från NNS har samma version på varje rad."
            ]
        )
    return {year: found.pop() for year, found in seen.items()}


def _check_not_older(db: Session, year: int, version: int | None, filename: str) -> None:
    """Refuse (FileError) a Riket file of an older version of the year than the one the
    förbund holds: an old file (sent again, picked by mistake, or replayed) never
    replaces the correction. Figures without a version (typed in) are replaced by any
    file, as before; removing the newer import under Import lets an older one in."""
    held = db.exec(
        select(NationalFigure.riket_version, NationalFigure.batch_id)
        .where(NationalFigure.year == year, col(NationalFigure.riket_version).is_not(None))
        .order_by(col(NationalFigure.riket_version).desc())
        .limit(1)
    ).first()
    if held is None or held[0] is None or (version is not None and version >= held[0]):
        return
    batch = db.get(ImportBatch, held[1]) if held[1] else None
    source = f" ({batch.filename})" if batch is not None and batch.filename else ""
    given = f"är version {version}" if version is not None else "saknar versionsnummer"
    raise FileError(  # two lines: a flash message holds 200 characters
        [
            f"{filename}: rikets fil för {year} {given}, men förbundet har redan version "
            f"{held[0]}{source}.",
            "En äldre fil ersätter aldrig en nyare. Hämta den senaste filen från NNS, eller "
            "ta först bort den nyare importen under Import.",
        ]
    )


def _group_name(row: dict, errors: list[str], line: int) -> str | None:
    """The comparison group's name ("" = Riket), refused like a name NNS would refuse."""
    group = text(row.get("comparison_group"))
    if not group:
        return ""
    try:
        clean_insats_name(group)
    except InvalidName:
        errors.append(
            f"Rad {line}, kolumn comparison_group: {group!r} är inget giltigt namn på en "
            "jämförelsegrupp (styrtecken eller början som en formel)."
        )
        return None
    if len(group) > 100:
        errors.append(f"Rad {line}, kolumn comparison_group: namnet är längre än 100 tecken.")
        return None
    return group


def comparison_groups(db: Session) -> list[str]:
    """The comparison groups whose figures have been imported, in name order."""
    rows = db.exec(
        select(NationalFigure.comparison_group)
        .where(col(NationalFigure.comparison_group) != "")
        .distinct()
    ).all()
    return sorted(rows)


def set_comparison_group(db: Session, group: str, *, filename: str) -> None:
    """Choose the förbund's comparison group (setting; "" = none): one of the imported
    groups, else FileError naming the ones there are (the caller rolls back)."""
    from surveys.services import settings  # noqa: PLC0415 - settings imports files.reading

    group = group.strip()
    known = comparison_groups(db)
    if group and group not in known:
        names = ", ".join(known) or "inga"
        raise FileError(
            [f"{filename}: jämförelsegruppen {group!r} finns inte i rikets filer (finns: {names})."]
        )
    settings.put(db, settings.COMPARISON_GROUP, group)


def _replace(db: Session, kind: str, objects: list, *, filename: str, by: str) -> int:
    """Replace the figures the file names (no commit: the caller commits them with its
    audit entry, in one transaction)."""
    model = FIGURE_MODELS[kind]
    batch = record_batch(db, kind, rows=len(objects), filename=filename, by=by)
    columns = table_of(model).c
    for (year, qn_key, number, subgroup), values in objects:
        same = [
            columns.year == year,
            columns.questionnaire_key == qn_key,
            columns.question == number,
            columns.subgroup == subgroup,
        ]
        if "comparison_group" in values:  # Riket and each comparison group apart
            same.append(columns.comparison_group == values["comparison_group"])
        db.exec(delete(model).where(*same))
        db.add(
            model(
                year=year,
                questionnaire_key=qn_key,
                question=number,
                subgroup=subgroup,
                batch_id=batch.id,
                **values,
            )
        )
    db.flush()
    return len(objects)


def history_rows(db: Session) -> list[dict]:
    return [
        {
            "year": h.year,
            "questionnaire": h.questionnaire_key,
            "question": h.question,
            "subgroup": h.subgroup,
            "n": h.n,
            **{c: getattr(h, c) for c in PERCENT_COLUMNS},
        }
        for h in db.exec(select(HistoryFigure)).all()
    ]


def national_rows(db: Session) -> list[dict]:
    return [
        {
            "year": f.year,
            "questionnaire": f.questionnaire_key,
            "question": f.question,
            "subgroup": f.subgroup,
            "positive": f.positive,
            "n": f.n,
            "comparison_group": f.comparison_group,
        }
        for f in db.exec(select(NationalFigure)).all()
    ]


def record_batch(db: Session, kind: str, *, rows: int, filename: str, by: str) -> ImportBatch:
    """Note an upload in the list of imports (no commit). Answers are never linked to it."""
    batch = ImportBatch(
        kind=kind,
        rows=rows,
        filename=filename[:200],
        imported_at=clock.utcnow(),
        imported_by=by[:254],
    )
    db.add(batch)
    db.flush()
    return batch


def list_batches(db: Session) -> list[dict]:
    """Every import, newest first, with the figures still coming from it."""
    remaining: dict[str, int] = {}
    for model in FIGURE_MODELS.values():
        batch_id = table_of(model).c.batch_id
        counts = db.exec(
            select(batch_id, func.count()).where(batch_id.is_not(None)).group_by(batch_id)
        ).all()
        remaining.update(dict(counts))
    batches = db.exec(select(ImportBatch).order_by(col(ImportBatch.imported_at).desc())).all()
    return [
        {
            "id": b.id,
            "kind": b.kind,
            "label": KIND_LABELS.get(b.kind, b.kind),
            "rows": b.rows,
            "remaining": remaining.get(b.id, 0) if b.kind in FIGURE_MODELS else None,
            "filename": b.filename,
            "when": clock.local(b.imported_at),
            "by": b.imported_by,
            "removable": b.kind in FIGURE_MODELS,
        }
        for b in batches
    ]


def remove_batch(db: Session, batch_id: str) -> ImportBatch | None:
    """Delete the history or Riket figures still belonging to an upload (no commit).

    Returns the batch, or None when it is unknown or holds answers (answers are
    never linked to a batch, so they cannot be removed this way).
    """
    batch = db.get(ImportBatch, batch_id)
    if batch is None or batch.kind not in FIGURE_MODELS:
        return None
    model = FIGURE_MODELS[batch.kind]
    db.exec(delete(model).where(table_of(model).c.batch_id == batch.id))
    db.delete(batch)
    return batch
