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

from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session, col

from indicators import Instrument
from indicators.disclosure import FORBUND, build_cells
from indicators.national import protect_hierarchy
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
from surveys.services.audit import record
from surveys.services.nns_package import OTHER

GROUP_PREFIX = "grupp:"  # scope of a comparison group in the publication
NO_GROUP = "utan jämförelsegrupp"
GENDER_OF_SUBGROUP = {"kvinna": "kvinna", "man": "man", OTHER: "", "": ""}


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
    frame = counts.assign(intervention=counts["member"].map(scope_of))
    keys = ["year", "questionnaire", "question", "intervention", "gender", "code"]
    code_counts = frame.groupby(keys, as_index=False, sort=False)["count"].sum()
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


def compute(
    db: Session,
    instrument: Instrument,
    *,
    year: int,
    min_cell: int,
    previous: Publication | None = None,
) -> publications.Computed:
    """Riket, the comparison groups and every förbund of a year, disclosure-controlled."""
    counts = package_counts(db, year)
    members = {m.id: m for m in db.execute(select(NationalMember)).scalars()}
    other = publications.protect_other(db)
    before = publications._previous_sizes(db, previous) if previous is not None else None  # noqa: SLF001
    by_member = {i: m.name for i, m in members.items()}
    cells = build_cells(*count_frames(counts, instrument, by_member), instrument)
    parent_of: dict[str, str] = {}
    if any(m.comparison_group for m in members.values()):
        by_group = {i: group_scope(m.comparison_group) for i, m in members.items()}
        group_cells = build_cells(*count_frames(counts, instrument, by_group), instrument)
        cells = pd.concat([cells, group_cells[group_cells["scope"] != FORBUND]], ignore_index=True)
        parent_of = {m.name: group_scope(m.comparison_group) for m in members.values()}
    rows = protect_hierarchy(
        cells,
        instrument,
        min_cell=min_cell,
        parent_of=parent_of,
        protect_other=other,
        previous=before,
    )
    rows = publications._with_sizes(rows, cells)  # noqa: SLF001
    return publications.Computed(
        year=year,
        rows=rows,
        groups=_questionnaires(db, year, members),
        min_cell=min_cell,
        protect_other=other,
    )


def _questionnaires(db: Session, year: int, members: dict[str, NationalMember]) -> pd.DataFrame:
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
    if any(m.comparison_group for m in members.values()):
        grouped = frame.assign(
            scope=frame["member"].map(
                {i: group_scope(m.comparison_group) for i, m in members.items()}
            )
        )
        parts.append(grouped.groupby(["scope", "questionnaire"], as_index=False)["count"].sum())
    out = pd.concat(parts, ignore_index=True)
    return out.groupby(["scope", "questionnaire"], as_index=False)["count"].sum()


def publish_year(
    db: Session,
    instrument: Instrument,
    *,
    year: int,
    user_email: str,
    min_cell: int,
    now: datetime | None = None,
) -> Publication:
    """Compute and store a national year (a new version when published before); flushes."""
    now = now or clock.now()
    packages = db.execute(
        select(NationalPackage, NationalMember)
        .join(NationalMember, col(NationalMember.id) == col(NationalPackage.member_id))
        .where(col(NationalPackage.year) == year)
    ).all()
    if not packages:
        raise NationalPublishError(f"Det finns inga importerade paket för {year} att publicera.")
    previous = publications.latest(db, year)
    computed = compute(db, instrument, year=year, min_cell=min_cell, previous=previous)
    publication = publications._store(  # noqa: SLF001 - the förbund's own storing
        db,
        instrument,
        computed,
        version=(previous.version + 1) if previous else 1,
        user_email=user_email,
        now=now,
    )
    publication.method_note = method_note(publication.method_note, len(packages))
    db.add(publication)
    db.connection().execute(
        table_of(NationalPublicationMember).insert(),
        [
            {
                "publication_id": publication.id,
                "member": member.name,
                "comparison_group": member.comparison_group,
                "package_digest": package.digest,
            }
            for package, member in packages
        ],
    )
    record(
        db,
        user_email=user_email,
        action="riket.publicera",
        detail=(
            f"{year} version {publication.version}; {len(packages)} förbund, "
            f"{len(computed.rows)} rader, {publications.hidden_count(computed.rows)} dolda"
        ),
    )
    db.flush()
    return publication


def method_note(forbund_note: str, members: int) -> str:
    return (
        f"Riket är summan av de {members} förbundens signerade paket med antal svar, räknade "
        "med samma kod och samma röjandeskydd som förbundens egna publiceringar. n är antalet "
        "som gav ett svar (tomma svar finns inte i paketen).\n\n" + forbund_note
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
