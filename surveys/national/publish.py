"""Publishing a national year: Riket, each comparison group and each förbund.

The same path as a förbund's publication (DESIGN.md principle 6): the imported
package counts become the two count frames ``indicators.build_cells`` takes
(code counts and pooled sizes, with the förbund in the place of the insats, and
once more with the comparison groups there; förbund without a group form the
scope "utan jämförelsegrupp"), and ``indicators.national.protect_hierarchy``
applies the same disclosure control as ``indicators.disclosure.protect`` with
R2 over three levels at once: Riket = Σ groups, group = Σ its förbund,
Riket = Σ förbund. The result is stored with the same
code as a förbund's (``publications._store``), so the report renderers read it.

Two differences follow from what a package holds. Blank answers are not in a
package, so ``n`` is the number who gave an answer code. A package has no row
per questionnaire, so a pooled row's size (questionnaires with at least one
scale answer) is taken as the largest ``answered`` among its questions: a lower
bound of the true size, so primary suppression is, if anything, stricter.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session, col

from indicators import Instrument
from indicators.disclosure import FORBUND, TYPED_COLUMNS, build_cells
from indicators.national import protect_hierarchy
from indicators.versions import Shown, hidden_keys, hold_back
from surveys import clock
from surveys.models import (
    NationalCount,
    NationalMember,
    NationalModeCount,
    NationalPackage,
    NationalPublicationMember,
    Publication,
    table_of,
)
from surveys.services import publications
from surveys.services.actor import Actor, audit, require_admin
from surveys.services.nns_package import OTHER
from surveys.services.settings import checked_threshold

GROUP_PREFIX = "grupp:"  # scope of a comparison group in the publication
NO_GROUP = "utan jämförelsegrupp"
GENDER_OF_SUBGROUP = {"kvinna": "kvinna", "man": "man", OTHER: "", "": ""}


# A year with this many cells is protected in several processes, one per core (at most
# MAX_WORKERS): every förbund's cells in one program makes a national year's blocks
# large (a minute of work on one core at today's 80 förbund), a förbund's year is small.
PARALLEL_FROM_CELLS = 5_000
MAX_WORKERS = 8


def block_workers(cells: int) -> int:
    """How many processes protect the blocks of a year with ``cells`` cells."""
    if cells < PARALLEL_FROM_CELLS:
        return 1
    # the cores this process may use (a container's share), where Linux tells
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cores or 1))


class NationalPublishError(Exception):
    """Publishing was refused (Swedish message; nothing changed)."""


def group_scope(group: str) -> str:
    return GROUP_PREFIX + (group or NO_GROUP)


def package_counts(db: Session, year: int) -> pd.DataFrame:
    """The year's imported counts per förbund: SQL sums, one row per förbund × code."""
    keys = (
        col(NationalPackage.member_id),
        col(NationalCount.questionnaire),
        col(NationalCount.question),
        col(NationalCount.subgroup),
        col(NationalCount.code),
    )
    rows = db.execute(
        select(*keys, func.sum(col(NationalCount.count)))
        .select_from(NationalCount)
        .join(NationalPackage, col(NationalPackage.id) == col(NationalCount.package_id))
        .where(col(NationalPackage.year) == year)
        .group_by(*keys)
    ).all()
    frame = pd.DataFrame(
        rows, columns=["member", "questionnaire", "question", "subgroup", "code", "count"]
    )
    frame["year"] = year
    frame["gender"] = frame["subgroup"].map(GENDER_OF_SUBGROUP).fillna("")
    return frame.astype({"count": "int64", "question": "int64", "code": "int64"})


def count_frames(
    counts: pd.DataFrame, instrument: Instrument, scope_of: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(code_counts, pooled_sizes)`` as ``indicators.build_cells`` takes them.

    ``scope_of`` maps a member id to the scope its counts go to (the förbund's
    name, or its comparison group); the scope takes the insats's place.
    """
    return scope_frames(counts.assign(intervention=counts["member"].map(scope_of)), instrument)


def scope_frames(counts: pd.DataFrame, instrument: Instrument) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``count_frames`` of counts whose ``intervention`` column already names the scope."""
    keys = ["year", "questionnaire", "question", "intervention", "gender", "code"]
    # sorted by the keys: the packages' counts come from the database in any order
    # (disclosure control sorts its cells itself, in protect_blocks)
    code_counts = counts.groupby(keys, as_index=False, sort=True)["count"].sum()
    # pooled size: the largest number of scale answers among the indicator's questions
    questions = instrument.questions_frame()
    options = instrument.options_frame()
    scale = code_counts.merge(questions, on=["questionnaire", "question"]).merge(
        options, on=["scale", "code"], how="left"
    )
    scale = scale[scale["group"].notna() & ~scale["gate"].astype(bool)]
    per_question = scale.groupby(
        ["year", "indicator", "questionnaire", "question", "intervention", "gender"],
        as_index=False,
    )["count"].sum()
    size_keys = ["year", "indicator", "questionnaire", "intervention", "gender"]
    pooled = per_question.groupby(size_keys, as_index=False)["count"].max()
    pooled = pooled.rename(columns={"count": "respondents"})
    return code_counts[[*keys, "count"]], pooled[[*size_keys, "respondents"]]


# A national version's atoms (``indicators.versions``) are one förbund's counts, keyed by
# the member's id and the comparison group it is counted in, so renaming a förbund
# changes no atom. A published year keeps its groups: a förbund moved to another group
# since is counted in the group it was shown in (else the old group's difference
# between two versions would be that förbund's figures, small ones included).
_ATOM_SEPARATOR = "|"


def _atom_parts(atom: str) -> tuple[str, str]:
    """(member id, comparison group) of an atom scope."""
    member_id, _, group = atom.partition(_ATOM_SEPARATOR)
    return member_id, group


def year_groups(members: dict[str, NationalMember], shown: list[Shown]) -> dict[str, str]:
    """Each member's comparison group for a year: as in the newest shown version of the
    year (where it was in one), else as registered now."""
    groups = {i: m.comparison_group for i, m in members.items()}
    if shown:
        for atom in shown[-1].code_counts["intervention"].astype(str).unique():
            member_id, group = _atom_parts(atom)
            if member_id in groups:
                groups[member_id] = group
    return groups


@dataclass
class NationalYear:
    """A national year computed: the publication's rows and each member's group in it."""

    computed: publications.Computed
    group_of: dict[str, str]  # member id -> comparison group ("" = none)


def compute(
    db: Session,
    instrument: Instrument,
    *,
    year: int,
    min_cell: int,
    previous: Publication | None = None,
) -> NationalYear:
    """Riket, the comparison groups and every förbund of a year, disclosure-controlled.

    As a förbund's ``publications.compute``: each atom (förbund × subgroup ×
    questionnaire) takes its current counts or, when they changed too little since a
    shown version of the year, exactly its figures from the newest one
    (``indicators.versions.hold_back``), and rows hidden in a shown version stay hidden.
    """
    counts = package_counts(db, year)
    members = {m.id: m for m in db.execute(select(NationalMember)).scalars()}
    other = publications.protect_other(db)
    before = publications.previous_sizes(db, previous) if previous is not None else None
    shown = publications.shown_versions(db, year)
    group_of = year_groups(members, shown)
    atoms = {i: f"{i}{_ATOM_SEPARATOR}{group}" for i, group in group_of.items()}
    current = Shown(
        *count_frames(counts, instrument, atoms),
        pd.DataFrame(columns=TYPED_COLUMNS),  # a package has no paper forms per typist
    )
    held = hold_back(current, shown, instrument, min_cell=min_cell)

    def regrouped(scope: Callable[[str], str]) -> pd.DataFrame:
        frame = held.code_counts
        return frame.assign(intervention=frame["intervention"].map(scope))

    def name_of(atom: str) -> str:
        member = members.get(_atom_parts(atom)[0])
        return member.name if member is not None else atom

    cells = build_cells(*scope_frames(regrouped(name_of), instrument), instrument)
    parent_of: dict[str, str] = {}
    if any(group_of.values()):
        by_group = regrouped(lambda atom: group_scope(_atom_parts(atom)[1]))
        group_cells = build_cells(*scope_frames(by_group, instrument), instrument)
        cells = pd.concat([cells, group_cells[group_cells["scope"] != FORBUND]], ignore_index=True)
        parent_of = {m.name: group_scope(group_of[i]) for i, m in members.items()}
    rows = protect_hierarchy(
        cells,
        instrument,
        min_cell=min_cell,
        parent_of=parent_of,
        protect_other=other,
        previous=before,
        hidden_before=held.hidden_before,
        workers=block_workers(len(cells)),
    )
    rows = publications.with_sizes(rows, cells)
    waiting = _waiting_per_scope(held.waiting, name_of)
    computed = publications.Computed(
        year=year,
        rows=rows,
        groups=_less_waiting(_questionnaires(db, year, members, group_of), waiting),
        min_cell=min_cell,
        protect_other=other,
        waiting=held.total_waiting,
        counts=Shown(held.code_counts, held.pooled_sizes, current.typed, hidden_keys(rows)),
        based_on=len(shown),
        waiting_groups=waiting,
    )
    return NationalYear(computed, group_of)


def _waiting_per_scope(waiting: pd.DataFrame, name_of: Callable[[str], str]) -> pd.DataFrame:
    """Questionnaires waiting per questionnaire and scope: each förbund, each comparison
    group and Riket (from their atoms)."""
    if waiting.empty:
        return pd.DataFrame(columns=["questionnaire", "scope", "waiting"])
    per_member = waiting.assign(scope=waiting["scope"].map(name_of))
    per_group = waiting.assign(
        scope=waiting["scope"].map(lambda atom: group_scope(_atom_parts(atom)[1]))
    )
    riket = waiting.assign(scope=FORBUND)
    both = pd.concat([per_member, per_group, riket], ignore_index=True)
    return both.groupby(["questionnaire", "scope"], as_index=False, sort=True)["waiting"].sum()


def _less_waiting(groups: pd.DataFrame, waiting: pd.DataFrame) -> pd.DataFrame:
    """Questionnaires per scope as shown: those that wait are not counted yet."""
    if waiting.empty or groups.empty:
        return groups
    merged = groups.merge(waiting, on=["questionnaire", "scope"], how="left")
    merged["count"] = (merged["count"] - merged["waiting"].fillna(0)).clip(lower=0)
    return merged[groups.columns].astype({"count": "int64"})


def _questionnaires(
    db: Session, year: int, members: dict[str, NationalMember], group_of: dict[str, str]
) -> pd.DataFrame:
    """Questionnaires per scope (Riket, each förbund, each group) and questionnaire."""
    rows = db.execute(
        select(
            col(NationalPackage.member_id),
            col(NationalModeCount.questionnaire),
            func.sum(col(NationalModeCount.count)),
        )
        .join(NationalPackage, col(NationalPackage.id) == col(NationalModeCount.package_id))
        .where(col(NationalPackage.year) == year)
        .group_by(col(NationalPackage.member_id), col(NationalModeCount.questionnaire))
    ).all()
    frame = pd.DataFrame(rows, columns=["member", "questionnaire", "count"]).astype(
        {"count": "int64"}
    )
    names = {i: m.name for i, m in members.items()}
    parts = [
        frame.groupby("questionnaire", as_index=False)["count"].sum().assign(scope=FORBUND),
        frame.assign(scope=frame["member"].map(names)),
    ]
    if any(group_of.values()):
        grouped = frame.assign(scope=frame["member"].map(lambda i: group_scope(group_of[i])))
        parts.append(grouped.groupby(["scope", "questionnaire"], as_index=False)["count"].sum())
    out = pd.concat(parts, ignore_index=True)
    return out.groupby(["scope", "questionnaire"], as_index=False)["count"].sum()


def has_packages(db: Session, year: int) -> bool:
    """Whether any förbund's package of ``year`` is imported."""
    found = db.execute(select(col(NationalPackage.id)).where(col(NationalPackage.year) == year))
    return found.first() is not None


def publish_year(
    db: Session,
    actor: Actor,
    instrument: Instrument,
    *,
    year: int,
    min_cell: int,
    now: datetime | None = None,
) -> Publication:
    """NNS's administrator publishes a national year (``riket.publicera``; a new version
    when published before); flushes. NationalPublishError or Refused, nothing written."""
    require_admin(actor)
    min_cell = checked_threshold(min_cell, NationalPublishError)
    now = now or clock.now()
    packages = db.execute(
        select(NationalPackage, NationalMember)
        .join(NationalMember, col(NationalMember.id) == col(NationalPackage.member_id))
        .where(col(NationalPackage.year) == year)
    ).all()
    if not packages:
        raise NationalPublishError(f"Det finns inga importerade paket för {year} att publicera.")
    previous = publications.latest(db, year)
    national_year = compute(db, instrument, year=year, min_cell=min_cell, previous=previous)
    computed = national_year.computed
    publication = publications.store_publication(
        db,
        instrument,
        computed,
        version=(previous.version + 1) if previous else 1,
        user_email=actor.email,
        now=now,
    )
    publication.method_note = method_note(publication.method_note, len(packages))
    try:
        publications.record_shown(db, computed, kind="publication", publication_id=publication.id)
    except publications.VersionRace:
        raise NationalPublishError(
            f"{year} publicerades samtidigt från ett annat håll. Ingenting publicerades; "
            "försök igen."
        ) from None
    db.add(publication)
    db.connection().execute(
        table_of(NationalPublicationMember).insert(),
        [
            {
                "publication_id": publication.id,
                "member": member.name,
                "comparison_group": national_year.group_of.get(member.id, ""),
                "package_digest": package.digest,
            }
            for package, member in packages
        ],
    )
    audit(
        db,
        actor,
        "riket.publicera",
        f"{year} version {publication.version}; {len(packages)} förbund, "
        f"{len(computed.rows)} rader, {publications.hidden_count(computed.rows)} dolda",
    )
    db.flush()
    return publication


def method_note(forbund_note: str, members: int) -> str:
    return (
        f"Riket är summan av de {members} förbundens signerade paket med antal svar, räknade "
        "med samma kod och samma röjandeskydd som förbundens egna publiceringar. n är antalet "
        "som gav ett svar (tomma svar finns inte i paketen).\n\n"
        # a national version's groups are förbund, not insatser
        + forbund_note.replace("(insats och kön)", "(förbund och kön)")
    )


def published_members(db: Session, publication: Publication) -> list[tuple[str, str]]:
    """(förbund, comparison group) counted by a national publication."""
    rows = db.execute(
        select(
            col(NationalPublicationMember.member), col(NationalPublicationMember.comparison_group)
        )
        .where(col(NationalPublicationMember.publication_id) == publication.id)
        .order_by(col(NationalPublicationMember.member))
    ).all()
    return [(m, g) for m, g in rows]
