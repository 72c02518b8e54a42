"""The report's printed tables (header row first) for the PDF and Word files."""

from __future__ import annotations

from surveys.reports import riket


def overview_table(context: dict) -> list[list[str]]:
    """ "Resultatet i korthet" as printed rows (header first), for the PDF and Word files."""
    year = context["year"]
    rows = [["Indikator", "Respondentgrupp", "n", "Positivt", f"Förändring sedan {year - 1}"]]
    for r in context["overview_rows"]:
        if r["empty"]:
            rows.append([str(r["indicator"]), r["empty"], "", "", ""])
        elif r["suppressed"]:
            rows.append([str(r["indicator"]), r["group"], str(r["n"]), r["hidden_text"], ""])
        else:
            rows.append(
                [
                    str(r["indicator"]),
                    r["group"],
                    str(r["n"]),
                    f"{r['positive']}%",
                    r["change_text"] or "–",
                ]
            )
    return rows


def result_table(groups: list[dict]) -> tuple[list[list[str]], list[int]]:
    """The seed's "Resultat YYYY" table as printed rows (header first) for the PDF and Word
    files, and the indexes of the "Fråga N – grupp" heading rows that span the table."""
    group_name = next((g["comparison_group"] for g in groups if g.get("comparison_group")), "")
    rows = [riket.header(RESULT_HEADER, group_name)]
    headings = []
    for g in groups:
        headings.append(len(rows))
        rows.append([group_heading(g)] + [""] * (len(rows[0]) - 1))
        for r in g["rows"]:
            label = r.label + (" (importerad)" if r.imported else "")
            if r.suppressed:
                rows.append([label, r.hidden_text] + [""] * (len(rows[0]) - 2))
            else:
                rows.append(
                    [
                        label,
                        r.negative,
                        r.neutral,
                        r.positive,
                        r.response_rate,
                        r.national,
                        r.difference,
                        *([r.group] if group_name else []),
                    ]
                )
    return rows, headings


RESULT_HEADER = [
    "",
    "Negativt",
    "Varken eller",
    "Positivt (Klart positivt)",
    "svarsfrekvens",
    "Riket",
    "Mot riket",
]


def group_heading(group: dict) -> str:
    """ "Fråga 8 – Deltagare avslut, andel Ja (…)" (a gate question is a share of Ja)."""
    return f"Fråga {group['question']} – {group['questionnaire']}{group['gate_text']}"
