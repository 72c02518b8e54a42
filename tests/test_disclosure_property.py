"""Disclosure control played by an attacker who sees only the published rows.

The attacker here is written independently of ``indicators.disclosure``: it
rebuilds R1, R2 and R3 from the instrument, puts every figure it can read from
the published rows into the equations, and asks by matrix rank whether any
unknown figure is pinned down (e_j in the row space of the unknowns' matrix).
The only thing it borrows from the truth is which never-published parts are
non-empty and every cell's size, to judge what counts as a leak.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators import Instrument
from indicators.disclosure import REASON_RELATION, build_cells, count_frames, protect
from surveys.services.catalogue import DEFAULT_FILE

INSTRUMENT = Instrument.load(DEFAULT_FILE)
VALUE_COLUMNS = ["answered", "negative_n", "neutral_n", "positive_n", "clearly_positive_n"]
POOLED = "P"
GENDERS = {"kvinna": "kvinnor", "man": "man"}
COMPLEMENTARY = set(REASON_RELATION.values())


# --------------------------------------------------------------------------
# Building answers
# --------------------------------------------------------------------------
def respondents(
    questionnaire: str,
    intervention: str,
    gender: str,
    answers: dict[int, int | None],
    count: int = 1,
    *,
    year: int = 2024,
) -> list[dict]:
    """``count`` identical questionnaires as answer rows (``None`` = left blank)."""
    rows = []
    for _ in range(count):
        response = f"r{len(_ALL)}"
        _ALL.append(response)
        for question, code in answers.items():
            rows.append(
                {
                    "response": response,
                    "year": year,
                    "questionnaire": questionnaire,
                    "question": question,
                    "question_version": "",
                    "intervention": intervention,
                    "gender": gender,
                    "code": code,
                }
            )
    return rows


_ALL: list[str] = []


def frame(rows: list[dict]) -> pd.DataFrame:
    """Answer rows as the frame scoring takes."""
    out = pd.DataFrame(rows)
    out["code"] = out["code"].astype("Int64")
    return out


def cells_of(rows: list[dict]) -> pd.DataFrame:
    """All cells (truth) of answer rows."""
    return build_cells(*count_frames(frame(rows), INSTRUMENT), INSTRUMENT)


# --------------------------------------------------------------------------
# The attacker
# --------------------------------------------------------------------------
def _qkey(value) -> object:
    return POOLED if pd.isna(value) else int(value)


def _relations(keys: set, questionnaire: str) -> list[tuple[str, tuple, list[tuple]]]:
    """R1, R2, R3 over the cell keys (scope, subgroup, question) of one block."""
    qn = INSTRUMENT.questionnaire(questionnaire)
    scale = {q.number for q in qn.questions if not q.gate}
    scopes = {k[0] for k in keys}
    subgroups = {k[1] for k in keys}
    questions = {k[2] for k in keys}
    relations = []
    for scope in scopes:
        for question in questions:
            if qn.participant:
                parts = [(scope, g, question) for g in ("kvinnor", "man", "ovriga")]
                relations.append(("R1", (scope, "samtliga", question), parts))
        for subgroup in subgroups:
            parts = [(scope, subgroup, q) for q in questions if q in scale]
            relations.append(("R3", (scope, subgroup, POOLED), parts))
    for subgroup in subgroups:
        for question in questions:
            parts = [(s, subgroup, question) for s in scopes if s != ""]
            relations.append(("R2", ("", subgroup, question), parts))
    return relations


def _determined(matrix: np.ndarray, column: int) -> bool:
    """True when the unit vector of ``column`` lies in the row space of ``matrix``."""
    if matrix.shape[0] == 0:
        return False
    unit = np.zeros((1, matrix.shape[1]))
    unit[0, column] = 1.0
    return np.linalg.matrix_rank(np.vstack([matrix, unit])) == np.linalg.matrix_rank(matrix)


def attack_block(
    published: pd.DataFrame, truth: pd.DataFrame, questionnaire: str, min_cell: int, protect_other
) -> list[str]:
    """Every leak the attacker finds in one year × indicator × questionnaire."""
    size = {(r.scope, r.subgroup, _qkey(r.question)): int(r.size) for r in truth.itertuples()}
    shown = {(r.scope, r.subgroup, _qkey(r.question)): r for r in published.itertuples()}
    n_of = {(r.scope, r.subgroup, _qkey(r.question)): int(r.n) for r in truth.itertuples()}
    gate = {q.number for q in INSTRUMENT.questionnaire(questionnaire).questions if q.gate}

    def never_published(key) -> bool:
        return key[0] == "-" or key[1] == "ovriga"

    def unknown(key) -> bool:
        """Hidden from the attacker (and not empty)."""
        if key not in size or n_of[key] == 0:
            return False  # no questionnaires: known to be empty
        return never_published(key) or bool(shown[key].suppressed)

    def protected(key) -> bool:
        """Hidden and protected: övriga count as known when protection is off."""
        return unknown(key) and (protect_other or key[1] != "ovriga")

    keys = set(size) | set(shown)
    relations = _relations(keys, questionnaire)
    problems = []
    for kind, total, parts in relations:  # rules (a) and (b)
        if total not in size or protected(total):
            continue
        hidden = [p for p in parts if protected(p)]
        hidden_size = sum(size[p] for p in hidden)
        if 0 < hidden_size < min_cell:
            problems.append(f"{kind} {total}: hidden parts add up to {hidden_size}")
        if len(hidden) == 1 and not never_published(hidden[0]):
            problems.append(f"{kind} {total}: {hidden[0]} is the only hidden part")
    variables = sorted((k for k in keys if unknown(k)), key=str)
    column_of = {k: i for i, k in enumerate(variables)}
    solved: dict[bytes, set] = {}
    for column in VALUE_COLUMNS:
        equations = []
        for _, total, parts in relations:
            terms = [(total, 1.0)] + [(p, -1.0) for p in parts]
            terms = [(k, c) for k, c in terms if k in size]
            if column == "clearly_positive_n" and any(k[2] in gate for k, _ in terms):
                continue  # the yes/no gate has no Klart positivt
            row = np.zeros(len(variables))
            for key, coefficient in terms:
                if key in column_of:
                    row[column_of[key]] += coefficient
            if row.any():
                equations.append(row)
        if column == "positive_n":
            # n of a conditional row is the number who answered Ja to the gate.
            for key in variables:
                if key[2] in gate:
                    for follow in (9, 10, POOLED):
                        r = shown.get((key[0], key[1], follow))
                        if r is not None and not pd.isna(r.n):
                            row = np.zeros(len(variables))
                            row[column_of[key]] = 1.0
                            equations.append(row)
        matrix = np.array(equations).reshape(len(equations), len(variables))
        signature = matrix.tobytes()  # most columns share one system: solve it once
        if signature not in solved:
            solved[signature] = {
                key
                for key in variables
                if protected(key)
                and 1 <= size[key] < min_cell
                and _determined(matrix, column_of[key])
            }
        for key in sorted(solved[signature], key=str):
            problems.append(f"{column} of {key} (size {size[key]}) is determined")
    return problems


def attack(
    published: pd.DataFrame, truth: pd.DataFrame, *, min_cell: int, protect_other: bool = True
) -> list[str]:
    """Every leak in the published rows, given the truth behind them."""
    problems = []
    for (year, indicator, questionnaire), block in truth.groupby(
        ["year", "indicator", "questionnaire"]
    ):
        shown = published[
            (published["year"] == year)
            & (published["indicator"] == indicator)
            & (published["questionnaire"] == questionnaire)
        ]
        found = attack_block(shown, block, questionnaire, min_cell, protect_other)
        problems += [f"{indicator}/{questionnaire}: {p}" for p in found]
    return problems


def unhide(published: pd.DataFrame, truth: pd.DataFrame, index, min_cell: int) -> pd.DataFrame:
    """The published rows with one suppressed row shown (and rows under it if it is a gate)."""
    out = published.copy()
    row = out.loc[index]
    chosen = [index]
    if (
        row["questionnaire"] == "deltagare_avslut"
        and not pd.isna(row["question"])
        and (row["question"] == 8)
    ):
        same = (
            (out["year"] == row["year"])
            & (out["scope"] == row["scope"])
            & (out["subgroup"] == row["subgroup"])
            & (out["indicator"] == row["indicator"])
            & (out["suppression"] == "villkorsfråga")
        )
        chosen += list(out.index[same])
    keyed = truth.assign(q=truth["question"].astype("Int64").fillna(-1)).set_index(
        ["year", "indicator", "questionnaire", "q", "scope", "subgroup"]
    )
    for i in chosen:
        r = out.loc[i]
        q = -1 if pd.isna(r["question"]) else int(r["question"])
        t = keyed.loc[(r["year"], r["indicator"], r["questionnaire"], q, r["scope"], r["subgroup"])]
        out.loc[i, "n"] = t["n"]
        if i != index and t["size"] < min_cell:
            out.loc[i, "suppressed"] = True  # still too few: hidden, n shown
            continue
        for column in VALUE_COLUMNS:
            out.loc[i, column] = t[column]
        out.loc[i, "suppressed"] = False
    return out


# --------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------
def _exit_answers(draw_code, ja: bool) -> dict[int, int | None]:
    answers = {q: draw_code() for q in range(1, 8)}
    answers[8] = 1 if ja else 2
    if ja:
        answers[9], answers[10] = draw_code(), draw_code()
    return answers


@st.composite
def datasets(draw):
    """A small förbund: 2–4 insatser, genders incl. annat and blank, answers without insats."""
    insatser = [f"Insats {i}" for i in range(draw(st.integers(2, 4)))]
    codes = st.sampled_from([6, 5, 4, 3, 2, 1, 0, None])
    rows: list[dict] = []
    for scope in [*insatser, ""]:
        for gender in ("kvinna", "man", "annat", ""):
            count = draw(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 25]))
            for _ in range(count):
                ja = draw(st.booleans())
                answers = _exit_answers(lambda: draw(codes), ja)
                rows += respondents("deltagare_avslut", scope, gender, answers)
        count = draw(st.sampled_from([0, 1, 2, 3, 5, 7, 15]))
        for _ in range(count):
            answers = {q: draw(codes) for q in (3, 4, 8, 9)}
            rows += respondents("personal", scope, "", answers)
    if not rows:
        rows += respondents("personal", insatser[0], "", {3: 5})
    return rows


@settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rows=datasets(), min_cell=st.integers(3, 10), protect_other=st.booleans())
def test_attacker_learns_nothing_and_every_complementary_suppression_is_needed(
    rows, min_cell, protect_other
):
    truth = cells_of(rows)
    published = protect(truth, INSTRUMENT, min_cell=min_cell, protect_other=protect_other)
    assert attack(published, truth, min_cell=min_cell, protect_other=protect_other) == []
    # Conditional rows under a suppressed gate hide n as well.
    exit_rows = published[published["questionnaire"] == "deltagare_avslut"]
    gates = exit_rows[(exit_rows["question"] == 8) & exit_rows["suppressed"]]
    for _, gate in gates.iterrows():
        under = published[
            (published["indicator"] == 6)
            & (published["questionnaire"] == "deltagare_avslut")
            & (published["scope"] == gate["scope"])
            & (published["subgroup"] == gate["subgroup"])
            & (published["question"] != 8).fillna(True)
        ]
        assert under["suppressed"].all()
        assert under["n"].isna().all()
    # Minimality: un-hiding any one complementary suppression breaks something.
    complementary = published.index[published["suppression"].isin(COMPLEMENTARY)]
    by_block = defaultdict(list)
    for i in complementary:
        by_block[tuple(published.loc[i, ["year", "indicator", "questionnaire"]])].append(i)
    for (year, indicator, questionnaire), indices in by_block.items():
        block_truth = truth[
            (truth["year"] == year)
            & (truth["indicator"] == indicator)
            & (truth["questionnaire"] == questionnaire)
        ]
        for i in indices:
            shown = unhide(published, truth, i, min_cell)
            shown = shown[
                (shown["year"] == year)
                & (shown["indicator"] == indicator)
                & (shown["questionnaire"] == questionnaire)
            ]
            found = attack_block(shown, block_truth, questionnaire, min_cell, protect_other)
            assert found, f"suppression of row {published.loc[i].to_dict()} was not needed"
