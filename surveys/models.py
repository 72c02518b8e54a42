"""Database models (SQLModel). Every column carries a short comment.

Anonymity by construction (DESIGN.md principle 1): a stored questionnaire
(``Response`` + its ``Answer`` rows) holds answer codes, question versions,
round, intervention, year and optional gender — nothing else: no date or time. Ids
are random UUIDs; the anonymous tables are WITHOUT ROWID on SQLite so not even
a hidden sequential row number records the order of submissions.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlmodel import Field, SQLModel

from surveys import clock
from surveys.names import name_key

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata
NO_ROWID = {"sqlite_with_rowid": False}


def table_of(model: type[SQLModel]) -> Table:
    """A model's Core table (SQLModel does not declare ``__table__`` to type checkers)."""
    return model.__table__  # type: ignore[attr-defined]  # set by SQLAlchemy's declarative base


def new_id() -> str:
    return uuid.uuid4().hex


# --- the instrument (loaded from surveys/instrument/nns.yaml) ---------------


class InstrumentInfo(SQLModel, table=True):
    __tablename__ = "instrument_info"
    key: str = Field(default="current", primary_key=True, max_length=20)  # always "current"
    version: str = Field(max_length=40)  # instrument_version of the loaded file
    checksum: str = Field(default="", max_length=64)  # sha256 of the loaded file's content
    loaded_on: date  # day the file was last loaded


class Questionnaire(SQLModel, table=True):
    __tablename__ = "questionnaire"
    key: str = Field(primary_key=True, max_length=40)  # e.g. deltagare_avslut
    name: str = Field(max_length=200)  # Swedish name shown in reports
    short_name: str = Field(max_length=100)  # short name for tables and charts
    participant: bool = False  # participants: gender question, kvinnor/män split
    introduced: int | None = None  # first year the group was asked
    position: int = 0  # order in reports


class Indicator(SQLModel, table=True):
    __tablename__ = "indicator"
    number: int = Field(primary_key=True)  # 1..16
    title: str = Field(max_length=500)  # the indicator's wording
    national_measure: bool = True  # False for 11: "ingen nationell mätning"


class ScaleOption(SQLModel, table=True):
    __tablename__ = "scale_option"
    scale: str = Field(primary_key=True, max_length=40)  # scale key, e.g. frekvens
    code: int = Field(primary_key=True)  # stored answer code
    label: str = Field(max_length=100)  # label shown to the respondent
    grp: str | None = Field(default=None, max_length=20)  # negative/neutral/positive or none
    clearly_positive: bool = False  # counts as "Klart positivt"
    position: int = 0  # order on the form


class Question(SQLModel, table=True):
    __tablename__ = "question"
    id: str = Field(primary_key=True, max_length=60)  # stable key "<questionnaire>.<number>"
    questionnaire_key: str = Field(foreign_key="questionnaire.key", max_length=40)  # its group
    number: int  # number within the questionnaire
    indicator: int = Field(foreign_key="indicator.number")  # indicator it measures
    scale: str = Field(max_length=40)  # answer scale key
    gate: bool = False  # yes/no gate, reported alone, not pooled
    condition_question: int | None = None  # asked only if this question ...
    condition_code: int | None = None  # ... got this code
    introduced: int | None = None  # first year asked
    comparable_from: int | None = None  # comparability break year


class QuestionVersion(SQLModel, table=True):
    __tablename__ = "question_version"
    id: str = Field(primary_key=True, max_length=70)  # "<questionnaire>.<number>.v<k>"
    question_id: str = Field(foreign_key="question.id", max_length=60)  # the question
    text: str = Field(max_length=1000)  # exact wording shown
    valid_from: int | None = None  # first year of this wording
    valid_until: int | None = None  # last year of this wording
    confirmed: bool = True  # False while the wording is not confirmed by NNS


# --- organisation and rounds ------------------------------------------------


class Intervention(SQLModel, table=True):
    __tablename__ = "intervention"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    name: str = Field(sa_column=Column(String(200), unique=True, nullable=False))  # insats name
    # sha256 of the name as compared (NFKC, case folded; surveys/names.py): one insats per
    # key, so "Steget" and "steget" cannot both exist; set from ``name`` on every write
    name_key: str = Field(default="", sa_column=Column(String(64), unique=True, nullable=False))


@event.listens_for(Intervention, "before_insert")
@event.listens_for(Intervention, "before_update")
def _set_name_key(_mapper, _connection, target: Intervention) -> None:
    """The comparison key always follows the name, whoever writes it."""
    target.name_key = name_key(target.name)


class RoundState(enum.StrEnum):
    draft = "draft"  # created, takes no answers yet
    open = "open"  # takes answers
    closed = "closed"  # takes no answers


class RoundMode(enum.StrEnum):
    open_link = "open_link"  # one link/QR for everyone
    kiosk = "kiosk"  # a shared tablet at the office
    single_use = "single_use"  # one link per respondent


class Round(SQLModel, table=True):
    __tablename__ = "round"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    code: str = Field(sa_column=Column(String(32), unique=True, nullable=False))  # open-link code
    questionnaire_key: str = Field(foreign_key="questionnaire.key", max_length=40)  # which group
    year: int  # measurement year the answers count for
    intervention_id: str | None = Field(default=None, foreign_key="intervention.id")  # insats
    opens_on: date | None = None  # first day answers are taken (optional)
    closes_on: date | None = None  # last day answers are taken (optional)
    mode: str = Field(default=RoundMode.open_link.value, max_length=20)  # RoundMode
    expected: int | None = None  # expected number of respondents (svarsfrekvens)
    state: str = Field(default=RoundState.draft.value, max_length=20)  # RoundState
    created_on: date = Field(default_factory=clock.today)  # day created
    # when it was closed (staff, or publishing its year): a late form is logged at this time
    closed_at: datetime | None = None
    # --- tablet (kiosk sessions and the tablets' offline queues; counts only) ---
    kiosk_idle_seconds: int | None = None  # idle time before "Är du kvar?" (empty: 120 s)
    tablet_waiting: int = 0  # answers waiting in tablets' queues, as the tablets last reported
    tablet_refused: int = 0  # queued submissions the server refused (dropped from the queue)
    tablet_storage_full: bool = False  # a tablet reported that its storage is full


# --- anonymous answers ------------------------------------------------------


class Response(SQLModel, table=True):
    """One filled-in questionnaire. Nothing here identifies the respondent."""

    __tablename__ = "response"
    # (year, group, insats, gender) covers publishing's counts: no lookup of the row itself
    __table_args__ = (
        Index("ix_response_year_groups", "year", "questionnaire_key", "intervention_id", "gender"),
        NO_ROWID,
    )
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    round_id: str | None = Field(
        default=None, foreign_key="round.id", index=True
    )  # none if imported
    questionnaire_key: str = Field(foreign_key="questionnaire.key", max_length=40)  # group
    year: int  # measurement year (indexed first in ix_response_year_groups)
    intervention_id: str | None = Field(default=None, foreign_key="intervention.id")  # insats
    gender: str | None = Field(default=None, max_length=10)  # kvinna/man/annat, participants only


class Answer(SQLModel, table=True):
    """One question put to a respondent; code is empty when left blank."""

    __tablename__ = "answer"
    __table_args__ = NO_ROWID
    response_id: str = Field(foreign_key="response.id", primary_key=True, max_length=32)  # its form
    question_version_id: str = Field(
        foreign_key="question_version.id", primary_key=True, max_length=70
    )  # exact wording shown
    code: int | None = None  # scale code, or empty


class SubmissionKey(SQLModel, table=True):
    """Idempotency keys of rendered forms already stored (hashed, not linked to answers)."""

    __tablename__ = "submission_key"
    __table_args__ = NO_ROWID
    key_hash: str = Field(primary_key=True, max_length=64)  # sha256 of the form's key
    created_on: date  # for clean-up of old keys


class LinkToken(SQLModel, table=True):
    """A single-use link; hashed, and never linked to the answers it unlocked."""

    __tablename__ = "link_token"
    __table_args__ = NO_ROWID
    token_hash: str = Field(primary_key=True, max_length=64)  # sha256 of the token
    round_id: str = Field(foreign_key="round.id", index=True)  # its round
    used: bool = False  # set in the same transaction as the answers
    created_on: date  # day created


# --- figures from outside ---------------------------------------------------


class HistoryFigure(SQLModel, table=True):
    """Aggregated figures typed in from annual reports before the system was used."""

    __tablename__ = "history_figure"
    __table_args__ = (UniqueConstraint("year", "questionnaire_key", "question", "subgroup"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    year: int  # measurement year
    questionnaire_key: str = Field(foreign_key="questionnaire.key", max_length=40)  # group
    question: int  # question number
    subgroup: str = Field(max_length=10)  # samtliga/kvinnor/man
    batch_id: str | None = Field(default=None, foreign_key="import_batch.id")  # its upload
    n: int  # n as printed
    negative: int | None = None  # percent
    neutral: int | None = None  # percent
    positive: int | None = None  # percent
    clearly_positive: int | None = None  # percent
    response_rate: int | None = None  # percent


class NationalFigure(SQLModel, table=True):
    """Riket: the national positive share from NNS's yearly report."""

    __tablename__ = "national_figure"
    __table_args__ = (
        UniqueConstraint("year", "questionnaire_key", "question", "subgroup", "comparison_group"),
    )
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    year: int  # measurement year
    questionnaire_key: str = Field(foreign_key="questionnaire.key", max_length=40)  # group
    question: int  # question number
    subgroup: str = Field(max_length=10)  # samtliga/kvinnor/man
    batch_id: str | None = Field(default=None, foreign_key="import_batch.id")  # its upload
    positive: int  # percent
    n: int | None = None  # questionnaires behind it (NNS's extended file); None: not given
    comparison_group: str = Field(
        default="", max_length=100, sa_column_kwargs={"server_default": ""}
    )  # "" = Riket; else the comparison group's name (e.g. storstad)
    # the version of NNS's national publication the file came from (signed with it);
    # None: typed in, or a file without one. An older version never replaces a newer one.
    riket_version: int | None = None


class Setting(SQLModel, table=True):
    __tablename__ = "setting"
    key: str = Field(primary_key=True, max_length=60)  # e.g. min_cell
    value: str = Field(max_length=200)  # the value as text


# --- people (staff issue) ---------------------------------------------------


class Role(enum.StrEnum):
    admin = "administratör"  # everything
    staff = "personal"  # own interventions
    reader = "läsare"  # reports only


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    email: str = Field(sa_column=Column(String(254), unique=True, nullable=False))  # sign-in name
    name: str = Field(default="", max_length=200)  # display name
    password_hash: str = Field(max_length=300)  # argon2 hash, never the password
    role: str = Field(max_length=20)  # Role value
    active: bool = True  # False: cannot sign in


class UserIntervention(SQLModel, table=True):
    __tablename__ = "user_intervention"
    user_id: str = Field(foreign_key="app_user.id", primary_key=True)  # staff member
    intervention_id: str = Field(foreign_key="intervention.id", primary_key=True)  # their insats


class AuditEntry(SQLModel, table=True):
    """Administrative actions: who, what, when — never answers."""

    __tablename__ = "audit_entry"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    at: datetime  # when (staff actions, not respondents)
    user_email: str = Field(max_length=254)  # who
    action: str = Field(max_length=100)  # what, e.g. round.open
    detail: str = Field(default="", max_length=1000)  # object and parameters


class MailBatch(SQLModel, table=True):
    """How many single-use links were mailed for a round; never the addresses."""

    __tablename__ = "mail_batch"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    round_id: str = Field(foreign_key="round.id", index=True)  # the round
    sent_on: date  # day sent
    count: int  # number of mails sent


# --- anonymity: answers waiting to be released, counters kept apart ----------


class PendingResponse(SQLModel, table=True):
    """A questionnaire taken from the web, waiting to be released into ``response``.

    Submissions land here in the transaction that checks their idempotency key
    (and uses a single-use link), sealed with AES-GCM under a pending key kept outside
    the database (surveys/services/pending_keys.py); they are moved into the answers
    in shuffled batches of at least MIN_CELL of one round in another transaction, and
    the key is destroyed then, so that neither a system column (PostgreSQL ``xmin``),
    the physical row order nor a WAL frame ties a link, a moment or a counter to the
    answers it produced.
    """

    __tablename__ = "pending_response"
    __table_args__ = NO_ROWID
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    round_id: str = Field(foreign_key="round.id", index=True)  # the round answered
    # the pending key's id (its file in <instance>/pending-keys); None: stored before 0011
    key_id: str | None = Field(default=None, max_length=32)
    # base64 of AES-GCM nonce + ciphertext of the JSON (questionnaire, year, gender,
    # answers), padded to one length per round; plain JSON only in rows stored before
    # migration 0011
    payload: str = Field(max_length=20000)


class ResponseCount(SQLModel, table=True):
    """How many questionnaires a round received per ISO week (what staff follow).

    Kept apart from the answers: the answers carry no date at all.
    """

    __tablename__ = "response_count"
    round_id: str = Field(foreign_key="round.id", primary_key=True)  # the round
    week: str = Field(primary_key=True, max_length=10)  # ISO week, e.g. 2026-W07
    count: int = 0  # questionnaires received that week


# --- publications (DESIGN.md principle 3) ------------------------------------


class Publication(SQLModel, table=True):
    """A year's results as published: computed once, disclosure-controlled, frozen."""

    __tablename__ = "publication"
    __table_args__ = (
        UniqueConstraint("year", "version"),
        # a job publishes a year once (the all-years job publishes several years)
        UniqueConstraint("job_id", "year", name="uq_publication_job_id_year"),
    )
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    year: int = Field(index=True)  # measurement year published
    version: int  # 1 for the first publication of the year, then 2, 3 ...
    published_at: datetime  # when (Europe/Stockholm wall time)
    published_by: str = Field(max_length=254)  # who published (e-mail)
    min_cell: int  # MIN_CELL used
    protect_other: bool = True  # False: övriga counted as known (administrator's setting)
    instrument_version: str = Field(max_length=40)  # instrument_version of the file used
    method_note: str = Field(default="", max_length=4000)  # how the figures were made, in Swedish
    # the background job that published it (None: `surveys publish`); once per year
    job_id: str | None = Field(default=None, foreign_key="background_job.id", max_length=32)


class ShownVersion(SQLModel, table=True):
    """A version of a year that someone saw: a publication, or a preview shown to the
    administrator (DESIGN.md "Versions are tables too").

    Keeps the counts the version was made from (code counts, pooled sizes and paper forms
    per typist, as ``indicators.versions.Shown``), so that every later version of the
    year can be checked on its difference from it. Aggregated counts only, no answer and
    no respondent; never exported, never in a reader's file.
    """

    __tablename__ = "shown_version"
    __table_args__ = (UniqueConstraint("year", "seq"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    year: int = Field(index=True)  # measurement year
    seq: int  # 1, 2, 3 … per year in the order shown (unique: two at once cannot both pass)
    kind: str = Field(max_length=20)  # "publication" or "preview"
    publication_id: str | None = Field(
        default=None, foreign_key="publication.id", max_length=32
    )  # the publication it is (None for a preview)
    waiting: int = 0  # questionnaires of the year not shown in it yet (held back)
    counts: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # JSON of the counts


class PublicationRow(SQLModel, table=True):
    """One published result row (DESIGN.md "Report CSV") of one scope."""

    __tablename__ = "publication_row"
    publication_id: str = Field(foreign_key="publication.id", primary_key=True)  # its publication
    scope: str = Field(primary_key=True, max_length=200)  # "" = förbundet, else the insats name
    indicator: int = Field(primary_key=True)  # indicator number
    questionnaire: str = Field(primary_key=True, max_length=40)  # questionnaire key
    question: int = Field(primary_key=True)  # question number; 0 = the pooled row
    subgroup: str = Field(primary_key=True, max_length=10)  # samtliga / kvinnor / man
    n: int | None = None  # questionnaires the question was put to (empty under a hidden gate)
    answered: int | None = None  # scale answers (empty when suppressed)
    negative_n: int | None = None  # answers in the negative group
    neutral_n: int | None = None  # answers in the neutral group
    positive_n: int | None = None  # answers in the positive group
    clearly_positive_n: int | None = None  # "Klart positivt" answers
    response_rate: int | None = None  # percent
    negative: int | None = None  # percent
    neutral: int | None = None  # percent
    positive: int | None = None  # percent
    clearly_positive: int | None = None  # percent
    # "" shown; "primary" fewer than MIN_CELL answers; "complementary" hidden so that a
    # smaller group cannot be derived (also conditional rows under a hidden gate)
    suppressed: str = Field(default="", max_length=20)
    reason: str = Field(default="", max_length=100)  # why it is hidden, in Swedish
    size: int = 0  # the cell's size (never shown): compared by the republication rule
    left_out: int = 0  # questionnaires left out to protect a small part (gender + insats)
    left_out_gender: int = 0  # of them: övriga (annat or no gender) of too few
    left_out_insats: int = 0  # of them: answers without insats of too few


class PaperTypist(SQLModel, table=True):
    """How many paper questionnaires one person typed into one round and gender group.

    Kept apart from the answers (no response id, no answer, no time): disclosure
    control subtracts the most any one reader typed into a cell, since that person
    knows those answers. Never exported.
    """

    __tablename__ = "paper_typist"
    round_id: str = Field(foreign_key="round.id", primary_key=True)  # the round typed into
    gender: str = Field(default="", primary_key=True, max_length=10)  # kvinna/man/annat/""
    typed_by: str = Field(primary_key=True, max_length=254)  # the user's e-mail
    count: int = 0  # questionnaires typed in


class PublicationGroup(SQLModel, table=True):
    """Questionnaires per respondent group in a publication (the opening text's figures)."""

    __tablename__ = "publication_group"
    publication_id: str = Field(foreign_key="publication.id", primary_key=True)  # publication
    scope: str = Field(primary_key=True, max_length=200)  # "" = förbundet, else the insats
    questionnaire: str = Field(primary_key=True, max_length=40)  # questionnaire key
    count: int  # questionnaires received


class PublicationNational(SQLModel, table=True):
    """Riket's figures as they stood when the year was published."""

    __tablename__ = "publication_national"
    publication_id: str = Field(foreign_key="publication.id", primary_key=True)  # publication
    year: int = Field(primary_key=True)  # year of the national figure
    questionnaire: str = Field(primary_key=True, max_length=40)  # questionnaire key
    question: int = Field(primary_key=True)  # question number
    subgroup: str = Field(primary_key=True, max_length=10)  # samtliga / kvinnor / man
    comparison_group: str = Field(
        default="", primary_key=True, max_length=100, sa_column_kwargs={"server_default": ""}
    )  # "" = Riket; else the förbund's comparison group as it stood
    positive: int  # percent
    n: int | None = None  # questionnaires behind it; None: the file had no n


class PublicationHistory(SQLModel, table=True):
    """Figures typed in from old annual reports, as they stood when the year was published."""

    __tablename__ = "publication_history"
    publication_id: str = Field(foreign_key="publication.id", primary_key=True)  # publication
    year: int = Field(primary_key=True)  # year of the old figure
    questionnaire: str = Field(primary_key=True, max_length=40)  # questionnaire key
    question: int = Field(primary_key=True)  # question number
    subgroup: str = Field(primary_key=True, max_length=10)  # samtliga / kvinnor / man
    n: int | None = None  # respondents
    negative: int | None = None  # percent
    neutral: int | None = None  # percent
    positive: int | None = None  # percent
    clearly_positive: int | None = None  # percent
    response_rate: int | None = None  # percent


# --- production safety and imports (prod) -------------------------------------


class SignInFailure(SQLModel, table=True):
    """Failed sign-ins per throttling key and window, shared by every worker."""

    __tablename__ = "signin_failure"
    key_hash: str = Field(primary_key=True, max_length=64)  # HMAC of e-mail or client address
    window_start: int = Field(primary_key=True)  # start of the window, seconds since 1970
    failures: int = 0  # sign-in attempts in the window (a right password takes its one back)


class SignInDelay(SQLModel, table=True):
    """An account past its sign-in limit: when its next attempt may be checked."""

    __tablename__ = "signin_delay"
    key_hash: str = Field(primary_key=True, max_length=64)  # HMAC of the e-mail address
    strikes: int = 0  # times the limit was reached or a delayed attempt let through
    # seconds since 1970; earlier attempts wait
    not_before: int = Field(sa_column=Column(BigInteger, nullable=False))


class ImportBatch(SQLModel, table=True):
    """One uploaded file of figures or answers. Answers are NEVER linked to a batch."""

    __tablename__ = "import_batch"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    kind: str = Field(max_length=20)  # answers, history or national
    rows: int  # rows imported from the file
    filename: str = Field(default="", max_length=200)  # the file's name as uploaded
    imported_at: datetime  # when (UTC; a staff action, not a respondent's)
    imported_by: str = Field(max_length=254)  # who: e-mail, or "kommandoraden"


# --- staff and admin workflows (ops) ---


class SessionVersion(SQLModel, table=True):
    """Per-user session generation: bumped on logout, deactivation and password change,
    so a session cookie copied earlier no longer signs anyone in."""

    __tablename__ = "session_version"
    user_id: str = Field(foreign_key="app_user.id", primary_key=True, max_length=32)  # the user
    version: int = 0  # current generation; sessions carry the one they were made with


class KioskEnrolment(SQLModel, table=True):
    """The enrolment link of a kiosk round's tablets; only its hash is stored.

    Revoking (or making a new link) replaces the hash: the old link stops working."""

    __tablename__ = "kiosk_enrolment"
    round_id: str = Field(foreign_key="round.id", primary_key=True, max_length=32)  # the round
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))  # sha256


class KioskRetiredLink(SQLModel, table=True):
    """An enrolment link that staff replaced or revoked (only its hash).

    It opens no new form; for the grace period (CLOSED_GRACE_SECONDS) after it was
    retired, tablets may still send the forms they fetched with it, so nothing
    queued on a tablet is lost when the link changes."""

    __tablename__ = "kiosk_retired_link"
    token_hash: str = Field(primary_key=True, max_length=64)  # sha256 of the old link's token
    round_id: str = Field(foreign_key="round.id", index=True, max_length=32)  # its round
    retired_at: datetime  # when staff replaced or revoked it (a staff action)


# --- appendix (yearly report: comments, rendered charts) ---------------------


class ReportComment(SQLModel, table=True):
    """The förbundschef's own text for a year and scope: introduction (0) or one indicator."""

    __tablename__ = "report_comment"
    year: int = Field(primary_key=True)  # report year
    scope: str = Field(default="", primary_key=True, max_length=200)  # "" = förbundet, or insats
    indicator: int = Field(primary_key=True)  # 1..16, or 0 for the introduction
    text: str = Field(sa_column=Column(Text, nullable=False))  # plain text; blank line = paragraph
    updated_at: datetime  # last edit (an administrator's action, not a respondent's)
    updated_by: str = Field(max_length=254)  # e-mail of who edited last


class ReportText(SQLModel, table=True):
    """A standing text of every report ("Om indikatorerna", the contact details)."""

    __tablename__ = "report_text"
    key: str = Field(primary_key=True, max_length=40)  # "om_indikatorerna" or "kontakt"
    text: str = Field(sa_column=Column(Text, nullable=False))  # plain text; blank line = paragraph
    updated_at: datetime  # last edit
    updated_by: str = Field(max_length=254)  # e-mail of who edited last (admin pages only)


class ReportAsset(SQLModel, table=True):
    """A chart (or a whole PDF/Word file) rendered once for frozen figures and reused."""

    __tablename__ = "report_asset"
    cache_key: str = Field(primary_key=True, max_length=128)  # publication/scope (or content hash)
    name: str = Field(primary_key=True, max_length=80)  # e.g. "2023-1-tid.svg"
    content_type: str = Field(max_length=100)  # image/svg+xml, image/png, application/pdf, …
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # the rendered chart


# --- background work (issue 13: participants first) ---------------------------


class BackgroundJob(SQLModel, table=True):
    """Publishing or a preview, done by a worker process (``surveys worker``) off the
    participants' web workers. Any worker on any machine may claim a queued job: it
    holds the job by a lease it renews (heartbeat); a job whose lease ran out is taken
    up again by another worker, or failed after ``MAX_ATTEMPTS``.

    Holds only what an administrator asked for and how it went: never anything
    about respondents (no answers, no times of submissions)."""

    __tablename__ = "background_job"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    kind: str = Field(max_length=20)  # "publish" or "preview"
    year: int = Field(index=True)  # the year being published or previewed
    status: str = Field(default="queued", max_length=10)  # queued, running, done or failed
    requested_by: str = Field(max_length=254)  # e-mail of the administrator who asked
    requested_at: datetime  # when it was asked for (an administrator's action)
    started_at: datetime | None = None  # when a worker first claimed it (None: not yet)
    finished_at: datetime | None = None  # when it finished or was given up
    worker: str = Field(default="", max_length=100)  # "host:pid:nonce" of the claiming worker
    lease_until: datetime | None = None  # the worker's claim holds until then (heartbeat)
    attempts: int = 0  # how many times a worker claimed it (a retry after a dead worker: 2)
    min_cell: int  # the suppression threshold in force when the administrator asked
    message: str = Field(default="", max_length=500)  # the result or the failure, in Swedish


# --- translations (issue 22: approved translations as data) -------------------


class TranslationLanguage(SQLModel, table=True):
    """A language a förbund has loaded a translation for, and its approval.

    The approval holds for exactly the translation that was approved: ``approved_digest``
    is a hash of every loaded row, so a later load needs a new approval."""

    __tablename__ = "translation_language"
    code: str = Field(primary_key=True, max_length=10)  # language code, e.g. ar, ti
    approved_digest: str = Field(default="", max_length=64)  # digest approved ("" = never)
    approved_reference: str = Field(default="", max_length=200)  # e.g. "godkänd av NNS 2027-01-10"
    approved_by: str = Field(default="", max_length=254)  # who approved (e-mail or kommandoraden)
    approved_on: date | None = None  # the day of the approval (an administrator's action)
    loaded_on: date | None = None  # the day the translation file was last loaded


class TranslationText(SQLModel, table=True):
    """One translated text a respondent sees, with the hash of the Swedish it translates."""

    __tablename__ = "translation_text"
    language: str = Field(
        foreign_key="translation_language.code", primary_key=True, max_length=10
    )  # the language
    key: str = Field(primary_key=True, max_length=120)  # text key, e.g. fraga.<version id>
    text: str = Field(sa_column=Column(Text, nullable=False))  # the translation (plain text)
    sv_hash: str = Field(max_length=64)  # sha256 of the Swedish text it translates (stale check)


class LanguageCount(SQLModel, table=True):
    """How many questionnaires of a round were answered in each language (not Swedish).

    Kept apart from the answers like ``response_count``: the answers never carry
    the language (in a small insats a language can identify a person)."""

    __tablename__ = "language_count"
    round_id: str = Field(foreign_key="round.id", primary_key=True, max_length=32)  # the round
    language: str = Field(primary_key=True, max_length=10)  # language code
    count: int = 0  # questionnaires received in that language


# --- the national instance (SURVEYS_MODE=national, issue 21) -------------------


class NationalMember(SQLModel, table=True):
    """A förbund registered with NNS: whose signed count packages are accepted."""

    __tablename__ = "national_member"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    name: str = Field(sa_column=Column(String(200), unique=True, nullable=False))  # förbund name
    org_number: str = Field(
        sa_column=Column(String(20), unique=True, nullable=False)
    )  # organisation number, e.g. 222000-1234
    public_key: str = Field(max_length=100)  # Ed25519 public key, base64 of 32 bytes
    comparison_group: str = Field(default="", max_length=100)  # e.g. storstad; "" = none
    registered_at: datetime  # when NNS registered it (a staff action)


class NationalPackage(SQLModel, table=True):
    """The imported count package of one förbund and year (a newer one replaces it)."""

    __tablename__ = "national_package"
    __table_args__ = (UniqueConstraint("member_id", "year"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)  # random id
    member_id: str = Field(foreign_key="national_member.id", index=True)  # whose package
    year: int = Field(index=True)  # measurement year
    digest: str = Field(
        sa_column=Column(String(64), unique=True, nullable=False)
    )  # sha256 of datapackage.json: the same package is never imported twice
    filename: str = Field(default="", max_length=200)  # the file's name as uploaded
    instrument_checksum: str = Field(max_length=64)  # the förbund's instrument file checksum
    software_version: str = Field(default="", max_length=40)  # the förbund's software version
    # the package's signed number in its year (1, 2, …; 0: made before packages were
    # numbered): a lower one never replaces it
    package_number: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    questionnaires: int  # questionnaires in the package (all modes)
    imported_at: datetime  # when (UTC; a staff action)
    imported_by: str = Field(max_length=254)  # who: e-mail, or "kommandoraden"


class NationalCount(SQLModel, table=True):
    """One row of a package's ``answers`` resource: answers with one code."""

    __tablename__ = "national_count"
    package_id: str = Field(foreign_key="national_package.id", primary_key=True)  # its package
    version_id: str = Field(primary_key=True, max_length=70)  # question version id
    subgroup: str = Field(primary_key=True, max_length=10)  # kvinna / man / övriga / ""
    code: int = Field(primary_key=True)  # answer code
    questionnaire: str = Field(max_length=40)  # questionnaire key
    question: int  # question number
    count: int  # answers with this code


class NationalModeCount(SQLModel, table=True):
    """One row of a package's ``questionnaires`` resource."""

    __tablename__ = "national_mode_count"
    package_id: str = Field(foreign_key="national_package.id", primary_key=True)  # its package
    questionnaire: str = Field(primary_key=True, max_length=40)  # questionnaire key
    mode: str = Field(primary_key=True, max_length=20)  # kiosk / link / single_use_link / paper
    count: int  # questionnaires


class NationalPublicationMember(SQLModel, table=True):
    """Which förbund (and comparison group) a national publication counted."""

    __tablename__ = "national_publication_member"
    publication_id: str = Field(foreign_key="publication.id", primary_key=True)  # publication
    member: str = Field(primary_key=True, max_length=200)  # förbund name
    comparison_group: str = Field(default="", max_length=100)  # its group then; "" = none
    package_digest: str = Field(max_length=64)  # the package counted
