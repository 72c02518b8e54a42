"""Rounds (mätomgångar) and insatser: creation rules, state transitions, removal, links,
kiosk enrolment.

The actions people take (``start_round``, ``change_state``, ``remove_round``,
``create_insats``, ``insats_named``, ``rename_insats``, the link actions and
``register_paper``) take an ``Actor``, check what it
may do, write their own audit entry and only flush; the request (or CLI command) commits
once at its boundary. ``register_paper`` is the one exception: it stores through
``submissions.submit``, whose own transaction (``db.own_transaction``) commits the
questionnaire with its audit entry. The functions without an actor are their building
blocks.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, overload

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from surveys import clock
from surveys.models import (
    Intervention,
    KioskEnrolment,
    KioskRetiredLink,
    LinkToken,
    MailBatch,
    PendingResponse,
    Publication,
    PublicationGroup,
    PublicationRow,
    Questionnaire,
    ResponseCount,
    Round,
    RoundMode,
    RoundState,
    table_of,
)
from surveys.names import InvalidName, clean_insats_name, name_key
from surveys.services import locks, submissions
from surveys.services.actor import Actor, Refused, audit, require_admin, require_manage
from surveys.services.publications import record_typed, rename_in_versions
from surveys.services.round_access import RoundLike, hash_token
from surveys.services.validation import CleanSubmission

MODE_LABELS = {
    RoundMode.open_link.value: "Öppen länk",
    RoundMode.kiosk.value: "Surfplatta (kioskläge)",
    RoundMode.single_use.value: "Engångslänkar",
}
STATE_LABELS = {
    RoundState.draft.value: "Ej öppnad",
    RoundState.open.value: "Öppen",
    RoundState.closed.value: "Stängd",
}
# Board and managers answer for the whole förbund: only the administrator starts those.
ADMIN_ONLY_QUESTIONNAIRES = frozenset({"styrelse", "chefsgrupp"})
FIRST_YEAR = 2000
MAX_TOKENS = 2000
MAX_EXPECTED = 100_000  # expected respondents of a round: the one limit (page, CLI, service)
EXPECTED_RANGE = f"Förväntat antal svarande ska vara ett heltal 0–{MAX_EXPECTED:_}.".replace(
    "_", " "
)
TAKEN_NAME = (
    "Det finns redan en insats med det namnet. Stora och små bokstäver räknas som samma namn."
)
PUBLISHED_NAME = (
    "Namnet finns redan i en publicering (en tidigare insats hette så). Välj ett annat namn."
)
NOT_OWN_INSATS = "Du kan bara starta mätomgångar för dina egna insatser. Ingenting har ändrats."
MAX_RETIRED_AGE = timedelta(days=7)  # longer than the longest grace period (config)


class RoundStateError(ValueError):
    """An invalid state transition or removal (message in Swedish)."""


class RoundRuleError(ValueError):
    """A round that may not be created; ``errors`` are Swedish messages."""

    def __init__(self, errors: list[str]):
        super().__init__(" ".join(errors))
        self.errors = errors


class DuplicateRound(ValueError):
    """A round like this one is already running; create it only when confirmed."""

    def __init__(self, existing: Round):
        super().__init__("Det finns redan en likadan mätomgång som inte är stängd.")
        self.existing = existing


def year_is_published(db: Session, year: int) -> bool:
    """True once a year's results are published (frozen: no new rounds, no paper forms)."""
    found = db.exec(select(Publication.id).where(Publication.year == year).limit(1)).first()
    return found is not None


def creatable_questionnaires(keys: Iterable[str], actor: Actor) -> list[str]:
    """The questionnaires this actor may start rounds for (staff: not board/managers)."""
    return [k for k in keys if actor.is_admin or k not in ADMIN_ONLY_QUESTIONNAIRES]


def check_new_round(
    db: Session,
    *,
    actor: Actor,
    questionnaire_keys: Iterable[str],
    questionnaire: str,
    year: int | None,
    intervention_id: str | None,
    mode: str,
    expected: int | None = None,
    today: date | None = None,
) -> list[str]:
    """Every rule a new round must meet, as Swedish messages (empty: allowed). Whether the
    actor may start rounds for the insats at all is ``start_round``'s check (Refused)."""
    today = today or clock.today()
    errors: list[str] = []
    keys = list(questionnaire_keys)
    if questionnaire not in keys:
        errors.append(f"Okänd enkät {questionnaire!r}. Välj en enkät i listan.")
    elif questionnaire not in creatable_questionnaires(keys, actor):
        errors.append("Styrelsens och chefsgruppens enkäter startas av administratören.")
    if intervention_id is not None and db.get(Intervention, intervention_id) is None:
        errors.append("Insatsen finns inte. Välj en insats i listan.")
    if mode not in MODE_LABELS:
        errors.append("Välj hur enkäten ska besvaras.")
    if expected is not None and not 0 <= expected <= MAX_EXPECTED:
        errors.append(EXPECTED_RANGE)
    if year is None:
        errors.append(f"Ange ett år, t.ex. {today.year}.")
    elif not actor.is_admin and year != today.year:
        errors.append(f"Mätomgångar startas för innevarande år ({today.year}).")
    elif year > today.year or year < FIRST_YEAR:
        errors.append(f"Året ska vara {today.year} eller ett tidigare år.")
    elif year < today.year and year_is_published(db, year):
        errors.append(f"Resultaten för {year} är publicerade; starta ingen ny mätomgång det året.")
    return errors


def listed(query: SelectOfScalar[Round], *first) -> SelectOfScalar[Round]:
    """Rounds as pages and the CLI list them: by ``first``, then questionnaire, insats name
    (the whole förbund first), mode and id. A round has only the day it was created, and
    the database returns rows of equal sort keys in any order (ids are random)."""
    return query.outerjoin(
        Intervention, col(Intervention.id) == col(Round.intervention_id)
    ).order_by(
        *first,
        col(Round.questionnaire_key),
        func.coalesce(col(Intervention.name), ""),
        col(Round.mode),
        col(Round.id),
    )


def find_duplicate(
    db: Session, *, questionnaire: str, year: int, intervention_id: str | None, mode: str
) -> Round | None:
    """A round with the same questionnaire, insats, year and mode that is not closed."""
    query = select(Round).where(
        col(Round.questionnaire_key) == questionnaire,
        col(Round.year) == year,
        col(Round.mode) == mode,
        col(Round.state) != RoundState.closed.value,
    )
    if intervention_id is None:
        query = query.where(col(Round.intervention_id).is_(None))
    else:
        query = query.where(col(Round.intervention_id) == intervention_id)
    return db.exec(query).first()


def start_round(
    db: Session,
    *,
    actor: Actor,
    questionnaire_keys: Iterable[str],
    questionnaire: str,
    year: int | None,
    intervention_id: str | None,
    mode: str,
    expected: int | None = None,
    open_now: bool = True,
    confirm_duplicate: bool = False,
    today: date | None = None,
) -> Round:
    """The one way web and CLI start a round: rules, duplicate check, create, open.

    Raises Refused (an actor who does not manage the insats: staff start rounds only for
    their own insatser), RoundRuleError (nothing written) or DuplicateRound (unless
    confirmed).
    """
    if not actor.can_manage(intervention_id):
        raise Refused(NOT_OWN_INSATS)
    errors = check_new_round(
        db,
        actor=actor,
        questionnaire_keys=questionnaire_keys,
        questionnaire=questionnaire,
        year=year,
        intervention_id=intervention_id,
        mode=mode,
        expected=expected,
        today=today,
    )
    if errors:
        raise RoundRuleError(errors)
    assert year is not None  # checked above
    locks.in_turn(db, "round-start")  # a double click: the second sees the first's round
    existing = find_duplicate(
        db, questionnaire=questionnaire, year=year, intervention_id=intervention_id, mode=mode
    )
    if existing is not None and not confirm_duplicate:
        raise DuplicateRound(existing)
    round_ = create_round(
        db,
        questionnaire=questionnaire,
        year=year,
        intervention_id=intervention_id,
        mode=mode,
        expected=expected,
    )
    if open_now:
        open_round(db, round_, today=today)
    audit(db, actor, "omgång.skapa", f"{label_of(db, round_)} ({MODE_LABELS[round_.mode]})")
    return round_


def change_state(db: Session, actor: Actor, round_: Round, action: str) -> Round:
    """Öppna (``oppna``) or Stäng (``stang``) a round, audited as ``omgång.<action>``.

    Staff manage their own insatser's rounds; a round of a published year is opened
    again only by the administrator. RoundStateError (Swedish, nothing changed) else.
    """
    require_manage(actor, round_.intervention_id)
    if action == "oppna":
        if not actor.is_admin and year_is_published(db, round_.year):
            raise RoundStateError(
                f"Resultaten för {round_.year} är publicerade: bara administratören kan "
                "öppna en mätomgång för det året igen. Ingenting har ändrats."
            )
        open_round(db, round_)
        audit(db, actor, "omgång.oppna", label_of(db, round_))
    elif action == "stang":
        label = label_of(db, round_)
        # the entry goes into the transaction that closes the round (a release commits it)
        close_round(db, round_, with_state=lambda: audit(db, actor, "omgång.stang", label))
    else:
        raise RoundStateError("Okänd ändring av mätomgången.")
    return round_


def remove_round(db: Session, actor: Actor, round_: Round) -> str:
    """Remove a mistaken empty round (``delete_round``), audited; returns its label."""
    require_manage(actor, round_.intervention_id)
    label = label_of(db, round_)
    delete_round(db, round_)
    audit(db, actor, "omgång.ta_bort", label)
    return label


def label_of(db: Session, round_: RoundLike) -> str:
    """The round as a person names it, read from the database (audit log, messages)."""
    qn = db.get(Questionnaire, round_.questionnaire_key)
    insats = db.get(Intervention, round_.intervention_id) if round_.intervention_id else None
    return round_label(
        round_, qn.name if qn else round_.questionnaire_key, insats.name if insats else None
    )


def create_round(
    db: Session,
    *,
    questionnaire: str,
    year: int,
    intervention_id: str | None = None,
    mode: str = RoundMode.open_link.value,
    expected: int | None = None,
    opens_on: date | None = None,
    closes_on: date | None = None,
) -> Round:
    """Create a round in state draft with a fresh random open-link code (no rules)."""
    if mode not in MODE_LABELS:
        raise ValueError(f"Okänt läge {mode!r}.")
    if expected is not None and not 0 <= expected <= MAX_EXPECTED:
        raise ValueError(EXPECTED_RANGE)
    if opens_on and closes_on and closes_on < opens_on:
        raise ValueError("Slutdatum kan inte ligga före startdatum.")
    round_ = Round(
        code=secrets.token_urlsafe(9),
        questionnaire_key=questionnaire,
        year=year,
        intervention_id=intervention_id,
        mode=mode,
        expected=expected,
        opens_on=opens_on,
        closes_on=closes_on,
    )
    db.add(round_)
    db.flush()
    return round_


def can_open(round_: Round, *, today: date | None = None) -> bool:
    """Öppna is offered for a draft, and for a closed round within its own year."""
    today = today or clock.today()
    if round_.state == RoundState.draft.value:
        return True
    return round_.state == RoundState.closed.value and today.year <= round_.year


def can_close(round_: Round) -> bool:
    """Stäng is offered only for an open round."""
    return round_.state == RoundState.open.value


def open_round(db: Session, round_: Round, *, today: date | None = None) -> Round:
    """draft → open, or closed → open within the round's own year."""
    today = today or clock.today()
    if round_.state == RoundState.open.value:
        raise RoundStateError("Mätomgången är redan öppen.")
    if round_.state == RoundState.closed.value and today.year > round_.year:
        raise RoundStateError(
            f"Mätomgången för {round_.year} är stängd och kan inte öppnas igen efter året."
        )
    round_.state = RoundState.open.value
    db.add(round_)
    db.flush()
    return round_


def close_round(
    db: Session, round_: Round, *, with_state: Callable[[], None] | None = None
) -> Round:
    """open → closed (a draft can also be closed: it is then never used).

    Every answer of the round that waits to be released is released now, in the same
    transaction as the new state (committed here, as releases are; DESIGN.md
    "Storage"). A key file that cannot be removed, or is missing for waiting answers,
    is refused with a Swedish message and nothing changes. ``with_state``: work that
    belongs to the new state's transaction (its audit entry), done once the refusals
    are past, and again should a concurrent release roll that transaction back.
    """
    if round_.state == RoundState.closed.value:
        raise RoundStateError("Mätomgången är redan stängd.")
    waiting = db.exec(
        select(func.count())
        .select_from(PendingResponse)
        .where(col(PendingResponse.round_id) == round_.id)
    ).one()
    if waiting:
        try:
            submissions.check_release(db, [round_.id])
        except submissions.PendingKeyError as exc:
            raise RoundStateError(str(exc)) from None

    def mark_closed() -> None:
        round_.state, round_.closed_at = RoundState.closed.value, clock.utcnow()
        db.add(round_)
        if with_state is not None:
            with_state()
        db.flush()

    mark_closed()
    if waiting:
        try:
            submissions.release_pending(db, min_batch=1, round_ids=[round_.id])
        except submissions.PendingKeyError as exc:  # a key removed since the check
            db.rollback()
            raise RoundStateError(str(exc)) from None
        if round_.state != RoundState.closed.value:  # (read again after the release)
            mark_closed()  # rolled back: another worker released first; state and entry again
    return round_


def usage(db: Session, round_id: str) -> tuple[int, int]:
    """(questionnaires received, used single-use links) of a round.

    Counted from the weekly counters, which include questionnaires still waiting
    to be released into the answers.
    """
    answers = db.exec(
        select(func.coalesce(func.sum(ResponseCount.count), 0)).where(
            col(ResponseCount.round_id) == round_id
        )
    ).one()
    used = db.exec(
        select(func.count())
        .select_from(LinkToken)
        .where(LinkToken.round_id == round_id, col(LinkToken.used).is_(True))
    ).one()
    return answers, used


def is_empty(db: Session, round_: Round) -> bool:
    """No answers stored and no link used: the round can be removed without a trace."""
    return usage(db, round_.id) == (0, 0)


def delete_round(db: Session, round_: Round) -> None:
    """Remove a mistaken empty round with its unused links, mail counts and kiosk link."""
    if not is_empty(db, round_):
        raise RoundStateError(
            "Mätomgången har svar eller använda länkar och kan inte tas bort. Stäng den i stället."
        )
    for model in (LinkToken, MailBatch, KioskEnrolment, KioskRetiredLink):
        db.exec(delete(model).where(table_of(model).c.round_id == round_.id))
    db.delete(round_)
    db.flush()


def paper_entry_refusal(db: Session, round_: Round, *, admin: bool) -> str | None:
    """Why a paper questionnaire may not be typed into this round now (None: it may).

    Paper forms go only into open rounds of the current year, so that nobody can lift
    a hidden cell of an earlier year with answers of their own choosing and subtract
    them; the administrator may also complete a closed round of an unpublished year.
    """
    this_year = clock.today().year
    if year_is_published(db, round_.year):
        # Forms typed in after publication are known to whoever typed them; only the
        # administrator (who then republishes) may add them (DESIGN.md "typed in").
        if admin:
            return None
        return (
            f"Resultaten för {round_.year} är publicerade: pappersenkäter för det året "
            "registreras av administratören. Ingenting har ändrats."
        )
    if round_.state == RoundState.open.value and round_.year == this_year:
        return None
    if admin and round_.state == RoundState.closed.value:
        return None
    if admin:
        return (
            f"Pappersenkäter kan bara registreras i öppna omgångar för {this_year}, "
            "eller i en stängd omgång för ett år som inte är publicerat."
        )
    return f"Pappersenkäter kan bara registreras i öppna omgångar för {this_year}."


def create_tokens(db: Session, round_: Round, *, count: int) -> list[str]:
    """Make ``count`` single-use tokens; only their hashes are stored."""
    if not 1 <= count <= MAX_TOKENS:
        raise ValueError(f"Antalet länkar måste vara mellan 1 och {MAX_TOKENS}.")
    tokens = [secrets.token_urlsafe(16) for _ in range(count)]
    for token in tokens:
        db.add(
            LinkToken(token_hash=hash_token(token), round_id=round_.id, created_on=clock.today())
        )
    db.flush()
    return tokens


def revoke_tokens(db: Session, tokens: Iterable[str]) -> int:
    """Delete unused single-use links (e.g. of addresses whose mail failed)."""
    hashes = [hash_token(t) for t in tokens]
    if not hashes:
        return 0
    result = db.exec(
        delete(LinkToken).where(
            col(LinkToken.token_hash).in_(hashes), col(LinkToken.used).is_(False)
        )
    )
    db.flush()
    return result.rowcount


def new_kiosk_link(db: Session, round_: Round) -> str:
    """A fresh enrolment token for the round's tablets; the earlier one is retired (it
    opens no new form, but takes the forms fetched with it for the grace period)."""
    token = secrets.token_urlsafe(24)
    row = db.get(KioskEnrolment, round_.id)
    if row is None:
        row = KioskEnrolment(round_id=round_.id, token_hash="")
    else:
        _retire(db, row)
    row.token_hash = hash_token(token)
    db.add(row)
    db.flush()
    return token


def revoke_kiosk_link(db: Session, round_: Round) -> bool:
    """Revoke the enrolment link: tablets that opened it get no new form; what they
    already fetched is taken for the grace period (see KioskRetiredLink)."""
    row = db.get(KioskEnrolment, round_.id)
    if row is None:
        return False
    _retire(db, row)
    db.delete(row)
    db.flush()
    return True


def _retire(db: Session, row: KioskEnrolment) -> None:
    """Keep the old link's hash with the time it stopped; forget links retired longer
    ago than any grace period can be."""
    now = clock.utcnow()
    retired = table_of(KioskRetiredLink).c
    db.exec(delete(KioskRetiredLink).where(retired.retired_at < now - MAX_RETIRED_AGE))
    db.add(KioskRetiredLink(token_hash=row.token_hash, round_id=row.round_id, retired_at=now))


def has_kiosk_link(db: Session, round_: Round) -> bool:
    return db.get(KioskEnrolment, round_.id) is not None


@dataclass(frozen=True)
class KioskLink:
    """The round an enrolment link opens; ``retired_at`` is set for a replaced or
    revoked link that still takes forms fetched with it (within the grace period)."""

    round: Round
    retired_at: datetime | None = None


def find_kiosk_link(db: Session, token: str, *, grace_seconds: int) -> KioskLink | None:
    """The kiosk round of an enrolment token: the current link, or one retired at most
    ``grace_seconds`` ago; None for an unknown or older link (or a round not in kiosk mode)."""
    if not token or len(token) > 64:
        return None
    token_hash = hash_token(token)
    row = db.exec(select(KioskEnrolment).where(KioskEnrolment.token_hash == token_hash)).first()
    retired_at = None
    if row is None:
        old = db.get(KioskRetiredLink, token_hash)
        if old is None or clock.utcnow() - _aware(old.retired_at) > timedelta(
            seconds=grace_seconds
        ):
            return None
        round_id, retired_at = old.round_id, _aware(old.retired_at)
    else:
        round_id = row.round_id
    round_ = db.get(Round, round_id)
    if round_ is None or round_.mode != RoundMode.kiosk.value:
        return None
    return KioskLink(round=round_, retired_at=retired_at)


def find_by_kiosk_token(db: Session, token: str) -> Round | None:
    """The kiosk round the current enrolment token opens, or None (unknown, retired, not kiosk)."""
    found = find_kiosk_link(db, token, grace_seconds=0)
    return found.round if found is not None and found.retired_at is None else None


def _aware(moment: datetime) -> datetime:
    """A stored instant as aware UTC (SQLite gives it back naive)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def find_by_code(db: Session, code: str) -> Round | None:
    if not code or len(code) > 32:
        return None
    return db.exec(select(Round).where(Round.code == code)).first()


def find_by_token(db: Session, token: str) -> tuple[Round, LinkToken] | None:
    if not token or len(token) > 64:
        return None
    link = db.get(LinkToken, hash_token(token))
    round_ = db.get(Round, link.round_id) if link is not None else None
    return None if link is None or round_ is None else (round_, link)


@overload
def intervention_by_name(db: Session, name: str, *, create: Literal[True]) -> Intervention: ...
@overload
def intervention_by_name(
    db: Session, name: str, *, create: bool = False
) -> Intervention | None: ...
def intervention_by_name(db: Session, name: str, *, create: bool = False) -> Intervention | None:
    """The insats with this name, compared without regard to case or Unicode form
    ("steget" finds "Steget"); with ``create``, a new one if none (InvalidName, a
    ValueError in Swedish, for a name that cannot be used)."""
    row = db.exec(select(Intervention).where(Intervention.name_key == name_key(name))).first()
    if row is None and create:
        row = Intervention(name=usable_new_name(db, name))
        db.add(row)
        db.flush()
    return row


def usable_new_name(db: Session, raw: str) -> str:
    """The one rule set for a name an insats gets, however it is made (the administrator's
    page, ``surveys rounds create --insats``, an imported answer file) or renamed: the
    cleaned name (``names.clean_insats_name``), or InvalidName (Swedish) when it cannot be
    used, is another insats's, or is a name in a publication (a former insats's published
    rows would be shown as the new one's)."""
    name = clean_insats_name(raw)
    if intervention_by_name(db, name) is not None:
        raise InvalidName(TAKEN_NAME)
    if _in_publications(db, name):
        raise InvalidName(PUBLISHED_NAME)
    return name


def _in_publications(db: Session, name: str) -> bool:
    published = [table_of(PublicationRow), table_of(PublicationGroup)]
    return any(
        db.exec(select(t.c.scope).where(t.c.scope == name).limit(1)).first() for t in published
    )


def create_intervention(db: Session, name: str) -> Intervention:
    """A new insats; InvalidName (Swedish) for a name that cannot be used or is taken."""
    return intervention_by_name(db, usable_new_name(db, name), create=True)


def create_insats(db: Session, actor: Actor, name: str) -> Intervention:
    """The administrator creates an insats (``insats.skapa``); InvalidName or Refused."""
    require_admin(actor)
    insats = create_intervention(db, name)
    audit(db, actor, "insats.skapa", insats.name)
    return insats


def insats_named(db: Session, actor: Actor, name: str) -> Intervention:
    """The insats with this name, created (by the same rules, audited) when there is none."""
    found = intervention_by_name(db, name)
    return found if found is not None else create_insats(db, actor, name)


def rename_insats(db: Session, actor: Actor, insats: Intervention, name: str) -> None:
    """The administrator renames an insats (``insats.byt_namn``); InvalidName or Refused."""
    require_admin(actor)
    old = insats.name
    rename_intervention(db, insats, name)
    audit(db, actor, "insats.byt_namn", f"{old} → {insats.name}")


def rename_intervention(db: Session, intervention: Intervention, name: str) -> None:
    """Rename an insats; raises InvalidName (Swedish) for an unusable or taken name."""
    name = clean_insats_name(name)
    taken = intervention_by_name(db, name)
    if taken is not None and taken.id != intervention.id:
        raise InvalidName(TAKEN_NAME)
    if name == intervention.name:
        return
    if _in_publications(db, name):
        raise InvalidName(PUBLISHED_NAME)
    published = [table_of(PublicationRow), table_of(PublicationGroup)]
    # Publications name an insats's rows by its name; they follow the rename, so its
    # published years stay in its report (the figures themselves do not change).
    for table in published:
        db.execute(update(table).where(table.c.scope == intervention.name).values(scope=name))

    rename_in_versions(db, intervention.name, name)
    intervention.name = name
    db.add(intervention)
    db.flush()


def round_label(round_: RoundLike, questionnaire_name: str, intervention_name: str | None) -> str:
    """How a person names a round: "Deltagare avslut 2026 – Steget vidare"."""
    return f"{questionnaire_name} {round_.year} – {intervention_name or 'Hela förbundet'}"


# --- links as actions (staff of the round's insats, or the administrator) -------------

LINK_ACTIONS = ("länkar.skapa", "lappar.skapa")  # a CSV of links, or printed slips
CLOSED_NO_LINKS = (
    "Mätomgången är stängd och tar inte emot svar, så inga länkar, QR-koder eller affischer "
    "görs för den. Starta en ny mätomgång om fler ska svara."
)
NOT_KIOSK = (
    "Mätomgången besvaras inte på surfplattor, så den har ingen kiosklänk. Ingenting har ändrats."
)


def link_refusal(round_: Round) -> str | None:
    """Why no link to this round may be made now (None: it may): a closed round takes no
    answers, so it gets no links, QR codes, posters, slips or kiosk link."""
    return CLOSED_NO_LINKS if round_.state == RoundState.closed.value else None


def make_links(
    db: Session, actor: Actor, round_: Round, *, count: int, action: str, note: str = ""
) -> list[str]:
    """Single-use links for a round, audited as ``action`` ("<round>: <count> st<note>").

    Refused (Swedish, nothing written) for an actor who does not manage the round's
    insats or a closed round (``link_refusal``)."""
    require_manage(actor, round_.intervention_id)
    if (refusal := link_refusal(round_)) is not None:
        raise Refused(refusal)
    if action not in LINK_ACTIONS:
        raise ValueError(f"Okänd åtgärd {action!r}.")
    tokens = create_tokens(db, round_, count=count)
    audit(db, actor, action, f"{label_of(db, round_)}: {count} st{note}")
    return tokens


def issue_kiosk_link(db: Session, actor: Actor, round_: Round) -> str:
    """A new enrolment link for the round's tablets (``kiosk.ny_lank``); the token.

    Refused (Swedish, nothing written) for an actor who does not manage the round's
    insats, a round not answered on tablets (``NOT_KIOSK``) or a closed round."""
    require_manage(actor, round_.intervention_id)
    if round_.mode != RoundMode.kiosk.value:
        raise Refused(NOT_KIOSK)
    if (refusal := link_refusal(round_)) is not None:
        raise Refused(refusal)
    token = new_kiosk_link(db, round_)
    audit(db, actor, "kiosk.ny_lank", label_of(db, round_))
    return token


def withdraw_kiosk_link(db: Session, actor: Actor, round_: Round) -> None:
    """Revoke the round's enrolment link (``kiosk.aterkalla``)."""
    require_manage(actor, round_.intervention_id)
    revoke_kiosk_link(db, round_)
    audit(db, actor, "kiosk.aterkalla", label_of(db, round_))


def record_mail(
    db: Session, actor: Actor, round_: Round, *, sent: int, failed_tokens: list[str]
) -> int:
    """After sending links by mail: the failed addresses' links are revoked, the sent ones
    counted, the outcome audited (``länkar.skicka``); returns how many were revoked."""
    require_manage(actor, round_.intervention_id)
    revoked = revoke_tokens(db, failed_tokens)
    if sent:
        db.add(MailBatch(round_id=round_.id, sent_on=clock.today(), count=sent))
        db.flush()
    detail = f"{sent} skickade, {len(failed_tokens)} misslyckades"
    audit(db, actor, "länkar.skicka", f"{label_of(db, round_)}: {detail}")
    return revoked


# --- a paper questionnaire typed in (staff of the round's insats, or the administrator) --


def register_paper(
    db: Session,
    actor: Actor,
    round_: Round,
    clean: CleanSubmission,
    *,
    form_key: str,
) -> submissions.Outcome:
    """Type in a paper questionnaire (``pappersenkät.registrera``, the round by name).

    Stored through ``submissions.submit``, the web form's path, with the paper form's
    key: a double click stores one questionnaire. The audit entry and the typist's count
    (``record_typed``) are added first and committed together with the questionnaire by
    submit's own transaction; when the outcome is anything but stored, submit rolls them
    back with it, so nothing is kept of a form that was not stored. Refused (nothing
    written) for an actor who does not manage the round's insats or when the round takes
    no paper forms now (``paper_entry_refusal``).
    """
    require_manage(actor, round_.intervention_id)
    refusal = paper_entry_refusal(db, round_, admin=actor.is_admin)
    if refusal is not None:
        raise Refused(refusal)
    if (clean.questionnaire, clean.year) != (round_.questionnaire_key, round_.year):
        raise ValueError("Enkäten hör inte till mätomgången. Ingenting har sparats.")
    if not form_key:
        raise ValueError("Formulärets nyckel saknas. Ingenting har sparats.")
    audit(db, actor, "pappersenkät.registrera", label_of(db, round_))
    record_typed(db, round_, gender=clean.gender, typed_by=actor.email)
    return submissions.submit(
        db,
        round_=round_,
        clean=clean,
        idempotency_key="paper:" + form_key,
        check_open=round_.state == RoundState.open.value,
    )
