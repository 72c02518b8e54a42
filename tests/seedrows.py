"""Answers that reproduce rows of the seed's 2023 table (appendix 7 of the annual report).

118 exit questionnaires: 63 kvinnor, 51 män, 4 without gender.
- Indicator 1, question 1, Samtliga: n=118, 2% / 3% / 96% (81%), svarsfrekvens 96%
  and kvinnor: n=63, 2% / 3% / 95% (86%), 100%
- Indicator 4, question 4, kvinnor: n=63, 7% / 9% / 84% (77%), 89%
- Indicator 6, question 9 (asked after Ja on 8), Samtliga: n=115, 3% / 12% / 85% (65%), 99%
"""

from __future__ import annotations

import pandas as pd

YEAR = 2023
GENDERS = ["kvinna"] * 63 + ["man"] * 51 + [""] * 4
Q1 = (
    [1]
    + [3] * 2
    + [6] * 54
    + [4] * 6  # kvinnor
    + [2]
    + [3]
    + [5] * 38
    + [4] * 7
    + [None] * 4  # män
    + [4] * 3
    + [None]
)  # no gender
Q4 = [1] * 4 + [3] * 5 + [6] * 43 + [4] * 4 + [0] * 4 + [None] * 3 + [5] * 55
Q8 = [1] * 115 + [2, 2, 0]
Q9 = [1] * 3 + [3] * 14 + [6] * 74 + [4] * 23 + [None]  # for the 115 who said Ja
Q10 = [6] * 100 + [4] * 10 + [3] * 5

EXPECTED = {
    # (indicator, question, subgroup): (n, negative, neutral, positive, clearly_positive, rate)
    (1, 1, "samtliga"): (118, 2, 3, 96, 81, 96),
    (1, 1, "kvinnor"): (63, 2, 3, 95, 86, 100),
    (4, 4, "kvinnor"): (63, 7, 9, 84, 77, 89),
    (6, 9, "samtliga"): (115, 3, 12, 85, 65, 99),
}
PRINTED = [
    # what the report table prints, as in the seed
    ("Samtliga (n=118)", "2%", "3%", "96% (81%)", "96%"),
    ("kvinnor (n=63)", "2%", "3%", "95% (86%)", "100%"),
    ("kvinnor (n=63)", "7%", "9%", "84% (77%)", "89%"),
    ("Samtliga (n=115)", "3%", "12%", "85% (65%)", "99%"),
]


def file_rows() -> list[dict[str, object]]:
    """The 118 questionnaires as rows of the answers file."""
    rows, ja = [], 0
    for i, gender in enumerate(GENDERS):
        row = {
            "year": YEAR,
            "questionnaire": "deltagare_avslut",
            "insats": "Steget",
            "gender": gender,
            "submitted_on": f"{YEAR}-06-01",
        }
        row.update({f"q{n}": "" for n in range(1, 12)})
        row["q1"] = "" if Q1[i] is None else Q1[i]
        row["q4"] = "" if Q4[i] is None else Q4[i]
        row["q8"] = Q8[i]
        if Q8[i] == 1:
            row["q9"] = "" if Q9[ja] is None else Q9[ja]
            row["q10"] = Q10[ja]
            ja += 1
        rows.append(row)
    return rows


def answers_frame() -> pd.DataFrame:
    """The same questionnaires as the scoring input (a row per question put)."""
    records = []
    for i, row in enumerate(file_rows()):
        for n in range(1, 11):
            if n in (9, 10) and row["q8"] != 1:
                continue
            value = row[f"q{n}"]
            records.append(
                {
                    "response": f"r{i}",
                    "year": YEAR,
                    "questionnaire": "deltagare_avslut",
                    "question": n,
                    "question_version": f"deltagare_avslut.{n}.v1",
                    "intervention": "Steget",
                    "gender": row["gender"] or None,
                    "code": None if value == "" else int(value),
                }
            )
    frame = pd.DataFrame(records)
    frame["code"] = frame["code"].astype("Int64")
    return frame


def csv_text() -> str:
    columns = [
        "year",
        "questionnaire",
        "insats",
        "gender",
        "submitted_on",
        *[f"q{n}" for n in range(1, 12)],
    ]
    lines = [",".join(columns)]
    lines += [",".join(str(r[c]) for c in columns) for r in file_rows()]
    return "\n".join(lines) + "\n"
