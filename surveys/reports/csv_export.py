"""The report CSV of DESIGN.md: every result row of one year, formula-safe."""

from __future__ import annotations

import csv
import io

import pandas as pd

from indicators import RESULT_COLUMNS
from surveys.files.reading import formula_safe
from surveys.reports.data import ReportData


def report_csv(data: ReportData, *, year: int) -> bytes:
    """The report CSV of DESIGN.md for one year: ``suppressed`` is empty, ``primary`` or
    ``complementary``; ``left_out`` the questionnaires a row leaves out."""
    columns = csv_columns()
    rows = data.results[data.results["year"] == year].assign(suppressed=lambda f: f["hidden"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in rows[columns].itertuples(index=False):
        writer.writerow([_csv_value(v) for v in record])
    return buffer.getvalue().encode("utf-8")


def csv_columns() -> list[str]:
    return [*RESULT_COLUMNS, *(c for c in ("left_out",) if c not in RESULT_COLUMNS)]


def _csv_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or pd.isna(value):
        return ""
    return str(formula_safe(value))
