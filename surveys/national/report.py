"""What the national report page shows, read from the national publications only.

Riket over time, kvinnor and män, every comparison group, the number of förbund
and questionnaires per group and year (like NNS's own national report), and per
indicator each förbund beside Riket (for NNS's staff). Suppressed rows stay
suppressed: a hidden figure is shown as its reason, never as a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session, col

from indicators import Instrument
from surveys.models import NationalPublicationMember, PublicationGroup, PublicationRow
from surveys.names import sort_key
from surveys.national.publish import GROUP_PREFIX, NO_GROUP
from surveys.reports.data import latest_publications
from surveys.services.publications import FORBUND, POOLED


@dataclass
class NationalReport:
    year: int
    years: list[int]
    groups: list[str]  # comparison groups (scope names without the prefix)
    members: list[str]  # förbund of the year
    overview: list[dict]  # per year: förbund and questionnaires, Riket and per group
    indicators: list[dict] = field(default_factory=list)
    method_note: str = ""
    version: int = 1


def _cell(row: PublicationRow | None) -> dict:
    if row is None:
        return {"text": "–", "hidden": False}
    if row.suppressed:
        return {"text": "dold", "hidden": True, "reason": row.reason}
    return {
        "text": f"{row.positive} %" if row.positive is not None else "–",
        "hidden": False,
        "n": row.n,
    }


def build(db: Session, instrument: Instrument, year: int) -> NationalReport | None:
    pubs = latest_publications(db, up_to=year)
    current = pubs.get(year)
    if current is None:
        return None
    ids = {p.id: y for y, p in pubs.items()}
    rows = db.execute(
        select(PublicationRow).where(col(PublicationRow.publication_id).in_(list(ids)))
    ).scalars()
    table: dict[tuple, PublicationRow] = {}
    for r in rows:
        table[(ids[r.publication_id], r.scope, r.questionnaire, r.question, r.subgroup)] = r
    member_rows = (
        db.execute(
            select(NationalPublicationMember).where(
                col(NationalPublicationMember.publication_id).in_(list(ids))
            )
        )
        .scalars()
        .all()
    )
    group_rows = (
        db.execute(
            select(PublicationGroup).where(col(PublicationGroup.publication_id).in_(list(ids)))
        )
        .scalars()
        .all()
    )
    years = sorted(pubs)
    groups = sorted(
        {g.scope[len(GROUP_PREFIX) :] for g in group_rows if g.scope.startswith(GROUP_PREFIX)}
    )
    members = sorted((m.member for m in member_rows if ids[m.publication_id] == year), key=sort_key)
    overview = []
    for y in years:
        of_year = [m for m in member_rows if ids[m.publication_id] == y]
        counts = [g for g in group_rows if ids[g.publication_id] == y]
        per_group: list[tuple[int, int]] = []
        for group in groups:
            in_group = [m for m in of_year if (m.comparison_group or NO_GROUP) == group]
            total = sum(g.count for g in counts if g.scope == GROUP_PREFIX + group)
            per_group.append((len(in_group), total))
        riket = (len(of_year), sum(g.count for g in counts if g.scope == FORBUND))
        overview.append({"year": y, "riket": riket, "groups": per_group})
    indicators = []
    for number, title in sorted(instrument.indicators.items()):
        blocks = []
        for qn in instrument.questionnaires:
            questions = [q for q in qn.questions if q.indicator == number]
            if not questions or not any(
                (year, FORBUND, qn.key, q.number, "samtliga") in table for q in questions
            ):
                continue
            subgroups = ["samtliga", "kvinnor", "man"] if qn.participant else ["samtliga"]
            lines = []
            for q in questions:
                lines.append(
                    {
                        "question": q.number,
                        "text": q.current.text,
                        "over_time": [
                            _cell(table.get((y, FORBUND, qn.key, q.number, "samtliga")))
                            for y in years
                        ],
                        "subgroups": [
                            _cell(table.get((year, FORBUND, qn.key, q.number, s)))
                            for s in subgroups[1:]
                        ],
                        "groups": [
                            _cell(table.get((year, GROUP_PREFIX + g, qn.key, q.number, "samtliga")))
                            for g in groups
                        ],
                    }
                )
            beside = [
                {"name": m, "cell": _cell(table.get((year, m, qn.key, POOLED, "samtliga")))}
                for m in members
            ]
            blocks.append(
                {
                    "questionnaire": qn.short_name,
                    "subgroups": ["kvinnor", "män"] if qn.participant else [],
                    "lines": lines,
                    "riket_pooled": _cell(table.get((year, FORBUND, qn.key, POOLED, "samtliga"))),
                    "beside": beside,
                }
            )
        if blocks:
            indicators.append({"number": number, "title": title, "blocks": blocks})
    return NationalReport(
        year=year,
        years=years,
        groups=groups,
        members=members,
        overview=overview,
        indicators=indicators,
        method_note=current.method_note,
        version=current.version,
    )
