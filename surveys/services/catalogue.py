"""The instrument: load the catalogue file into the database and read it back."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect
from sqlmodel import Session, col, select

from indicators.instrument import (
    CatalogueError,
    Instrument,
    Question,
    Questionnaire,
    QuestionVersion,
    Scale,
    ScaleOption,
    chronological,
)
from surveys import clock, models
from surveys.services.actor import Actor, audit, require_admin

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "instrument" / "nns.yaml"


MAX_CATALOGUE_BYTES = 1024 * 1024  # the shipped catalogue is 15 kB


def _read_catalogue(path: Path) -> bytes:
    """The catalogue file's bytes: a regular file of at most MAX_CATALOGUE_BYTES (a
    device such as /dev/zero, or a pipe, would be read for ever)."""
    if not path.is_file():
        raise CatalogueError([f"{path.name}: är ingen vanlig fil. Ange katalogfilen (YAML)."])
    with path.open("rb") as handle:
        content = handle.read(MAX_CATALOGUE_BYTES + 1)
    if len(content) > MAX_CATALOGUE_BYTES:
        raise CatalogueError(
            [
                f"{path.name}: filen är för stor för en katalogfil (högst "
                f"{MAX_CATALOGUE_BYTES // 1024} kB). Ingenting har ändrats."
            ]
        )
    return content


def load_instrument_file(
    db: Session, actor: Actor, *, path: Path | str = DEFAULT_FILE
) -> dict[str, int]:
    """The operator loads (or re-loads after an edit) the catalogue file; idempotent.
    Audited as ``instrument.läs_in`` (the file, its version and the counts).

    Rows are upserted by their stable keys (a version by its explicit ``id``, never
    by its position), so answers keep pointing at the same question versions.
    Nothing is deleted: a question removed from the file stays in the database for
    the answers that reference it. Raises CatalogueError, changing nothing, when the
    file is invalid or would change a version that stored answers reference.
    """
    require_admin(actor)
    content = _read_catalogue(Path(path))
    instrument = Instrument.parse(content, source=Path(path).name)
    refuse_changes_to_answered_versions(db, instrument)
    checksum = hashlib.sha256(content).hexdigest()
    changed = 0
    for position, qn in enumerate(instrument.questionnaires):
        changed += _upsert(
            db,
            models.Questionnaire,
            qn.key,
            name=qn.name,
            short_name=qn.short_name,
            participant=qn.participant,
            introduced=qn.introduced,
            position=position,
        )
    for number, title in instrument.indicators.items():
        changed += _upsert(
            db,
            models.Indicator,
            number,
            title=title,
            national_measure=number not in instrument.no_national_measure,
        )
    db.flush()
    for scale in instrument.scales.values():
        for position, option in enumerate(scale.options):
            changed += _upsert(
                db,
                models.ScaleOption,
                (scale.key, option.code),
                label=option.label,
                grp=option.group,
                clearly_positive=option.clearly_positive,
                position=position,
            )
    for question in instrument.all_questions():
        changed += _upsert(
            db,
            models.Question,
            question.key,
            questionnaire_key=question.questionnaire,
            number=question.number,
            indicator=question.indicator,
            scale=question.scale,
            gate=question.gate,
            condition_question=question.condition_question,
            condition_code=question.condition_code,
            introduced=question.introduced,
            comparable_from=question.comparable_from,
        )
    db.flush()
    for question in instrument.all_questions():
        for version in question.versions:
            changed += _upsert(
                db,
                models.QuestionVersion,
                version.id,
                question_id=question.key,
                text=version.text,
                valid_from=version.valid_from,
                valid_until=version.valid_until,
                confirmed=version.confirmed,
            )
    changed += _upsert(
        db,
        models.InstrumentInfo,
        "current",
        version=instrument.version,
        checksum=checksum,
        loaded_on=clock.today(),
    )
    db.flush()
    questions = sum(1 for _ in instrument.all_questions())
    audit(
        db,
        actor,
        "instrument.läs_in",
        f"{Path(path).name} version {instrument.version}: {questions} frågor, {changed} ändringar",
    )
    return {"questions": questions, "changed": changed}


def refuse_changes_to_answered_versions(db: Session, instrument: Instrument) -> None:
    """Raise CatalogueError when the file changes the text, scale or grouping of a version
    that stored answers reference: the answers would be shown with a wording (or counted in
    a group) they were never given with. A new version must be added instead."""
    answered = dict(
        db.exec(
            select(models.Answer.question_version_id, func.count()).group_by(
                models.Answer.question_version_id
            )
        ).all()
    )
    if not answered:
        return
    stored = {v.id: v for v in db.exec(select(models.QuestionVersion)).all() if v.id in answered}
    stored_scale = {q.id: q.scale for q in db.exec(select(models.Question)).all()}
    problems: list[str] = []
    used_scales: dict[str, int] = {}
    for question in instrument.all_questions():
        for version in question.versions:
            old = stored.get(version.id)
            if old is None:
                continue
            count = answered[version.id]
            old_scale = stored_scale[old.question_id]
            used_scales[old_scale] = used_scales.get(old_scale, 0) + count
            if old.text != version.text:
                problems.append(
                    f"{version.id} ({count} sparade svar): texten ändras från "
                    f"”{old.text}” till ”{version.text}”."
                )
            if old_scale != question.scale:
                problems.append(
                    f"{version.id} ({count} sparade svar): skalan ändras från "
                    f"{old_scale} till {question.scale}."
                )
    problems.extend(_grouping_changes(db, instrument, used_scales))
    if problems:
        raise CatalogueError(
            [
                "Instrumentfilen lästes inte in – ingenting har ändrats. Den ändrar "
                "frågeversioner som sparade svar hänvisar till:",
                *(f"  - {p}" for p in problems),
                "Svaren skulle då visas med en formulering eller gruppering som de aldrig "
                "gavs med. Låt den gamla versionen stå kvar (sätt until: på den) och lägg "
                "till en ny version med ett nytt id och from: (för en ny skala: en ny skala).",
            ]
        )


def _grouping_changes(
    db: Session, instrument: Instrument, used_scales: dict[str, int]
) -> list[str]:
    """Changes of report grouping (or removed codes) in scales that stored answers use."""
    problems = []
    for option in db.exec(select(models.ScaleOption)).all():
        if option.scale not in used_scales:
            continue
        scale = instrument.scales.get(option.scale)
        new = next((o for o in scale.options if o.code == option.code), None) if scale else None
        where = f"skalan {option.scale} ({used_scales[option.scale]} sparade svar)"
        if new is None:
            problems.append(f"{where}: svarsalternativet {option.code} tas bort.")
        elif (new.group, new.clearly_positive) != (option.grp, option.clearly_positive):
            problems.append(
                f"{where}: grupperingen av {option.code} ”{option.label}” ändras från "
                f"{option.grp}{' (klart positiv)' if option.clearly_positive else ''} till "
                f"{new.group}{' (klart positiv)' if new.clearly_positive else ''}."
            )
    return problems


def _upsert(db: Session, model: type, key: object, **values: object) -> int:
    """Insert or update one row; returns 1 when something changed."""
    row = db.get(model, key)
    if row is None:
        key_columns: list[Any] = list(inspect(model).primary_key)
        pk_names = [c.name for c in key_columns]
        keys = key if isinstance(key, tuple) else (key,)
        db.add(model(**dict(zip(pk_names, keys, strict=True)), **values))
        return 1
    changed = 0
    for name, value in values.items():
        if name == "loaded_on":
            continue
        if name == "checksum":  # bookkeeping, not a change of the instrument itself
            setattr(row, name, value)
            continue
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = 1
    return changed


class InstrumentMissing(LookupError):
    """The database has its tables but no instrument yet (``surveys instrument load``
    was not run): the console says so in one line, the web with a Swedish page."""

    def __init__(self) -> None:
        super().__init__("Instrumentet är inte inläst. Kör: surveys instrument load")


def instrument_from_db(db: Session) -> Instrument:
    """Build the pure instrument structure from the loaded catalogue."""
    info = db.get(models.InstrumentInfo, "current")
    if info is None:
        raise InstrumentMissing
    cached = _CACHE.get("instrument")
    if cached is not None and info.checksum and cached[0] == info.checksum:
        return cached[1]
    instrument = _read_instrument(db, info)
    if info.checksum:
        _CACHE["instrument"] = (info.checksum, instrument)
    return instrument


# Per-process cache of the catalogue, valid while the loaded file's checksum is the same
# (every worker compares with the database on each use, so a reload reaches all of them).
_CACHE: dict[str, tuple[str, Instrument]] = {}


def _read_instrument(db: Session, info: models.InstrumentInfo) -> Instrument:
    options = db.exec(select(models.ScaleOption).order_by(col(models.ScaleOption.position))).all()
    scales: dict[str, list[ScaleOption]] = {}
    for o in options:
        scales.setdefault(o.scale, []).append(
            ScaleOption(
                code=o.code, label=o.label, group=o.grp, clearly_positive=o.clearly_positive
            )
        )
    versions: dict[str, list[QuestionVersion]] = {}
    for v in db.exec(select(models.QuestionVersion)).all():
        versions.setdefault(v.question_id, []).append(
            QuestionVersion(
                id=v.id,
                text=v.text,
                valid_from=v.valid_from,
                valid_until=v.valid_until,
                confirmed=v.confirmed,
            )
        )
    questions: dict[str, list[Question]] = {}
    for q in db.exec(select(models.Question).order_by(col(models.Question.number))).all():
        questions.setdefault(q.questionnaire_key, []).append(
            Question(
                questionnaire=q.questionnaire_key,
                number=q.number,
                indicator=q.indicator,
                scale=q.scale,
                versions=chronological(versions.get(q.id, ())),
                gate=q.gate,
                condition_question=q.condition_question,
                condition_code=q.condition_code,
                introduced=q.introduced,
                comparable_from=q.comparable_from,
            )
        )
    indicators = db.exec(select(models.Indicator).order_by(col(models.Indicator.number))).all()
    questionnaires = db.exec(
        select(models.Questionnaire).order_by(col(models.Questionnaire.position))
    ).all()
    return Instrument(
        version=info.version,
        scales={k: Scale(key=k, name=k, options=tuple(v)) for k, v in scales.items()},
        indicators={i.number: i.title for i in indicators},
        questionnaires=tuple(
            Questionnaire(
                key=qn.key,
                name=qn.name,
                short_name=qn.short_name,
                participant=qn.participant,
                introduced=qn.introduced,
                questions=tuple(questions.get(qn.key, ())),
            )
            for qn in questionnaires
        ),
        no_national_measure=frozenset(i.number for i in indicators if not i.national_measure),
    )
