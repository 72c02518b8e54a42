"""Riket and the förbund's comparison group beside the förbund's own figures (issue 21).

NNS's Riket file gives, per year × questionnaire × question × subgroup, the
positive share and ``n`` of Riket and of each comparison group. A report row
shows Riket as "91% (n=3 970)", the comparison group the same way, and the
difference from Riket ("+5", "−3") marked with "*" when it is larger than
chance variation: the appendix's two-proportion z-test at 95 %
(:func:`indicators.report.change_is_significant`), with the förbund's size taken
as its respondents who answered on the scale (as for the change from last year)
and Riket's as its ``n``. The förbund's own answers are part of Riket, which only
makes the test more cautious (a real difference is marked less often, never a
chance one more often).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from indicators.report import change_is_significant
from surveys.reports.data import ReportData

MARK = "*"  # the appendix's marker: larger than chance at 95 %
DIFFERENCE_NOTE = (
    "Mot riket: förbundets andel positiva minus rikets, i procentenheter; * betyder att "
    "skillnaden är större än slumpen kan förklara (test av två andelar, 95 %, förbundets "
    "svarande på skalan mot rikets n)."
)


@dataclass(frozen=True)
class Figure:
    """One national figure: the positive share (percent) and n (None: the file had none)."""

    positive: int
    n: int | None


Key = tuple[int, str, int, str]  # year, questionnaire, question, subgroup


def _lookup(frame: pd.DataFrame) -> dict[Key, Figure]:
    out: dict[Key, Figure] = {}
    for r in frame.to_dict("records"):
        if _missing(r.get("positive")) or _missing(r.get("question")):
            continue
        n = r.get("n")
        key = (int(r["year"]), str(r["questionnaire"]), int(r["question"]), str(r["subgroup"]))
        out[key] = Figure(int(r["positive"]), None if _missing(n) else int(n))
    return out


def lookups(data: ReportData) -> tuple[dict[Key, Figure], dict[Key, Figure]]:
    """Riket's and the comparison group's figures by row key (built once per report data)."""
    if data.riket_lookups is None:
        data.riket_lookups = (_lookup(data.national), _lookup(data.group))
    return data.riket_lookups


def thousands(n: int) -> str:
    """ "3 970" as Swedish print writes it."""
    return f"{n:,}".replace(",", " ")


def figure_text(figure: Figure | None) -> str:
    """ "91% (n=3 970)"; "91%" when the file gave no n; "" when there is no figure."""
    if figure is None:
        return ""
    if figure.n is None:
        return f"{figure.positive}%"
    return f"{figure.positive}% (n={thousands(figure.n)})"


def significant(row: dict, riket: Figure | None) -> bool | None:
    """Whether the row's difference from Riket is larger than chance (None: unknown)."""
    if riket is None or riket.n is None or _missing(row.get("positive")):
        return None
    answered = row.get("answered")
    size = int(answered) if answered is not None and not _missing(answered) else None
    return change_is_significant(int(row["positive"]), size, riket.positive, riket.n)


def row_figures(data: ReportData, row: dict) -> tuple[Figure | None, Figure | None]:
    """(Riket, the comparison group) for one result row."""
    if _missing(row.get("question")):
        return None, None
    key = (int(row["year"]), str(row["questionnaire"]), int(row["question"]), str(row["subgroup"]))
    riket, group = lookups(data)
    return riket.get(key), group.get(key)


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def group_header(name: str) -> str:
    """The comparison group's column: "Jämförelsegrupp storstad"."""
    return f"Jämförelsegrupp {name}"


def header(base: list[str], group_name: str) -> list[str]:
    """The result table's header, with the comparison group's column when there is one."""
    return [*base, group_header(group_name)] if group_name else list(base)


def with_riket(printed: Any, data: ReportData, row: dict) -> Any:
    """A printed table row (context.TableRow) with Riket's n, the comparison group and the
    chance-variation marker on the difference from Riket."""
    riket, group = row_figures(data, row)
    if riket is not None:
        printed.national = figure_text(riket)
    printed.group = "" if printed.suppressed else figure_text(group)
    marked = None if printed.suppressed else significant(row, riket)
    if marked and printed.difference:
        printed.difference += MARK
    printed.values.update(
        national_n=riket.n if riket else None,
        group=group.positive if group else None,
        group_n=group.n if group else None,
        significant=marked,
    )
    return printed


def table_note(base: str, groups: list[dict]) -> str:
    """The note under a result table, saying what "Mot riket" and its * mean when shown."""
    if any(r.difference for g in groups for r in g["rows"]):
        return f"{base} {DIFFERENCE_NOTE}"
    return base
