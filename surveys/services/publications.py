"""Publications: a year's results computed once, disclosure-controlled and frozen.

DESIGN.md principle 3: readers and staff see indicator results only from a
publication. Publishing counts the year's answers where they are stored (SQL
GROUP BY: counts, never answer rows, cross into Python), applies disclosure
control over every scope at once (``indicators.disclosure``) and stores the
result rows, the questionnaires per group and Riket's figures as they stood.
The administrator's preview runs the same computation without storing it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from indicators import Instrument
from indicators.disclosure import LEFT_OUT_COLUMNS, TYPED_COLUMNS, build_cells, protect
from indicators.versions import Shown, hidden_keys, hold_back
from surveys import clock
from surveys.db import one_writer, own_transaction
from surveys.models import (
    Answer,
    InstrumentInfo,
    Intervention,
    NationalFigure,
    PaperTypist,
    PendingResponse,
    Publication,
    PublicationGroup,
    PublicationHistory,
    PublicationNational,
    PublicationRow,
    Question,
    QuestionVersion,
    Response,
    Round,
    RoundState,
    ScaleOption,
    Setting,
    ShownVersion,
    table_of,
)
from surveys.services import job_status, locks, settings
from surveys.services.actor import Actor, audit, require_admin
from surveys.services.submissions import PendingKeyError, check_release, release_pending

FORBUND = ""  # the scope of the whole förbund
POOLED = 0  # ``question`` of a pooled row in publication_row
PROTECT_OTHER_KEY = "protect_other"
COUNT_COLUMNS = ["n", "answered", "negative_n", "neutral_n", "positive_n", "clearly_positive_n"]
FIGURE_COLUMNS = [
    *COUNT_COLUMNS,
    "response_rate",
    "negative",
    "neutral",
    "positive",
    "clearly_positive",
]


def hidden_count(rows: pd.DataFrame) -> int:
    """How many rows are suppressed (primary or complementary)."""
    return int((rows["suppressed"].fillna("").astype(str) != "").sum())


class PublishError(Exception):
    """Publishing was refused; the message is Swedish and nothing was changed."""


@dataclass
class Computed:
    """A year's disclosure-controlled results, ready to store or to preview."""

    year: int
    rows: pd.DataFrame  # scope + RESULT_COLUMNS + suppression, published rows only
    groups: pd.DataFrame  # scope, questionnaire, count
    min_cell: int
    protect_other: bool
    waiting: int = 0  # questionnaires held back: too few new ones since a shown version
    counts: Shown | None = None  # what it was made from (kept as a shown version)
    based_on: int = 0  # the shown versions of the year it was checked against
    waiting_groups: pd.DataFrame = field(default_factory=pd.DataFrame)  # per atom


# --- settings -------------------------------------------------------------


def protect_other(db: Session) -> bool:
    """Whether övriga (annat or no gender) is protected as a hidden part (default: yes)."""
    row = db.get(Setting, PROTECT_OTHER_KEY)
    return row is None or row.value != "0"


class SettingUnchanged(Exception):
    """The övriga setting was left as it was (a publication runs, or it already had the
    value); the message is Swedish and nothing was written."""


PROTECT_OTHER_BUSY = (
    "En publicering pågår. Inställningen är inte ändrad; vänta tills publiceringen "
    "är klar och försök igen."
)
PROTECT_OTHER_SAME = "Inställningen är oförändrad."


def set_protect_other(db: Session, actor: Actor, value: bool) -> None:
    """Change the förbund's setting (the administrator only; audited; no commit).

    Refused (``SettingUnchanged``) while a year is being published (a lock held, or a
    publishing job under way: its publication would mix the settings), and when the
    setting already has the value (nothing to audit)."""
    require_admin(actor)
    if job_status.publishing(db):
        raise SettingUnchanged(PROTECT_OTHER_BUSY)
    if value == protect_other(db):
        raise SettingUnchanged(PROTECT_OTHER_SAME)
    row = db.get(Setting, PROTECT_OTHER_KEY) or Setting(key=PROTECT_OTHER_KEY, value="1")
    row.value = "1" if value else "0"
    db.add(row)
    audit(db, actor, "inställning.skydda_övriga", "på" if value else "av")


# --- counting where the data lives ----------------------------------------


def count_frames(db: Session, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The year's answers counted by the database: code counts and pooled sizes.

    The big GROUP BYs run on the stored ids only (answer joined to its response; the
    pooled sizes also to the question and its scale, to filter), grouped on the raw
    columns (NULL is its own group on every database); question numbers and insats
    names come from the small catalogue tables afterwards, in pandas, and only then
    do the counts get the empty values ``indicators`` expects.

    Each questionnaire is counted by its own statements (the groups are disjoint, so
    the parts simply add up): no single statement reads the whole year, which on
    SQLite keeps every WAL checkpoint of the participants' submissions from waiting
    long for it.
    """
    keys = db.execute(
        select(col(Response.questionnaire_key)).where(col(Response.year) == year).distinct()
    ).scalars()
    parts = [_count_questionnaire(db, year, key) for key in sorted(keys)]
    if not parts:
        return _count_questionnaire(db, year, None)
    return (
        pd.concat([p[0] for p in parts], ignore_index=True),
        pd.concat([p[1] for p in parts], ignore_index=True),
    )


def _count_questionnaire(
    db: Session, year: int, questionnaire: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``count_frames`` for one questionnaire of the year (None: an empty result)."""
    answers = (
        select()
        .select_from(Answer)
        .join(Response, col(Response.id) == col(Answer.response_id))
        .where(col(Response.year) == year, col(Response.questionnaire_key) == questionnaire)
    )
    by_ids = (
        col(Response.year),
        col(Response.questionnaire_key),
        col(Answer.question_version_id),
        col(Response.intervention_id),
        col(Response.gender),
        col(Answer.code),
    )
    code_counts = pd.DataFrame(
        db.execute(answers.add_columns(*by_ids, func.count()).group_by(*by_ids)).all(),
        columns=["year", "questionnaire", "version", "intervention", "gender", "code", "count"],
    )
    numbers = dict(
        db.execute(
            select(col(QuestionVersion.id), col(Question.number)).join(
                Question, col(Question.id) == col(QuestionVersion.question_id)
            )
        ).all()
    )
    code_counts["question"] = code_counts["version"].map(numbers).astype("int64")
    code_counts["code"] = code_counts["code"].fillna(-1).astype("int64")
    pooled_ids = (
        col(Response.year),
        col(Question.indicator),
        col(Response.questionnaire_key),
        col(Response.intervention_id),
        col(Response.gender),
    )
    pooled = (
        answers.join(QuestionVersion, col(QuestionVersion.id) == col(Answer.question_version_id))
        .join(Question, col(Question.id) == col(QuestionVersion.question_id))
        .join(
            ScaleOption,
            and_(
                col(ScaleOption.scale) == col(Question.scale),
                col(ScaleOption.code) == col(Answer.code),
            ),
        )
        .where(col(Question.gate).is_(False), col(ScaleOption.grp).is_not(None))
        .add_columns(*pooled_ids, func.count(func.distinct(col(Response.id))))
        .group_by(*pooled_ids)
    )
    pooled_sizes = pd.DataFrame(
        db.execute(pooled).all(),
        columns=["year", "indicator", "questionnaire", "intervention", "gender", "respondents"],
    )
    names = dict(db.execute(select(col(Intervention.id), col(Intervention.name))).all())
    for frame in (code_counts, pooled_sizes):
        frame["intervention"] = frame["intervention"].map(names).fillna("").astype(str)
        frame["gender"] = frame["gender"].fillna("").astype(str)
    # one insats per name and one number per question: sum what the ids kept apart, sorted
    # by these keys (the database's groups come in any order; PostgreSQL's follow hashes of
    # the random ids). Disclosure control sorts its cells itself (protect_blocks): this
    # only gives the frames one order on both databases
    keys = ["year", "questionnaire", "question", "intervention", "gender", "code"]
    code_counts = code_counts.groupby(keys, as_index=False, sort=True)["count"].sum()
    pooled_keys = ["year", "indicator", "questionnaire", "intervention", "gender"]
    pooled_sizes = pooled_sizes.groupby(pooled_keys, as_index=False, sort=True)["respondents"].sum()
    return code_counts[[*keys, "count"]], pooled_sizes[[*pooled_keys, "respondents"]]


def typed_counts(db: Session, year: int) -> pd.DataFrame:
    """Paper questionnaires per round group and typist (``indicators.disclosure.TYPED_COLUMNS``)."""
    query = (
        select(
            col(Round.year),
            col(Round.questionnaire_key),
            col(Intervention.name),
            col(PaperTypist.gender),
            col(PaperTypist.typed_by),
            func.sum(col(PaperTypist.count)),
        )
        .join(Round, col(Round.id) == col(PaperTypist.round_id))
        .outerjoin(Intervention, col(Intervention.id) == col(Round.intervention_id))
        .where(col(Round.year) == year)
        .group_by(
            col(Round.year),
            col(Round.questionnaire_key),
            col(Intervention.name),
            col(PaperTypist.gender),
            col(PaperTypist.typed_by),
        )
    )
    frame = pd.DataFrame(db.execute(query).all(), columns=TYPED_COLUMNS)
    frame["intervention"] = frame["intervention"].fillna("").astype(str)
    frame["gender"] = frame["gender"].fillna("").astype(str)
    return frame


def record_typed(db: Session, round_: Round, *, gender: str | None, typed_by: str) -> None:
    """Count one paper questionnaire typed in by ``typed_by`` (apart from its answers)."""
    key = {"round_id": round_.id, "gender": gender or "", "typed_by": typed_by}
    row = db.get(PaperTypist, key) or PaperTypist(**key, count=0)
    row.count += 1
    db.add(row)
    db.flush()


def group_counts(db: Session, year: int) -> pd.DataFrame:
    """Questionnaires per scope and questionnaire for the year (the förbund and each insats)."""
    query = (
        select(col(Response.questionnaire_key), col(Intervention.name), func.count())
        .outerjoin(Intervention, col(Intervention.id) == col(Response.intervention_id))
        .where(col(Response.year) == year)
        .group_by(col(Response.questionnaire_key), col(Intervention.name))
    )
    per_insats = pd.DataFrame(db.execute(query).all(), columns=["questionnaire", "scope", "count"])
    per_insats["scope"] = per_insats["scope"].fillna("").astype(str)
    whole = per_insats.groupby("questionnaire", as_index=False)["count"].sum()
    whole["scope"] = FORBUND
    named = per_insats[per_insats["scope"] != ""]
    return pd.concat([whole, named], ignore_index=True)[["scope", "questionnaire", "count"]]


def compute(
    db: Session,
    instrument: Instrument,
    *,
    year: int,
    min_cell: int,
    previous: Publication | None = None,
) -> Computed:
    """Count, hold back what changed too little since a shown version (``indicators.versions``),
    build the cells of every scope and apply disclosure control (stores nothing)."""
    typed = typed_counts(db, year)
    shown = shown_versions(db, year)
    held = hold_back(Shown(*count_frames(db, year), typed), shown, instrument, min_cell=min_cell)
    other = protect_other(db)
    cells = build_cells(held.code_counts, held.pooled_sizes, instrument)
    before = previous_sizes(db, previous) if previous is not None else None
    rows = protect(
        cells,
        instrument,
        min_cell=min_cell,
        protect_other=other,
        previous=before,
        typed=held.typed,  # the paper forms behind the figures shown
        hidden_before=held.hidden_before,  # hidden in a shown version: stays hidden
    )
    rows = with_sizes(rows, cells)
    return Computed(
        year=year,
        rows=rows,
        groups=_shown_groups(group_counts(db, year), held.waiting),
        min_cell=min_cell,
        protect_other=other,
        waiting=held.total_waiting,
        counts=Shown(held.code_counts, held.pooled_sizes, held.typed, hidden_keys(rows)),
        based_on=len(shown),
        waiting_groups=held.waiting,
    )


def _shown_groups(groups: pd.DataFrame, waiting: pd.DataFrame) -> pd.DataFrame:
    """Questionnaires per scope as shown: those that wait are not counted yet."""
    if waiting.empty or groups.empty:
        return groups
    per_scope = waiting.groupby(["questionnaire", "scope"])["waiting"].sum()
    whole = waiting.groupby("questionnaire")["waiting"].sum()
    out = groups.copy()
    less = [
        int(whole.get(q, 0)) if s == FORBUND else int(per_scope.get((q, s), 0))
        for s, q in zip(out["scope"], out["questionnaire"], strict=True)
    ]
    out["count"] = (out["count"] - pd.Series(less, index=out.index)).clip(lower=0)
    return out


# --- versions that were shown (DESIGN.md "Versions are tables too") ----------


class VersionRace(Exception):
    """Another version of the year was shown while this one was computed."""


def shown_versions(db: Session, year: int) -> list[Shown]:
    """Every version of the year that someone saw, oldest first."""
    stored = db.execute(
        select(col(ShownVersion.counts))
        .where(col(ShownVersion.year) == year)
        .order_by(col(ShownVersion.seq))
    ).scalars()
    return [_decode(bytes(body)) for body in stored]


def record_shown(
    db: Session, computed: Computed, *, kind: str, publication_id: str | None = None
) -> None:
    """Keep a version as shown (flushes). A preview identical to the newest shown version
    is not kept again. Raises ``VersionRace`` when another version was shown meanwhile
    (the unique (year, seq) stops two versions checked against the same past)."""
    if computed.counts is None:
        return
    body = _encode(computed.counts)
    newest = (
        db.execute(
            select(ShownVersion)
            .where(col(ShownVersion.year) == computed.year)
            .order_by(col(ShownVersion.seq).desc())
        )
        .scalars()
        .first()
    )
    seq = newest.seq if newest is not None else 0
    if seq != computed.based_on:
        raise VersionRace
    if kind == "preview" and newest is not None and bytes(newest.counts) == body:
        return
    db.add(
        ShownVersion(
            year=computed.year,
            seq=seq + 1,
            kind=kind,
            publication_id=publication_id,
            waiting=computed.waiting,
            counts=body,
        )
    )
    db.flush()  # a version stored meanwhile with the same seq fails here (unique)


def rename_in_versions(db: Session, old: str, new: str) -> None:
    """An insats renamed: its name in every shown version follows (as publications do),
    so the next version compares the same groups (flushes)."""
    for version in db.execute(select(ShownVersion)).scalars():
        shown = _decode(bytes(version.counts))
        for frame, column in (
            (shown.code_counts, "intervention"),
            (shown.pooled_sizes, "intervention"),
            (shown.typed, "intervention"),
            (shown.hidden, "scope"),
        ):
            if frame is not None and column in frame:
                frame.loc[frame[column] == old, column] = new
        version.counts = _encode(shown)
        db.add(version)
    db.flush()


def _encode(shown: Shown) -> bytes:
    def records(frame: pd.DataFrame) -> list:
        ordered = (
            frame.sort_values(list(frame.columns), kind="stable") if not frame.empty else frame
        )
        return json.loads(ordered.to_json(orient="split", index=False))

    parts = {
        "code_counts": records(shown.code_counts),
        "pooled_sizes": records(shown.pooled_sizes),
        "typed": records(shown.typed),
        "hidden": records(shown.hidden if shown.hidden is not None else pd.DataFrame()),
    }
    return json.dumps(parts, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _decode(body: bytes) -> Shown:
    parts = json.loads(body.decode("utf-8"))

    def frame(name: str) -> pd.DataFrame:
        split = parts[name]
        return pd.DataFrame(split["data"], columns=split["columns"])

    return Shown(frame("code_counts"), frame("pooled_sizes"), frame("typed"), frame("hidden"))


def waiting_note(waiting: int, *, min_cell: int, year: int) -> str:
    """Plain Swedish: how many questionnaires wait, and why."""
    if waiting <= 0:
        return ""
    forms = "enkät" if waiting == 1 else "enkäter"
    return (
        f"{waiting} {forms} som kommit in sedan en tidigare visad version av {year} räknas "
        "inte in än: i sin grupp (insats och kön) har för få nya svar kommit för att "
        f"skillnaden mot det som redan visats ska kunna redovisas (minst {min_cell} behövs). "
        "Gruppen visas som förut och räknas in när fler svar har kommit in."
    )


def with_sizes(rows: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Attach each published cell's size (kept with the publication for the republication rule)."""
    if "size" in rows:
        return rows
    keys = ["year", "indicator", "questionnaire", "question", "scope", "subgroup"]
    sizes = cells[[*keys, "size"]].astype({"question": "Int64", "indicator": "int64"})
    out = rows.astype({"question": "Int64", "indicator": "int64"}).merge(sizes, on=keys, how="left")
    out["size"] = out["size"].fillna(0).astype("int64")
    return out


def previous_sizes(db: Session, publication: Publication) -> pd.DataFrame:
    """The sizes behind the previous publication's cells (for the republication rule)."""
    rows = db.execute(
        select(
            col(PublicationRow.scope),
            col(PublicationRow.indicator),
            col(PublicationRow.questionnaire),
            col(PublicationRow.question),
            col(PublicationRow.subgroup),
            col(PublicationRow.size),
        ).where(col(PublicationRow.publication_id) == publication.id)
    ).all()
    frame = pd.DataFrame(
        rows, columns=["scope", "indicator", "questionnaire", "question", "subgroup", "size"]
    )
    frame["year"] = publication.year
    frame["question"] = frame["question"].where(frame["question"] != POOLED).astype("Int64")
    return frame


# --- publishing -----------------------------------------------------------


def published_by(db: Session, job_id: str, year: int | None = None) -> Publication | None:
    """The publication a background job stored (of ``year``; else its newest), if any."""
    query = select(Publication).where(col(Publication.job_id) == job_id)
    if year is not None:
        query = query.where(col(Publication.year) == year)
    return db.execute(query.order_by(col(Publication.year).desc())).scalars().first()


def publish_once(
    db: Session, actor: Actor, instrument: Instrument, *, year: int, min_cell: int, job_id: str
) -> Publication:
    """``publish`` for a background job: the year's publication by this job when one is
    stored already (a job taken up again), else a new one recording the job."""
    return stored_once(
        db,
        job_id,
        year,
        lambda: publish(db, actor, instrument, year=year, min_cell=min_cell, job_id=job_id),
    )


def stored_once(
    db: Session, job_id: str, year: int | None, store: Callable[[], Publication]
) -> Publication:
    """The publication (of ``year``; else the newest) that the job stored, else the one
    ``store`` stores now. Another worker of the same job storing it first gives that
    one: a publication's job (and year) are unique, so its INSERT fails and is read.
    The one way a job's publishing (a year's, Riket's) is made to happen once."""
    done = published_by(db, job_id, year)
    if done is not None:
        return done
    try:
        return store()
    except IntegrityError:
        done = published_by(db, job_id, year)  # another worker of the same job, first
        if done is None:
            raise
        return done


def latest(db: Session, year: int) -> Publication | None:
    """The newest publication of a year."""
    return (
        db.execute(
            select(Publication)
            .where(col(Publication.year) == year)
            .order_by(col(Publication.version).desc())
        )
        .scalars()
        .first()
    )


def published_years(db: Session) -> list[int]:
    return sorted(y for (y,) in db.execute(select(col(Publication.year)).distinct()))


def year_has_answers(db: Session, year: int) -> bool:
    stored = db.execute(select(func.count()).where(col(Response.year) == year)).scalar_one()
    if stored:
        return True
    waiting = db.execute(
        select(func.count())
        .select_from(PendingResponse)
        .join(Round, col(Round.id) == col(PendingResponse.round_id))
        .where(col(Round.year) == year)
    ).scalar_one()
    return bool(waiting)


def publish(
    db: Session,
    actor: Actor,
    instrument: Instrument,
    *,
    year: int,
    min_cell: int,
    now: datetime | None = None,
    job_id: str | None = None,
) -> Publication:
    """The administrator (or the operator at the command line) publishes a year: release
    and close its rounds, compute, store, audit (``publicering.publicera``, by the
    actor); commits.

    Refuses anyone else (``Refused``) and (``PublishError``, nothing changed) a year
    without answers and a year that is being published right now. ``job_id``: the
    background job publishing it, recorded on the publication in the same transaction
    (a job publishes once).
    """
    require_admin(actor)
    min_cell = settings.checked_threshold(min_cell, PublishError)
    now = now or clock.now()
    if not year_has_answers(db, year):
        raise PublishError(f"Det finns inga svar för {year} att publicera.")
    round_ids = [
        r for (r,) in db.execute(select(col(Round.id)).where(col(Round.year) == year)).all()
    ]
    try:  # the waiting answers' keys must be there and removable: else change nothing
        check_release(db, round_ids)
    except PendingKeyError as exc:
        db.rollback()
        raise PublishError(str(exc)) from None
    lock = _take_lock(db, year)
    try:
        try:
            release_pending(db, min_batch=1, round_ids=round_ids)
        except PendingKeyError as exc:  # a key file removed since the check
            raise PublishError(str(exc)) from None
        previous = latest(db, year)
        computed = compute(db, instrument, year=year, min_cell=min_cell, previous=previous)
        # Counting only read; storing writes: submissions wait their turn for it on the
        # writer lock (SQLite) instead of sleep-polling.
        # the publication is a transaction of its own, committed before the year lock goes
        with one_writer(db), own_transaction(db):
            closed = _close_open_rounds(db, year)
            publication = store_publication(
                db,
                instrument,
                computed,
                version=(previous.version + 1) if previous else 1,
                user_email=actor.email,
                now=now,
            )
            publication.job_id = job_id
            try:
                record_shown(db, computed, kind="publication", publication_id=publication.id)
            except VersionRace:
                raise PublishError(
                    f"En förhandsgranskning av {year} togs fram medan året publicerades. "
                    "Ingenting publicerades; försök igen."
                ) from None
            audit(
                db,
                actor,
                "publicering.publicera",
                f"{year} version {publication.version}; {len(computed.rows)} rader, "
                f"{hidden_count(computed.rows)} dolda; {closed} omgångar stängda",
            )
    except BaseException:
        db.rollback()
        raise
    finally:
        lock.release()
    return publication


def _take_lock(db: Session, year: int) -> locks.YearLock:
    """The year's publishing lock (``services.locks``: it dies with this process)."""
    try:
        return locks.take(db, year)
    except locks.PublishBusy:
        raise PublishError(
            f"År {year} håller redan på att publiceras. Vänta en stund och försök igen."
        ) from None


def _close_open_rounds(db: Session, year: int) -> int:
    rounds = (
        db.execute(
            select(Round).where(col(Round.year) == year, col(Round.state) == RoundState.open.value)
        )
        .scalars()
        .all()
    )
    closed_at = clock.utcnow()
    for round_ in rounds:
        round_.state, round_.closed_at = RoundState.closed.value, closed_at
        db.add(round_)
    return len(rounds)


def method_note(
    *, min_cell: int, protect_other: bool, version: int, waiting: int = 0, year: int = 0
) -> str:
    """The publication's method note, in Swedish."""
    parts = [
        "Andelarna räknas på dem som gett ett svar på skalan; 'Vet ej' och tomma svar "
        "räknas inte. n är antalet enkäter där frågan ställdes.",
        f"Resultat som bygger på färre än {min_cell} svar visas inte. Fler resultat döljs "
        "där de annars skulle gå att räkna fram ur andra publicerade siffror (mellan kön, "
        "mellan insatser och förbundet, och mellan frågor och indikatorns sammanvägda rad).",
    ]
    if protect_other:
        parts.append(
            "Svar från deltagare som angett annat kön eller inget kön skyddas: de redovisas "
            "inte för sig och kan inte räknas fram."
        )
    else:
        parts.append(
            "Förbundet har valt att redovisa kvinnor och män som i NNS egna rapporter: svar "
            "från deltagare med annat eller inget angivet kön räknas som kända och skyddas "
            "inte för sig."
        )
    if version > 1:
        parts.append(
            f"Detta är version {version} av årets publicering. En grupp (insats och kön) där "
            f"färre än {min_cell} nya svar kommit in sedan en tidigare version visas som förut, "
            "så att de nya svaren inte kan räknas fram genom att jämföra versionerna."
        )
    if waiting:
        parts.append(waiting_note(waiting, min_cell=min_cell, year=year))
    return "\n\n".join(parts)


def store_publication(
    db: Session,
    instrument: Instrument,
    computed: Computed,
    *,
    version: int,
    user_email: str,
    now: datetime,
) -> Publication:
    """Store a counted, protected year as publication ``version`` with its rows (flushes):
    a förbund's publish and Riket's (``surveys/national/publish.py``) both store with it."""
    info = db.get(InstrumentInfo, "current")
    publication = Publication(
        year=computed.year,
        version=version,
        published_at=now,
        published_by=user_email,
        min_cell=computed.min_cell,
        protect_other=computed.protect_other,
        instrument_version=info.version if info else "",
        method_note=method_note(
            min_cell=computed.min_cell,
            protect_other=computed.protect_other,
            version=version,
            waiting=computed.waiting,
            year=computed.year,
        ),
    )
    db.add(publication)
    db.flush()
    conn = db.connection()
    rows = computed.rows
    if not rows.empty:
        conn.execute(
            table_of(PublicationRow).insert(),
            [_row_values(publication.id, r) for r in rows.to_dict("records")],
        )
    if not computed.groups.empty:
        conn.execute(
            table_of(PublicationGroup).insert(),
            [
                {"publication_id": publication.id, **g}
                for g in computed.groups.astype({"count": int}).to_dict("records")
            ],
        )
    _store_national(db, publication)
    _store_history(db, publication)
    return publication


def _store_national(db: Session, publication: Publication) -> None:
    """Freeze Riket's figures (with n) and those of the förbund's comparison group."""
    group = settings.comparison_group(db)
    national = db.execute(
        select(
            col(NationalFigure.year),
            col(NationalFigure.questionnaire_key),
            col(NationalFigure.question),
            col(NationalFigure.subgroup),
            col(NationalFigure.positive),
            col(NationalFigure.n),
            col(NationalFigure.comparison_group),
        ).where(
            col(NationalFigure.year) <= publication.year,
            col(NationalFigure.comparison_group).in_(sorted({"", group})),
        )
    ).all()
    if national:
        db.connection().execute(
            table_of(PublicationNational).insert(),
            [
                {
                    "publication_id": publication.id,
                    "year": y,
                    "questionnaire": q,
                    "question": number,
                    "subgroup": s,
                    "positive": p,
                    "n": n,
                    "comparison_group": g,
                }
                for y, q, number, s, p, n, g in national
            ],
        )


def _store_history(db: Session, publication: Publication) -> None:
    """Freeze the imported history with the publication, as Riket's figures are (issue 19)."""
    from surveys.files.history import history_rows  # noqa: PLC0415 - files import services

    rows = [r for r in history_rows(db) if r["year"] <= publication.year]
    if rows:
        db.connection().execute(
            table_of(PublicationHistory).insert(),
            [{"publication_id": publication.id, **r} for r in rows],
        )


def _value(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]  # a pandas integer


def _row_values(publication_id: str, row: dict) -> dict:
    question = row["question"]
    return {
        "publication_id": publication_id,
        "scope": row["scope"],
        "indicator": int(row["indicator"]),
        "questionnaire": row["questionnaire"],
        "question": POOLED if question is None or pd.isna(question) else int(question),
        "subgroup": row["subgroup"],
        **{c: _value(row[c]) for c in FIGURE_COLUMNS},
        "suppressed": str(row["suppressed"] or ""),
        "reason": row.get("suppression") or "",
        "size": int(row["size"]),
        **{c: int(row.get(c) or 0) for c in LEFT_OUT_COLUMNS},
    }
