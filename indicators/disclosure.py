"""Disclosure control (DESIGN.md "Disclosure control"): cells in, published rows out.

A *cell* is year × indicator × questionnaire × question (or the pooled row) ×
scope × subgroup. ``build_cells`` makes every cell from counts, including the
parts that are never published on their own: answers without an insats (scope
``UNASSIGNED``) and the ``ovriga`` subgroup (annat or no gender). ``protect``
applies primary suppression, the relations R1 (gender), R2 (scope) and R3
(pooling), the rule for conditional questions, the republication rule and the
joint linear-algebra property, then returns the published rows only.

Cells only add up within one year × indicator × questionnaire (a *block*), so
each block is protected on its own; a national year has a few dozen blocks of
at most a few hundred cells each.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from indicators.instrument import Instrument
from indicators.scoring import (
    COUNT_COLUMNS,
    RESULT_COLUMNS,
    SHARE_COLUMNS,
    blank_clearly_positive,
    classify,
    order_results,
    percent,
    pool,
)

FORBUND = ""  # scope of the whole förbund
UNASSIGNED = "-"  # scope of answers without an insats: never published
OTHER = "ovriga"  # annat or no gender: never published
CELL_KEYS = ["year", "indicator", "questionnaire", "question", "scope", "subgroup"]
CELL_COLUMNS = [*CELL_KEYS, *COUNT_COLUMNS, "size"]
PROTECTED_COLUMNS = [
    *RESULT_COLUMNS,
    "scope",
    "suppression",
    "left_out",
    "left_out_gender",
    "left_out_insats",
    "size",
]
SUPPRESSED_PRIMARY = "primary"  # fewer than MIN_CELL answers (less what one person typed in)
SUPPRESSED_COMPLEMENTARY = "complementary"  # hidden so that a smaller group cannot be derived

REASON_PRIMARY = "för få svar"
REASON_CHANGED = "ändrad sedan förra publiceringen"
REASON_EARLIER = "dold i en tidigare visad version av året"
REASON_CONDITIONAL = "villkorsfråga"
REASON_RELATION = {
    "R1": "kan räknas fram (kön)",
    "R2": "kan räknas fram (insats)",
    "R3": "kan räknas fram (fråga)",
}
_SUBGROUP_OF_GENDER = {"kvinna": "kvinnor", "man": "man"}
POOLED_IN_BLOCK = -1  # stands for the pooled row's empty question inside a block


def suppression_kind(suppressed: object, reason: object = None) -> str:
    """Why a row is hidden: "primary" (fewer than MIN_CELL answers), "complementary"
    (hidden so that a smaller group cannot be derived) or "" (shown).

    Rows made since the kinds were introduced store the kind in ``suppressed``; older
    ones (publications, result tables) store a flag and a Swedish ``reason``: only
    "för få svar" is primary. A hidden row of unknown kind is complementary, never
    primary on a guess: "primary" tells the reader there were fewer than MIN_CELL
    answers, which may not be true.
    """
    if isinstance(suppressed, str):
        if suppressed in (SUPPRESSED_PRIMARY, SUPPRESSED_COMPLEMENTARY):
            return suppressed
        suppressed = suppressed.strip().lower() in ("true", "1", "t")
    if suppressed is None or suppressed is pd.NA or not bool(suppressed):
        return ""
    if isinstance(suppressed, float) and np.isnan(suppressed):
        return ""
    return SUPPRESSED_PRIMARY if str(reason or "") == REASON_PRIMARY else SUPPRESSED_COMPLEMENTARY


def protect_history(rows: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Disclosure control of figures typed in from old annual reports (förbund only).

    These rows carry n, answered and percentages but no counts behind them and no
    insats, so only two of the rules apply: primary suppression, and R1 between
    samtliga, kvinnor and män (a kvinnor or män row of 1..min_cell-1 answers hides
    its twin, which would give it away by subtraction from samtliga). A suppressed
    row keeps n and leaves every other figure empty.
    """
    out = rows.copy()
    answered = out["answered"].astype("Int64").fillna(0)
    primary = answered < min_cell
    gendered = out["subgroup"].isin(["kvinnor", "man"])
    small = gendered & (answered >= 1) & (answered < min_cell)
    twin = pd.Series(False, index=out.index)
    if small.any():
        keys = [out[c] for c in ["year", "indicator", "questionnaire"]]
        keys.append(out["question"].astype("Int64").fillna(-1))
        twin = gendered & small.groupby(keys, sort=False).transform("any") & ~primary
    kind = np.where(primary, SUPPRESSED_PRIMARY, np.where(twin, SUPPRESSED_COMPLEMENTARY, ""))
    out["suppressed"] = pd.Series(kind, index=out.index, dtype=object)
    fixed = {"year", "indicator", "questionnaire", "question", "subgroup", "n", "suppressed"}
    for column in [c for c in RESULT_COLUMNS if c not in fixed]:
        out[column] = out[column].astype("Int64").mask(out["suppressed"] != "")
    return out


# --------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------
def count_frames(
    answers: pd.DataFrame, instrument: Instrument
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(code_counts, pooled_sizes)`` of an answer-level frame (``ANSWER_COLUMNS``).

    The service layer computes the same two frames with SQL GROUP BY.
    """
    frame = pd.DataFrame(
        {
            "response": answers["response"],
            "year": answers["year"].astype("int64"),
            "questionnaire": answers["questionnaire"].astype(str),
            "question": answers["question"].astype("int64"),
            "intervention": answers["intervention"].astype(object).fillna("").astype(str),
            "gender": answers["gender"].astype(object).fillna("").astype(str),
            "code": answers["code"].astype("Int64").fillna(-1).astype("int64"),
        }
    )
    keys = ["year", "questionnaire", "question", "intervention", "gender", "code"]
    code_counts = frame.groupby(keys, sort=False).size().rename("count").reset_index()
    questions = instrument.questions_frame()
    options = instrument.options_frame()
    merged = frame.merge(questions, on=["questionnaire", "question"], how="inner")
    merged = merged.merge(options, on=["scale", "code"], how="left")
    scale_answers = merged[merged["group"].notna() & ~merged["gate"].astype(bool)]
    size_keys = ["year", "indicator", "questionnaire", "intervention", "gender"]
    pooled_sizes = (
        scale_answers.groupby(size_keys, sort=False)["response"]
        .nunique()
        .rename("respondents")
        .reset_index()
    )
    return code_counts, pooled_sizes


def scope_and_subgroup(frame: pd.DataFrame, participant: set[str]) -> pd.DataFrame:
    """Replace intervention/gender by the finest scope and subgroup of each row."""
    frame = frame.copy()
    intervention = frame["intervention"].astype(object).fillna("").astype(str)
    frame["scope"] = intervention.where(intervention != "", UNASSIGNED)
    gender = frame["gender"].astype(object).fillna("").astype(str)
    fine = gender.map(_SUBGROUP_OF_GENDER).fillna(OTHER)
    frame["subgroup"] = fine.where(frame["questionnaire"].isin(participant), "samtliga")
    return frame.drop(columns=["intervention", "gender"])


def _add_totals(
    fine: pd.DataFrame, keys: list[str], values: list[str], participant: set[str]
) -> pd.DataFrame:
    """Add samtliga (participant questionnaires) and the förbund scope to finest rows."""
    fine = fine.groupby(keys, sort=False)[values].sum().reset_index()
    is_p = fine["questionnaire"].isin(participant)
    without_subgroup = [k for k in keys if k != "subgroup"]
    everyone = fine[is_p].groupby(without_subgroup, sort=False)[values].sum().reset_index()
    rows = pd.concat([fine, everyone.assign(subgroup="samtliga")], ignore_index=True)
    without_scope = [k for k in keys if k != "scope"]
    forbund = rows.groupby(without_scope, sort=False)[values].sum().reset_index()
    return pd.concat([rows, forbund.assign(scope=FORBUND)], ignore_index=True)


def _with_empty_conditional_rows(per_question: pd.DataFrame, instrument: Instrument):
    """Mark conditional rows and add them with zero counts wherever their gate row exists."""
    conditional = pd.DataFrame(
        [
            {"questionnaire": q.questionnaire, "question": q.number, "gate_question": gate}
            for q in instrument.all_questions()
            if (gate := q.condition_question) is not None
        ],
        columns=["questionnaire", "question", "gate_question"],
    )
    gates = per_question[per_question["gate"].astype(bool)]
    gates = gates[["year", "questionnaire", "question", "scope", "subgroup"]].rename(
        columns={"question": "gate_question"}
    )
    wanted = gates.merge(conditional, on=["questionnaire", "gate_question"])
    questions = instrument.questions_frame()[["questionnaire", "question", "indicator", "scale"]]
    wanted = wanted.drop(columns="gate_question").merge(questions, on=["questionnaire", "question"])
    key = ["year", "questionnaire", "question", "scope", "subgroup"]
    present = per_question[key].astype({"question": "int64"})
    wanted = wanted.merge(present, on=key, how="left", indicator=True)
    missing = wanted[wanted["_merge"] == "left_only"].drop(columns="_merge")
    zeros = missing.assign(gate=False, **{c: 0 for c in COUNT_COLUMNS})
    out = pd.concat([per_question, zeros], ignore_index=True)
    out = blank_clearly_positive(out, instrument)
    marked = out[["questionnaire", "question"]].merge(
        conditional[["questionnaire", "question"]].assign(conditional=True),
        on=["questionnaire", "question"],
        how="left",
    )
    out["conditional"] = marked["conditional"].fillna(False).to_numpy(dtype=bool)
    return out


def build_cells(
    code_counts: pd.DataFrame, pooled_sizes: pd.DataFrame, instrument: Instrument
) -> pd.DataFrame:
    """Every cell (published or not) with its counts and its size.

    ``size`` is ``answered`` for a question row and the number of questionnaires
    with at least one scale answer to its questions for a pooled row. Cells with
    ``n = 0`` are left out (an absent cell is known to be empty), except the
    conditional rows of a published gate row: they are kept with ``n = 0`` so that
    a missing row never tells that nobody answered Ja under a suppressed gate.
    """
    participant = {qn.key for qn in instrument.questionnaires if qn.participant}
    if code_counts.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CELL_COLUMNS})
    counts = code_counts.astype({"year": "int64", "question": "int64", "code": "int64"})
    classified = scope_and_subgroup(classify(counts, instrument), participant)
    keys = ["year", "indicator", "questionnaire", "question", "gate", "scale", "scope"]
    per_question = _add_totals(classified, [*keys, "subgroup"], COUNT_COLUMNS, participant)
    per_question = blank_clearly_positive(per_question, instrument)
    per_question = _with_empty_conditional_rows(per_question, instrument)
    per_question["size"] = per_question["answered"]
    pooled = pool(per_question, by=("scope",))
    scale_rows = per_question[~per_question["gate"].astype(bool)]
    all_conditional = scale_rows.groupby(["questionnaire", "indicator"])["conditional"].all()
    pooled["conditional"] = pd.MultiIndex.from_frame(pooled[["questionnaire", "indicator"]]).map(
        all_conditional.to_dict().get
    )
    sizes = scope_and_subgroup(pooled_sizes, participant)
    size_keys = ["year", "indicator", "questionnaire", "scope", "subgroup"]
    sizes = _add_totals(sizes, size_keys, ["respondents"], participant)
    sizes = sizes.astype({"year": "int64", "indicator": "int64"})
    pooled = pooled.merge(sizes, on=size_keys, how="left")
    pooled["size"] = pooled["respondents"].fillna(0).astype("int64")
    cells = pd.concat([per_question, pooled], ignore_index=True)
    published = (cells["scope"] != UNASSIGNED) & (cells["subgroup"] != OTHER)
    cells = cells[(cells["n"] > 0) | (cells["conditional"].fillna(False).astype(bool) & published)]
    cells["question"] = cells["question"].astype("Int64")
    for column in ["n", "answered", "negative_n", "neutral_n", "positive_n", "size"]:
        cells[column] = cells[column].astype("int64")
    cells["year"] = cells["year"].astype("int64")
    cells["indicator"] = cells["indicator"].astype("int64")
    return cells[CELL_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------
# Leaving out small never-published parts
# --------------------------------------------------------------------------
LEFT_OUT_COLUMNS = ["left_out", "left_out_gender", "left_out_insats"]
_VALUES = ["answered", "negative_n", "neutral_n", "positive_n", "clearly_positive_n"]


def atom_mask(cells: pd.DataFrame, participant: set[str]) -> pd.Series:
    """The finest cells: one insats (or no insats) × one gender group (kvinnor, män, övriga).

    Every questionnaire sits in exactly one atom per question; every published figure
    is a sum of atoms. Non-participant questionnaires have one atom per scope.
    """
    is_p = cells["questionnaire"].isin(participant)
    fine_subgroup = np.where(is_p, cells["subgroup"] != "samtliga", True)
    return (cells["scope"] != FORBUND) & pd.Series(fine_subgroup, index=cells.index)


def _left_out_atoms(
    atoms: list[tuple[str, str, int, int]], *, min_cell: int, protect_other: bool
) -> set[tuple[str, str]]:
    """Which atoms ``(scope, subgroup, size, typed)`` of one question are left out.

    A never-published part is one of: övriga of an insats, övriga of the förbund
    (all övriga still counted), an answer group without insats (per gender) and
    all answers without insats. Where one of them has 1..min_cell-1 scale answers,
    its atoms are left out; repeated until no counted part is small. A part's size
    leaves out the forms one person typed in (``typed``: per atom the most of any one
    typist; added up over a part's atoms, which is never less than the true most),
    so that nobody can plant forms into övriga and subtract them.
    """
    size = {(s, g): z for s, g, z, _ in atoms}
    known = {(s, g): t for s, g, _, t in atoms}
    counted = {k for k, z in size.items() if z > 0}
    groups: list[list[tuple[str, str]]] = []
    for scope, subgroup in size:
        if scope == UNASSIGNED or (subgroup == OTHER and protect_other):
            groups.append([(scope, subgroup)])
    if protect_other:
        groups.append([k for k in size if k[1] == OTHER])
    groups.append([k for k in size if k[0] == UNASSIGNED])
    out: set[tuple[str, str]] = set()
    changed = True
    while changed:
        changed = False
        for group in groups:
            still = [k for k in group if k in counted]
            total = sum(size[k] for k in still)
            if total > 0 and total - sum(known[k] for k in still) < min_cell:
                out.update(still)
                counted.difference_update(still)
                changed = True
    return out


def _targets(scope: str, subgroup: str, participant: bool) -> list[tuple[str, str]]:
    """The cells an atom is counted in: itself, its scope's samtliga, the förbund's."""
    subgroups = [subgroup, "samtliga"] if participant else ["samtliga"]
    return list(dict.fromkeys((s, g) for s in (scope, FORBUND) for g in subgroups))


def leave_out(
    cells: pd.DataFrame,
    instrument: Instrument,
    *,
    min_cell: int,
    protect_other: bool = True,
    typed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Leave small never-published parts out of every figure that would count them.

    DESIGN.md "Disclosure control": övriga of 1..min_cell-1 in a scope's samtliga,
    answers without insats of 1..min_cell-1 in the förbund's rows, propagated to the
    förbund and repeated until stable (per question and scope). The left-out atoms
    are dropped from ``cells``; every cell that counted them loses their counts and
    gains ``left_out_gender`` (övriga of an insats) or ``left_out_insats`` (answers
    without insats) questionnaires. Pooled rows add up their questions' changes.
    With ``protect_other`` off, övriga stay in (as in NNS's own reports).
    ``typed`` (``TYPED_COLUMNS``): paper forms per typist, known to whoever typed them.
    """
    cells = cells.reset_index(drop=True).copy()
    for column in LEFT_OUT_COLUMNS:
        cells[column] = 0
    if cells.empty:
        return cells
    participant = {qn.key for qn in instrument.questionnaires if qn.participant}
    gates = {(q.questionnaire, q.number) for q in instrument.all_questions() if q.gate}
    atom = atom_mask(cells, participant) & cells["question"].notna()
    cells["_typed"] = with_typed(cells, typed, instrument)["typed"].to_numpy()
    dropped: list[int] = []
    deltas: list[dict] = []
    atoms = cells[atom]
    for (year, indicator, qn, question), frame in atoms.groupby(
        ["year", "indicator", "questionnaire", "question"], sort=False
    ):
        listed = list(
            zip(frame["scope"], frame["subgroup"], frame["size"], frame["_typed"], strict=True)
        )
        out = _left_out_atoms(listed, min_cell=min_cell, protect_other=protect_other)
        if not out:
            continue
        is_p = qn in participant
        pooled = (qn, int(question)) not in gates
        for i, row in frame.iterrows():
            if (row["scope"], row["subgroup"]) not in out:
                continue
            dropped.append(int(i))
            kind = "left_out_insats" if row["scope"] == UNASSIGNED else "left_out_gender"
            values = {c: row[c] for c in COUNT_COLUMNS}
            for scope, subgroup in _targets(row["scope"], row["subgroup"], is_p):
                key = {"year": year, "indicator": indicator, "questionnaire": qn}
                key |= {"scope": scope, "subgroup": subgroup, kind: int(row["n"])}
                questions = [question, POOLED_IN_BLOCK] if pooled else [question]
                same_cell = (scope, subgroup) == (row["scope"], row["subgroup"])
                for q in questions:
                    own = same_cell and q != POOLED_IN_BLOCK
                    if not own:
                        deltas.append({**key, "question": q, **values})
    cells = cells.drop(columns="_typed")
    if not deltas:
        return cells
    delta = pd.DataFrame(deltas)
    for column in LEFT_OUT_COLUMNS[1:]:
        delta[column] = delta[column].fillna(0) if column in delta else 0
    delta["clearly_positive_n"] = delta["clearly_positive_n"].astype("Int64").fillna(0)
    by = ["year", "indicator", "questionnaire", "question", "scope", "subgroup"]
    summed = delta.groupby(by, sort=False)[[*COUNT_COLUMNS, *LEFT_OUT_COLUMNS[1:]]].sum()
    cells = cells.drop(index=dropped)
    cells["_q"] = cells["question"].astype("Int64").fillna(POOLED_IN_BLOCK).astype("int64")
    joined = cells.merge(
        summed.reset_index().rename(columns={"question": "_q"}),
        on=["year", "indicator", "questionnaire", "_q", "scope", "subgroup"],
        how="left",
        suffixes=("", "_d"),
    )
    joined.index = cells.index
    for column in [*COUNT_COLUMNS, *LEFT_OUT_COLUMNS[1:]]:
        change = joined[f"{column}_d"].fillna(0).astype("int64")
        sign = 1 if column.startswith("left_out") else -1
        if column == "clearly_positive_n":
            cells[column] = (cells[column] - change).astype("Int64")
        else:
            cells[column] = (cells[column] + sign * change).astype("int64")
    cells["left_out"] = cells["left_out_gender"] + cells["left_out_insats"]
    is_question = cells["question"].notna()
    cells.loc[is_question, "size"] = cells.loc[is_question, "answered"]
    cells = _pooled_sizes_after_leaving_out(cells, atom.reindex(cells.index), participant, gates)
    published = (cells["scope"] != UNASSIGNED) & (cells["subgroup"] != OTHER)
    keep = (cells["n"] > 0) | (published & ((cells["left_out"] > 0) | _kept_empty(cells)))
    return cells[keep].drop(columns="_q").reset_index(drop=True)


def _kept_empty(cells: pd.DataFrame) -> pd.Series:
    """Rows with n = 0 that ``build_cells`` kept (conditional rows of a published gate)."""
    return (cells["n"] == 0) & (cells["left_out"] == 0)


def _pooled_sizes_after_leaving_out(
    cells: pd.DataFrame, atom: pd.Series, participant: set[str], gates: set[tuple[str, int]]
) -> pd.DataFrame:
    """A pooled row's size once atoms are left out of some questions.

    An atom left out of a question of the indicator keeps, as its pooled size, the
    largest number of scale answers of the questions it is still counted in (a lower
    bound on its questionnaires, so never too generous); totals lose what it lost.
    """
    pooled_atom = atom & cells["question"].isna()
    changed = cells[pooled_atom & (cells["left_out"] > 0)]
    if changed.empty:
        return cells
    block = ["year", "indicator", "questionnaire", "scope", "subgroup"]
    questions = cells[atom & cells["question"].notna()]
    is_gate = [
        (q, int(n)) in gates
        for q, n in zip(questions["questionnaire"], questions["question"], strict=True)
    ]
    lower = questions[~np.array(is_gate, dtype=bool)].groupby(block, sort=False)["answered"].max()
    rows = []
    for r in changed.itertuples(index=False):
        new = int(lower.get((r.year, r.indicator, r.questionnaire, r.scope, r.subgroup), 0))
        loss = int(r.size) - min(new, int(r.size))
        for scope, subgroup in _targets(r.scope, r.subgroup, r.questionnaire in participant):
            rows.append((r.year, r.indicator, r.questionnaire, scope, subgroup, loss))
    losses = pd.DataFrame(rows, columns=[*block, "loss"]).groupby(block, sort=False).sum()
    pooled = cells["question"].isna()
    merged = cells.loc[pooled, block].merge(losses.reset_index(), on=block, how="left")
    loss = merged["loss"].fillna(0).astype("int64").to_numpy()
    cells.loc[pooled, "size"] = (cells.loc[pooled, "size"].to_numpy() - loss).clip(min=0)
    return cells


# --------------------------------------------------------------------------
# Forms typed in by someone who can read the figures
# --------------------------------------------------------------------------
TYPED_COLUMNS = ["year", "questionnaire", "intervention", "gender", "typist", "count"]


def with_typed(cells: pd.DataFrame, typed: pd.DataFrame | None, instrument: Instrument):
    """Add ``typed``: the most questionnaires of a cell typed in by any one person.

    ``typed`` (``TYPED_COLUMNS``) counts paper questionnaires per round group and
    typist, never per answer. Whoever typed them knows their answers, so primary
    suppression judges a cell by ``size - typed`` (DESIGN.md "What a reader typed in
    is known to that reader"). The count of questionnaires bounds every question's
    share from above, so the figure is never too generous.
    """
    cells = cells.copy()
    cells["typed"] = 0
    if typed is None or typed.empty or cells.empty:
        return cells
    participant = {qn.key for qn in instrument.questionnaires if qn.participant}
    fine = scope_and_subgroup(typed, participant)
    rows = []
    for r in fine.itertuples(index=False):
        for scope, subgroup in _targets(r.scope, r.subgroup, r.questionnaire in participant):
            rows.append((int(r.year), r.questionnaire, scope, subgroup, r.typist, int(r.count)))
    key = ["year", "questionnaire", "scope", "subgroup"]
    per_person = pd.DataFrame(rows, columns=[*key, "typist", "count"])
    most = per_person.groupby([*key, "typist"])["count"].sum().groupby(level=key).max()
    merged = cells[key].merge(most.rename("most").reset_index(), on=key, how="left")
    most_typed = merged["most"].fillna(0).astype("int64").to_numpy()
    cells["typed"] = np.minimum(most_typed, cells["size"].to_numpy())
    return cells


# --------------------------------------------------------------------------
# One block: year × indicator × questionnaire
# --------------------------------------------------------------------------
_EPS = 1e-6
_MOVED = 1e-9  # a cell a point moves by more than this counts as moved (kept unknown)
_FEW = 8  # open counts above which random directions are tried first
_COUNTS = ["negative_n", "neutral_n", "positive_n", "clearly_positive_n"]  # audited counts


@dataclass
class Block:
    """The cells of one block as arrays, with their relations."""

    size: np.ndarray  # int
    effective: np.ndarray  # int: size less the most one person typed in
    n: np.ndarray  # int: questionnaires asked (the attacker is given every n)
    values: np.ndarray  # float cells × 5: answered, negative, neutral, positive, clearly (nan)
    published: np.ndarray  # bool: scope != "-" and subgroup != "ovriga"
    never: np.ndarray  # bool: never published on its own (the attacker cannot read it)
    empty: np.ndarray  # bool: n = 0
    protected: np.ndarray  # bool: never published and protected by rules and property
    gate_of: np.ndarray  # int: index of the gate row of a conditional row, else -1
    relations: list[tuple[str, int, np.ndarray]]  # (kind, total, parts)
    member: list[list[int]]  # relation indices per cell
    min_cell: int
    rel_total: np.ndarray  # total cell per relation
    part_rel: np.ndarray  # relation of each (relation, part) pair
    part_cell: np.ndarray  # part cell of each (relation, part) pair
    cache: dict = field(default_factory=dict)  # component audits already solved
    witnesses: _Witnesses = field(default_factory=lambda: _Witnesses())  # points already found

    def hidden(self, base: np.ndarray) -> np.ndarray:
        """Published cells that are hidden: ``base`` plus conditional rows under a hidden gate."""
        conditional = self.gate_of >= 0
        out = base.copy()
        out[conditional] |= base[self.gate_of[conditional]]
        return out & self.published

    def under_hidden_gate(self, base: np.ndarray) -> np.ndarray:
        """Published conditional rows whose gate row is hidden (they hide ``n`` too)."""
        conditional = self.gate_of >= 0
        out = np.zeros(len(self.size), dtype=bool)
        out[conditional] = base[self.gate_of[conditional]]
        return out & self.published

    def unknown(self, hidden: np.ndarray) -> np.ndarray:
        """Cells the published figures do not show: hidden cells and protected parts.

        A cell with n = 0 counts as known to be empty, even a conditional row whose
        n is hidden: n is mostly derivable from the other n, so the strongest
        attacker is assumed (the row is still printed so its absence tells nothing).
        """
        return (hidden | self.protected) & ~self.empty

    def broken_relation(self, unknown: np.ndarray) -> int | None:
        """The first relation with a visible total that breaks rule (a) or (b)."""
        if not self.relations:
            return None
        count = len(self.relations)
        hidden = unknown[self.part_cell]
        sizes = np.bincount(
            self.part_rel, weights=self.size[self.part_cell] * hidden, minlength=count
        )
        parts = np.bincount(self.part_rel, weights=hidden, minlength=count)
        suppressed = np.bincount(
            self.part_rel, weights=hidden & self.published[self.part_cell], minlength=count
        )
        rule_a = (sizes > 0) & (sizes < self.min_cell)
        rule_b = (parts == 1) & (suppressed == 1)
        broken = np.flatnonzero(~unknown[self.rel_total] & (rule_a | rule_b))
        return int(broken[0]) if len(broken) else None

    # -- the bounded audit ---------------------------------------------------
    def audited(self, unknown: np.ndarray) -> np.ndarray:
        """Unknown cells whose counts must stay uncertain: 1..min_cell-1 (less typed-in)."""
        small = (self.size >= 1) & (self.effective < self.min_cell)
        return unknown & small & (self.published | self.protected)

    def pinned(self, unknown: np.ndarray, *, first: bool = False) -> list[int]:
        """Audited cells with a count that only one value fits (by linear programming).

        The attacker's unknowns are every count of every hidden cell and never-published
        part; they know each n, the relations R1–R3 in every count column, 0 ≤ count ≤ n,
        negative + neutral + positive = answered and clearly positive ≤ positive. A count
        is free when some feasible point puts it at least 1 from its true value. Points
        found earlier stay feasible while every cell they move is still unknown
        (``_Witnesses``), so only the counts no such point frees are solved for: per
        component of unknowns linked by relations, one small LP, solved once per set of
        unknowns. ``first``: stop at the first pinned cell (``holds`` needs only yes/no).
        """
        audited = self.audited(unknown)
        if not audited.any():
            return []
        variable = unknown | (self.never & ~self.empty)
        open_ = audited[:, None] & self.audited_columns() & ~self.witnesses.freed(variable)
        if not open_.any():
            return []
        labels = self._components(variable)
        found: list[int] = []
        for label in np.unique(labels[open_.any(axis=1)]):
            cells = np.flatnonzero(labels == label)
            key = (cells.tobytes(), audited[cells].tobytes())
            if key in self.cache:
                found += self.cache[key]
            else:
                pinned = _audit_component(self, cells, open_[cells], first=first)
                if first and pinned:
                    return pinned
                self.cache[key] = pinned
                found += pinned
            if first and found:
                return found
        return sorted(found)

    def audited_columns(self) -> np.ndarray:
        """Cells × 5: the counts the audit asks about (not answered; clearly where known)."""
        columns = np.ones(self.values.shape, dtype=bool)
        columns[:, 0] = False
        columns[:, 4] = ~np.isnan(self.values[:, 4])
        return columns

    def terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every relation as terms (relation, cell, +1 for the total, -1 for a part)."""
        if "terms" not in self.cache:
            count = len(self.relations)
            self.cache["terms"] = (
                np.concatenate([np.arange(count, dtype=np.int64), self.part_rel]),
                np.concatenate([self.rel_total, self.part_cell]),
                np.concatenate([np.ones(count), -np.ones(len(self.part_cell))]),
            )
        return self.cache["terms"]

    def _components(self, variable: np.ndarray) -> np.ndarray:
        """Component label per cell: variable cells sharing a relation are linked.

        The graph has a node per cell and per relation, an edge from each variable
        cell to each of its relations; labels of cells only are returned.
        """
        count = len(self.size)
        rel, cell, _ = self.terms()
        keep = variable[cell]
        rows, cols = cell[keep], count + rel[keep]
        size = count + len(self.relations)
        graph = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
        _, labels = connected_components(graph, directed=False)
        return np.where(variable, labels[:count], -1)

    def holds(self, base: np.ndarray) -> bool:
        """All rules and the bounded property hold for this suppression."""
        unknown = self.unknown(self.hidden(base))
        return self.broken_relation(unknown) is None and not self.pinned(unknown, first=True)

    # -- choosing the next cell to suppress ---------------------------------
    def _visible(self, cells: Iterable[int], unknown: np.ndarray) -> list[int]:
        """``cells`` (in their order) that are published, shown and not empty."""
        index = np.fromiter(cells, dtype=np.int64)
        keep = self.published[index] & ~unknown[index] & ~self.empty[index]
        return index[keep].tolist()

    def _smallest(self, cells: list[int]) -> int | None:
        """The cell of least size, the lowest index among equals."""
        if not cells:
            return None
        index = np.array(cells, dtype=np.int64)
        sizes = self.size[index]
        return int(index[sizes == sizes.min()].min())

    def fix_relation(self, r: int, unknown: np.ndarray) -> int | None:
        """R3: the pooled row; R1/R2: the smallest visible part, the total last."""
        kind, total, parts = self.relations[r]
        if kind == "R3":
            return total if self.published[total] else None
        choice = self._smallest(self._visible(parts, unknown))
        if choice is None and self.published[total]:
            choice = total
        return choice

    def fix_pinned(self, cell: int, unknown: np.ndarray) -> tuple[int, str] | None:
        """The smallest visible part of a relation holding ``cell`` (totals last)."""
        parts: list[tuple[int, str]] = []
        totals: list[tuple[int, str]] = []
        for r in self.member[cell]:
            kind, total, members = self.relations[r]
            if kind == "R3":
                if total == cell:
                    parts += [(c, kind) for c in self._visible(members, unknown)]
                else:
                    parts += [(c, kind) for c in self._visible([total], unknown)]
                continue
            parts += [(c, kind) for c in self._visible(members, unknown) if c != cell]
            totals += [(c, kind) for c in self._visible([total], unknown)]
        for options in (parts, totals):
            if options:
                return min(options, key=lambda o: (int(self.size[o[0]]), o[0]))
        everything = self._visible(range(len(self.size)), unknown)
        last = self._smallest(everything)
        return None if last is None else (last, "R2")


def _silence_highs_banner() -> None:
    """HiGHS prints a banner to standard output the first time a model is made in a
    process (CLI output, server logs); make that first one with stdout pointed away."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_silence_highs_banner()


class _Witnesses:
    """Feasible points of the attacker's LP found so far in one block, as moves.

    A point found with some cells unknown stays feasible whenever every cell it moves
    is still unknown (the other cells sit at their true values, which satisfy every
    relation), so hiding more never loses it and un-hiding a cell loses only the
    points that moved it. Each point frees the counts it puts at least 1 from the
    truth. Only the moved cells and the freed counts are kept, as sparse rows.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.moved: sparse.csr_matrix | None = None  # points × cells
        self.frees: sparse.csr_matrix | None = None  # points × (cells × 5)

    def add(self, moved: np.ndarray, frees: np.ndarray) -> None:
        if len(frees):
            self.pending.append((moved, frees))

    def _stack(self, count: int) -> None:
        def rows(parts: list[np.ndarray], width: int) -> sparse.csr_matrix:
            indptr = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
            data = np.ones(int(indptr[-1]))
            return sparse.csr_matrix((data, np.concatenate(parts), indptr), (len(parts), width))

        moved = rows([m for m, _ in self.pending], count)
        frees = rows([f for _, f in self.pending], count * 5)
        self.pending = []
        if self.moved is None or self.frees is None:
            self.moved, self.frees = moved, frees
        else:
            self.moved = sparse.vstack([self.moved, moved], format="csr")
            self.frees = sparse.vstack([self.frees, frees], format="csr")

    def freed(self, variable: np.ndarray) -> np.ndarray:
        """Cells × 5: counts that some point still feasible puts 1 from the truth."""
        count = len(variable)
        if self.pending:
            self._stack(count)
        if self.moved is None or self.frees is None:
            return np.zeros((count, 5), dtype=bool)
        lost = self.moved @ (~variable).astype(float) > 0
        reach = self.frees.T @ (~lost).astype(float)
        return (reach > 0).reshape(count, 5)


def _propagated_bounds(block: Block, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (cells × 5) on every count of a component that every point of the
    attacker's program obeys, by bound propagation over its rows (no LP).

    Each row is Σ sign·x = 0: a relation in one count column (cells outside the
    component at their published values) or answered - negative - neutral - positive.
    A term's range follows from the others' ranges; repeated until nothing tightens.
    Never rounded to integers, so never tighter than the LP itself.
    """
    m = len(cells)
    local = np.full(len(block.size), -1, dtype=np.int64)
    local[cells] = np.arange(m)
    clearly = ~np.isnan(block.values[cells, 4])
    lo = np.zeros((m, 5))
    hi = np.repeat(block.n[cells].astype(float)[:, None], 5, axis=1)
    hi[~clearly, 4] = 0.0
    rel, cell, sign = block.terms()
    inside = local[cell] >= 0
    touched = np.bincount(rel[inside], minlength=len(block.relations)) > 0
    nan_terms = np.bincount(rel, weights=np.isnan(block.values[cell, 4]), minlength=len(touched))
    with_clearly = nan_terms == 0
    eqs, variables, constants, signs = [], [], [], []
    for k in range(5):
        term = touched[rel] & (with_clearly[rel] if k == 4 else True)
        eqs.append(rel[term] * 5 + k)
        variables.append(np.where(inside[term], local[cell[term]] * 5 + k, -1))
        constants.append(np.nan_to_num(block.values[cell[term], k]))
        signs.append(sign[term])
    base = len(touched) * 5
    for k, value in ((0, 1.0), (1, -1.0), (2, -1.0), (3, -1.0)):  # answered = Σ the three
        eqs.append(base + np.arange(m))
        variables.append(np.arange(m) * 5 + k)
        constants.append(np.zeros(m))
        signs.append(np.full(m, value))
    eq = np.unique(np.concatenate(eqs), return_inverse=True)[1]
    var, const, sgn = np.concatenate(variables), np.concatenate(constants), np.concatenate(signs)
    is_var = var >= 0
    lo_flat, hi_flat = lo.reshape(-1), hi.reshape(-1)
    for _ in range(50):
        low = np.where(is_var, lo_flat[np.maximum(var, 0)], const)
        high = np.where(is_var, hi_flat[np.maximum(var, 0)], const)
        c_lo = np.where(sgn > 0, sgn * low, sgn * high)
        c_hi = np.where(sgn > 0, sgn * high, sgn * low)
        others_lo = np.bincount(eq, c_lo)[eq] - c_lo
        others_hi = np.bincount(eq, c_hi)[eq] - c_hi
        # sign · x = -(the others): x within [-others_hi, -others_lo] / sign
        new_lo = np.where(sgn > 0, -others_hi, others_lo)[is_var]
        new_hi = np.where(sgn > 0, -others_lo, others_hi)[is_var]
        before = hi_flat.sum() - lo_flat.sum()
        np.maximum.at(lo_flat, var[is_var], new_lo)
        np.minimum.at(hi_flat, var[is_var], new_hi)
        hi[clearly, 4] = np.minimum(hi[clearly, 4], hi[clearly, 3])  # clearly <= positive
        lo[clearly, 3] = np.maximum(lo[clearly, 3], lo[clearly, 4])
        if before - (hi_flat.sum() - lo_flat.sum()) < 1e-9:
            break
    return lo, hi


class _Program:
    """The attacker's linear program over one component of unknown cells (HiGHS).

    The model is passed to HiGHS once; each question (the minimum or maximum of
    one count, or a random direction) only changes the objective and re-solves
    from the last basis.
    """

    def __init__(self, cell, column, matrix, lower, upper, bounds, truth) -> None:
        self.cell: np.ndarray = cell  # block cell of each variable
        self.column: np.ndarray = column  # count column (0 answered … 4 clearly) of each
        self.truth: np.ndarray = truth  # the true values: always feasible
        width = len(truth)
        lp = highspy.HighsLp()
        lp.num_col_ = width
        lp.num_row_ = len(lower)
        lp.col_cost_ = np.zeros(width)
        lp.col_lower_ = np.zeros(width)
        lp.col_upper_ = bounds
        self.upper: np.ndarray = bounds  # n of each variable's cell
        self.free: np.ndarray = np.ones(width, dtype=bool)  # variables not fixed at the truth
        lp.row_lower_ = lower
        lp.row_upper_ = upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.passModel(lp)
        self.every = np.arange(width, dtype=np.int32)

    def index_of(self, cells: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """The variable of each (cell, count column)."""
        if not hasattr(self, "_index"):
            self._index = {
                (int(c), int(k)): j
                for j, (c, k) in enumerate(zip(self.cell, self.column, strict=True))
            }
        return np.array(
            [self._index[(int(c), int(k))] for c, k in zip(cells, columns, strict=True)],
            dtype=np.int64,
        )

    def solve(self, objective: np.ndarray) -> np.ndarray | None:
        """A point minimising ``objective`` (None if HiGHS gives up: treated as pinned)."""
        self.highs.changeColsCost(len(objective), self.every, objective.astype(float))
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.array(self.highs.getSolution().col_value)


def _program(block: Block, cells: np.ndarray) -> _Program:
    """The attacker's program over ``cells`` (see ``_program_parts``)."""
    return _Program(*_program_parts(block, cells))


def _program_parts(block: Block, cells: np.ndarray) -> tuple[Any, ...]:
    """Variables: answered, negative, neutral, positive (and clearly positive) per cell.

    Rows: negative + neutral + positive - answered = 0 and clearly - positive <= 0 per
    cell; per relation touching the component and per count column, total - Σ parts
    = 0, the cells outside the component (published or known empty) on the right.
    """
    count = len(block.size)
    clearly = ~np.isnan(block.values[cells, 4])
    widths = 4 + clearly
    start = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
    width = int(widths.sum())
    first_column = np.full(count, -1, dtype=np.int64)
    first_column[cells] = start
    var_cell = np.repeat(cells, widths)
    var_column = np.arange(width) - np.repeat(start, widths)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    data: list[np.ndarray] = []
    # answered = negative + neutral + positive, one row per cell
    local = np.arange(len(cells))
    for k, value in ((0, -1.0), (1, 1.0), (2, 1.0), (3, 1.0)):
        rows.append(local)
        cols.append(start + k)
        data.append(np.full(len(cells), value))
    lower = [np.zeros(len(cells))]
    upper = [np.zeros(len(cells))]
    next_row = len(cells)
    # relations, one row per relation and count column
    rel, cell, sign = block.terms()
    inside = first_column[cell] >= 0
    touched = np.bincount(rel[inside], minlength=len(block.relations)) > 0
    nan_terms = np.bincount(rel, weights=np.isnan(block.values[cell, 4]), minlength=len(touched))
    with_clearly = nan_terms == 0
    chosen = np.flatnonzero(touched)
    columns_of = 4 + with_clearly[chosen]
    base = np.full(len(touched), -1, dtype=np.int64)
    base[chosen] = next_row + np.concatenate([[0], np.cumsum(columns_of)[:-1]]).astype(np.int64)
    relation_rows = int(columns_of.sum())
    rhs = np.zeros(relation_rows)
    used = touched[rel]
    for k in range(5):
        term = used & (with_clearly[rel] if k == 4 else True)
        row = base[rel[term]] + k
        inner = inside[term]
        rows.append(row[inner])
        cols.append(first_column[cell[term][inner]] + k)
        data.append(sign[term][inner])
        outer = ~inner
        known = -sign[term][outer] * block.values[cell[term][outer], k]
        np.add.at(rhs, row[outer] - next_row, known)
    lower.append(rhs)
    upper.append(rhs)
    next_row += relation_rows
    # clearly positive <= positive
    with_own = np.flatnonzero(clearly)
    extra = next_row + np.arange(len(with_own))
    rows += [extra, extra]
    cols += [start[with_own] + 4, start[with_own] + 3]
    data += [np.ones(len(with_own)), -np.ones(len(with_own))]
    lower.append(np.full(len(with_own), -highspy.kHighsInf))
    upper.append(np.zeros(len(with_own)))
    next_row += len(with_own)
    matrix = sparse.csc_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=(next_row, width),
    )
    matrix.sum_duplicates()
    return (
        var_cell,
        var_column,
        matrix,
        np.concatenate(lower),
        np.concatenate(upper),
        block.n[var_cell].astype(float),
        block.values[var_cell, var_column],
    )


def _shared_program(block: Block, cells: np.ndarray) -> _Program:
    """One program over every non-empty cell of the block, kept in ``block.cache`` and
    warm from one component's audit to the next: the cells of ``cells`` may move
    within 0..n, every other cell is fixed at its truth (as a constant it would be)."""
    program = block.cache.get("program")
    if program is None:
        program = _program(block, np.flatnonzero(~block.empty))
        program.free = np.zeros(len(program.truth), dtype=bool)
        program.highs.changeColsBounds(
            len(program.truth), program.every, program.truth, program.truth
        )
        block.cache["program"] = program
    free = np.isin(program.cell, cells)
    changed = np.flatnonzero(free != program.free).astype(np.int32)
    if len(changed):
        lower = np.where(free[changed], 0.0, program.truth[changed])
        upper = np.where(free[changed], program.upper[changed], program.truth[changed])
        program.highs.changeColsBounds(len(changed), changed, lower, upper)
        program.free = free
    return program


class _Audit:
    """The audit of one component: propagated bounds first, then the attacker's program.

    Bound propagation (``_propagated_bounds``) gives ranges every feasible point obeys:
    a count whose range keeps it within 1 of its true value is pinned without a solve,
    and a direction it cannot move in needs no solve. The other counts are settled by
    the attacker's whole program (``_program``): a few random directions when many
    are open, then the count's own maximum and minimum. Its points are kept in
    ``block.witnesses``.
    """

    def __init__(self, block: Block, cells: np.ndarray, open_: np.ndarray) -> None:
        self.block, self.cells, self.open = block, cells, open_
        self.values = block.values[cells]
        self.clearly = ~np.isnan(self.values[:, 4])
        self.free = np.zeros(open_.shape, dtype=bool)
        self.flat = self.cells[:, None] * 5 + np.arange(5)
        self._full: _Program | None = None
        self.lo, self.hi = _propagated_bounds(block, cells)

    @property
    def full(self) -> _Program:
        """The block's one program (``_shared_program``) with only this component free."""
        if self._full is None:
            self._full = _shared_program(self.block, self.cells)
            self.mine = np.isin(self._full.cell, self.cells)
        return self._full

    def note(self, x: np.ndarray | None) -> None:
        """Keep a point of the attacker's program: it frees what it moves by 1."""
        if x is None:
            return
        full = self.full
        delta = np.zeros(self.open.shape)
        mine = self.mine
        rows = np.searchsorted(self.cells, full.cell[mine])
        delta[rows, full.column[mine]] = (x - full.truth)[mine]
        away = np.abs(delta)
        frees = away >= 1 - _EPS
        frees[:, 0] = False
        self.free |= frees
        moved = self.cells[(away > _MOVED).any(axis=1)]
        self.block.witnesses.add(moved, self.flat[frees])

    def scatter(self) -> None:
        """A few random directions in the attacker's program: they free most counts."""
        full = self.full
        width = int(self.mine.sum())
        rng = np.random.default_rng(width)
        for _ in range(2):
            weights = np.zeros(len(full.truth))
            weights[self.mine] = rng.uniform(-1.0, 1.0, width)
            self.note(self.full.solve(weights))
            self.note(self.full.solve(-weights))

    def push(self, targets: np.ndarray) -> None:
        """Solve for all ``targets`` (cells × 5) at once, each pushed the way its bounds
        allow, until a solve frees none of them: one point often frees many."""
        full = self.full
        up = self.hi - self.values >= 1 - _EPS
        while True:
            left = targets & ~self.free
            if left.sum() < 2:
                return
            rows, ks = np.nonzero(left)
            objective = np.zeros(len(full.truth))
            objective[full.index_of(self.cells[rows], ks)] = np.where(up[rows, ks], -1.0, 1.0)
            self.note(full.solve(objective))
            if not (left & self.free).any():
                return

    def settle(self, i: int, k: int) -> bool:
        """Whether count ``k`` of cell ``i`` is pinned (True) or free (False)."""
        truth = self.values[i, k]
        reach = (self.hi[i, k] - truth, truth - self.lo[i, k])  # up, down
        directions = [s for s, room in zip((-1.0, 1.0), reach, strict=True) if room >= 1 - _EPS]
        full = self.full
        column = int(full.index_of(np.array([self.cells[i]]), np.array([k]))[0])
        for sign in directions:
            self.note(full.solve(_unit(len(full.truth), column, sign)))
            if self.free[i, k]:
                return False
        return True


class _Moves:
    """The attacker's program over the cells hidden when the minimality pass starts,
    written as moves away from the truth, kept in one HiGHS model for the whole pass.

    A point is ``x = truth + up - down`` with ``0 <= up <= n - truth`` and
    ``0 <= down <= truth`` (so exactly ``0 <= x <= n``); every row of ``_program``
    becomes the same row over the moves, its bounds less the truth's row value. A cell
    shown again is fixed at its truth by setting its moves' upper bounds to 0, so
    un-hiding a cell changes bounds only and each solve starts from the last basis.

    ``free_point`` asks whether a count can move by at least 1 up (or down) while the
    sum of all moves is least: such a point moves few cells (a short cycle through the
    relations), so it stays feasible when most other cells are shown again
    (``_Witnesses``), unlike a point pushed along a random direction, which moves
    nearly every cell. The answer (free or pinned) is exact, whatever the point.
    """

    def __init__(self, block: Block, cells: np.ndarray) -> None:
        cell, column, matrix, lower, upper, bounds, truth = _program_parts(block, cells)
        self.block, self.cell, self.column, self.truth = block, cell, column, truth
        width = len(truth)
        base = matrix @ truth  # the truth's value of every row
        lp = highspy.HighsLp()
        lp.num_col_ = 2 * width
        lp.num_row_ = len(lower)
        lp.col_cost_ = np.ones(2 * width)
        lp.col_lower_ = np.zeros(2 * width)
        self.room = np.concatenate([bounds - truth, truth])  # most each move can be
        lp.col_upper_ = self.room.copy()
        finite_lower = np.isfinite(lower)
        lp.row_lower_ = np.where(finite_lower, lower - base, lower)
        lp.row_upper_ = np.where(np.isfinite(upper), upper - base, upper)
        both = sparse.hstack([matrix, -matrix], format="csc")
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = both.indptr
        lp.a_matrix_.index_ = both.indices
        lp.a_matrix_.value_ = both.data
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.passModel(lp)
        self.index = {
            (int(c), int(k)): j for j, (c, k) in enumerate(zip(cell, column, strict=True))
        }
        self.columns_of: dict[int, np.ndarray] = {}  # both moves of every count of a cell
        order = np.argsort(cell, kind="stable")
        split = np.flatnonzero(np.diff(cell[order])) + 1
        for group in np.split(order, split):
            if len(group):
                self.columns_of[int(cell[group[0]])] = np.concatenate([group, group + width])
        self.variable = np.zeros(len(block.size), dtype=bool)
        self.variable[cells] = True
        self.modelled = self.variable.copy()  # the cells the model has variables for

    def set_cost(self, cells: np.ndarray, cost: float) -> None:
        """The price of moving ``cells``: points avoid the dear ones where they can."""
        columns = [self.columns_of[int(c)] for c in cells if int(c) in self.columns_of]
        if columns:
            flat = np.concatenate(columns).astype(np.int32)
            self.highs.changeColsCost(len(flat), flat, np.full(len(flat), cost))

    def set_variable(self, variable: np.ndarray) -> None:
        """Fix the cells no longer unknown at their truth; free the others again."""
        changed = np.flatnonzero((variable != self.variable) & self.modelled)
        for c in changed.tolist():
            columns = self.columns_of[c]
            upper = self.room[columns] if variable[c] else np.zeros(len(columns))
            self.highs.changeColsBounds(
                len(columns), columns.astype(np.int32), np.zeros(len(columns)), upper
            )
        self.variable = variable.copy()

    def free_point(self, cell: int, k: int) -> np.ndarray | None:
        """A point moving count ``k`` of ``cell`` by at least 1 (None: pinned)."""
        j = self.index[(cell, k)]
        width = len(self.truth)
        for move, back in ((j, j + width), (j + width, j)):  # up, then down
            if self.room[move] < 1 - _EPS:
                continue
            # At least 1 this way, nothing the other way (else the two would cancel).
            self.highs.changeColBounds(move, 1.0, self.room[move])
            self.highs.changeColBounds(back, 0.0, 0.0)
            self.highs.run()
            found = self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
            value = np.array(self.highs.getSolution().col_value) if found else None
            self.highs.changeColBounds(move, 0.0, self.room[move])
            self.highs.changeColBounds(back, 0.0, self.room[back])
            if value is not None:
                return self.truth + value[:width] - value[width:]
        return None

    def note(self, x: np.ndarray) -> None:
        """Keep the point in the block's witnesses (what it moves, what it frees)."""
        count = len(self.block.size)
        delta = np.zeros((count, 5))
        delta[self.cell, self.column] = x - self.truth
        away = np.abs(delta)
        frees = away >= 1 - _EPS
        frees[:, 0] = False
        moved = np.flatnonzero((away > _MOVED).any(axis=1))
        flat = np.flatnonzero(frees.reshape(-1))
        self.block.witnesses.add(moved, flat)

    def holds(self, base: np.ndarray) -> bool:
        """``Block.holds`` for a suppression inside the starting one, by sparse points."""
        block = self.block
        unknown = block.unknown(block.hidden(base))
        if block.broken_relation(unknown) is not None:
            return False
        audited = block.audited(unknown)
        if not audited.any():
            return True
        variable = unknown | (block.never & ~block.empty)
        if (variable & ~self.modelled).any():
            return block.holds(base)  # outside the model (not for a minimality pass)
        open_ = audited[:, None] & block.audited_columns() & ~block.witnesses.freed(variable)
        if not open_.any():
            return True
        self.set_variable(variable)
        freed = np.zeros(open_.shape, dtype=bool)
        for i, k in zip(*np.nonzero(open_), strict=True):
            if freed[i, k]:
                continue
            x = self.free_point(int(i), int(k))
            if x is None:
                return False
            self.note(x)
            delta = np.zeros(open_.shape)
            delta[self.cell, self.column] = np.abs(x - self.truth)
            freed |= delta >= 1 - _EPS
        return True


def _unit(width: int, index: int, sign: float) -> np.ndarray:
    out = np.zeros(width)
    out[index] = sign
    return out


def _audit_component(
    block: Block, cells: np.ndarray, open_: np.ndarray, *, first: bool = False
) -> list[int]:
    """Cells of one component with an open count (cells × 5) pinned to a single value."""
    audit = _Audit(block, cells, open_)
    truth = audit.values
    room = (audit.hi - truth >= 1 - _EPS) | (truth - audit.lo >= 1 - _EPS)
    stuck = (open_ & ~room).any(axis=1)  # pinned by the propagated bounds alone
    if first and stuck.any():
        return [int(cells[np.flatnonzero(stuck)[0]])]
    undecided = open_ & ~stuck[:, None]
    if undecided.sum() > _FEW:
        audit.scatter()
        audit.push(undecided)
    pinned = set(cells[stuck].tolist())
    for i, k in zip(*np.nonzero(undecided), strict=True):
        if audit.free[i, k] or int(cells[i]) in pinned:
            continue
        if audit.settle(int(i), int(k)):
            pinned.add(int(cells[i]))
            if first:
                break
    return sorted(pinned)


def _chain(scope: str, parent_of: dict[str, str]) -> list[str]:
    """The scopes a scope's cells add up into: its parent, the parent's parent, … Riket."""
    out: list[str] = []
    while scope != FORBUND:
        scope = parent_of.get(scope, FORBUND)
        out.append(scope)
    return out


def make_block(
    frame: pd.DataFrame,
    instrument: Instrument,
    min_cell: int,
    protect_other: bool,
    parent_of: dict[str, str] | None = None,
) -> Block:
    """Arrays and relations (R1, R2, R3) of one block's cells.

    A förbund's block (``parent_of`` None): R2 is förbund = Σ insatser + answers without
    an insats. A national block (``indicators.national``): R2 follows ``parent_of`` over
    three levels, Riket = Σ groups, each group = Σ its förbund, and Riket = Σ förbund.
    """
    national = parent_of is not None
    questionnaire = instrument.questionnaire(str(frame["questionnaire"].iloc[0]))
    scope = frame["scope"].to_numpy(dtype=object)
    subgroup = frame["subgroup"].to_numpy(dtype=object)
    question = frame["question"].astype("Int64").fillna(POOLED_IN_BLOCK).to_numpy(dtype=np.int64)
    count = len(frame)
    index = {(scope[i], subgroup[i], question[i]): i for i in range(count)}
    published = (subgroup != OTHER) if national else (scope != UNASSIGNED) & (subgroup != OTHER)
    never = ~published
    protected = never.copy()
    if not protect_other:
        # Övriga count as known in the rules when the administrator switched protection off.
        protected &= subgroup != OTHER
    scale_numbers = {q.number for q in questionnaire.questions if not q.gate}
    gate_of = gate_rows(questionnaire, scope, subgroup, question, index)
    groups: dict[tuple, tuple[int | None, list[int]]] = {}

    def add(key: tuple, i: int, is_total: bool) -> None:
        total, parts = groups.get(key, (None, []))
        groups[key] = (i, parts) if is_total else (total, [*parts, i])

    for i in range(count):
        s, g, q = scope[i], subgroup[i], question[i]
        if questionnaire.participant:
            add(("R1", s, q), i, g == "samtliga")
        if parent_of is None:
            add(("R2", g, q), i, s == FORBUND)
        else:
            # a cell is the total of its children and a part of its parent; the förbund
            # are also parts of Riket directly (Riket = Σ groups = Σ förbund)
            add(("R2", s, g, q), i, True)
            chain = _chain(s, parent_of)
            if chain:
                add(("R2", chain[0], g, q), i, False)
            if len(chain) > 1:
                add(("R2", "alla", chain[-1], g, q), i, False)
            if s == FORBUND:
                add(("R2", "alla", FORBUND, g, q), i, True)
        if q == POOLED_IN_BLOCK or q in scale_numbers:
            add(("R3", s, g), i, q == POOLED_IN_BLOCK)
    relations = [
        (key[0], total, np.array(parts, dtype=np.int64))
        for key, (total, parts) in groups.items()
        if total is not None and parts
    ]
    member: list[list[int]] = [[] for _ in range(count)]
    for r, (_, total, parts) in enumerate(relations):
        for c in (total, *parts.tolist()):
            member[c].append(r)
    size = frame["size"].to_numpy(dtype=np.int64)
    typed = frame["typed"].to_numpy(dtype=np.int64) if "typed" in frame else np.zeros(count, int)
    values = frame[_VALUES].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return Block(
        size=size,
        effective=size - typed,
        n=frame["n"].to_numpy(dtype=np.int64),
        values=values,
        published=published,
        never=never,
        empty=frame["n"].to_numpy(dtype=np.int64) == 0,
        protected=protected,
        gate_of=gate_of,
        relations=relations,
        member=member,
        min_cell=min_cell,
        rel_total=np.array([t for _, t, _ in relations], dtype=np.int64),
        part_rel=np.concatenate(
            [np.full(len(p), r, dtype=np.int64) for r, (_, _, p) in enumerate(relations)]
            or [np.zeros(0, dtype=np.int64)]
        ),
        part_cell=np.concatenate([p for _, _, p in relations] or [np.zeros(0, dtype=np.int64)]),
    )


def _hide_all(block: Block, primary: np.ndarray, extra: np.ndarray, kinds: list[str]) -> None:
    """Hide every published cell of the block (the fail-safe)."""
    for cell in np.flatnonzero(block.published & ~primary & ~extra):
        extra[cell], kinds[cell] = True, "R2"


def _protect_block(block: Block, primary: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Complementary suppression until rules and bounds hold, then the minimality pass."""
    count = len(block.size)
    extra = np.zeros(count, dtype=bool)
    kinds = [""] * count
    while True:
        unknown = block.unknown(block.hidden(primary | extra))
        broken = block.broken_relation(unknown)
        if broken is not None:
            choice = block.fix_relation(broken, unknown)
            if choice is None or extra[choice] or primary[choice]:
                # Not for well-formed cells; fail safe, never loop forever.
                _hide_all(block, primary, extra, kinds)
                break
            extra[choice], kinds[choice] = True, block.relations[broken][0]
            continue
        pinned = block.pinned(unknown)
        if not pinned:
            break
        # One fix per cell, the first pinned cell's reason winning: a set here made the
        # reason (and so the published file) depend on Python's string hashing.
        fixes: dict[int, str] = {}
        for cell in pinned:
            fix = block.fix_pinned(cell, unknown)
            if fix is not None and not (extra[fix[0]] or primary[fix[0]]):
                fixes.setdefault(fix[0], fix[1])
        if not fixes:  # all hidden already: fail safe
            _hide_all(block, primary, extra, kinds)
            break
        for cell, kind in fixes.items():
            extra[cell], kinds[cell] = True, kind
    # Minimality: un-hide each complementary suppression alone while everything holds;
    # repeat, since un-hiding one can make another unnecessary. Every check is exact
    # (``_Moves.holds`` answers as ``Block.holds`` would), only faster: one warm model
    # for the pass and points that move few cells, so most survive a cell shown again.
    start = block.unknown(block.hidden(primary | extra)) | (block.never & ~block.empty)
    moves = _Moves(block, np.flatnonzero(start)) if extra.any() else None
    changed = True
    while changed and moves is not None:
        changed = False
        trying = sorted(np.flatnonzero(extra), key=lambda c: -int(block.size[c]))
        # Points should go round the cells still to be tried, which may be shown again,
        # the next ones most: a point is lost only when a cell it moves is shown.
        for rank, later in enumerate(trying):
            moves.set_cost(np.array([later]), 2.0 + len(trying) - rank)
        for shown in trying:
            extra[shown] = False
            if moves.holds(primary | extra):
                kinds[shown], changed = "", True
            else:
                extra[shown] = True
                moves.set_cost(np.array([shown]), 1.0)
    return extra, kinds


# --------------------------------------------------------------------------
# The public function
# --------------------------------------------------------------------------
def _changed_since(cells: pd.DataFrame, previous: pd.DataFrame | None, min_cell: int) -> pd.Series:
    """Cells whose size changed by 1..min_cell-1 since the previous publication of their year."""
    flag = pd.Series(False, index=cells.index)
    if previous is None or previous.empty:
        return flag
    key = ["year", "indicator", "questionnaire", "question", "scope", "subgroup"]

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[[*key, "size"]].copy()
        out["question"] = out["question"].astype("Int64").fillna(POOLED_IN_BLOCK).astype("int64")
        out["year"] = out["year"].astype("int64")
        out["indicator"] = out["indicator"].astype("int64")
        return out

    now = keyed(cells)
    before = keyed(previous).rename(columns={"size": "before"})
    merged = now.merge(before, on=key, how="left")
    merged.index = cells.index
    before_size = merged["before"].fillna(0).astype("int64")
    delta = (merged["size"] - before_size).abs()
    republished = merged["year"].isin(set(before["year"]))
    return republished & (delta >= 1) & (delta < min_cell)


def protect(
    cells: pd.DataFrame,
    instrument: Instrument,
    *,
    min_cell: int,
    protect_other: bool = True,
    previous: pd.DataFrame | None = None,
    typed: pd.DataFrame | None = None,
    hidden_before: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Disclosure control over all scopes, subgroups and questions at once.

    ``cells`` comes from ``build_cells``; ``previous`` (optional) holds the
    cells of the previous publication of the same year(s), with their ``size``;
    ``typed`` (optional, ``TYPED_COLUMNS``) counts paper forms per typist.
    ``hidden_before`` (optional, ``CELL_KEYS`` with -1 for a pooled row's question):
    rows hidden in an earlier shown version of the year; they stay hidden
    (``indicators.versions``: publishing one later would give its old value away).
    Small never-published parts are left out first (``leave_out``); then primary
    suppression, the relations R1–R3, conditional rows and the bounded audit.
    Returns the published rows (no ``UNASSIGNED`` scope, no ``ovriga``) with
    ``PROTECTED_COLUMNS``: ``suppressed`` is "", "primary" or "complementary",
    ``suppression`` the Swedish reason, ``left_out*`` the questionnaires left out;
    a suppressed row keeps ``n`` (not under a suppressed gate) and leaves every
    other figure empty.
    """
    if cells.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PROTECTED_COLUMNS})
    if hidden_before is not None and not hidden_before.empty:
        # Most rows hidden before are hidden again anyway: then they keep their own reason.
        first = protect(
            cells,
            instrument,
            min_cell=min_cell,
            protect_other=protect_other,
            previous=previous,
            typed=typed,
        )
        if _hidden_before(first, hidden_before)[first["suppressed"] == ""].sum() == 0:
            return first
    else:
        hidden_before = None
    cells = leave_out(
        cells, instrument, min_cell=min_cell, protect_other=protect_other, typed=typed
    )
    cells = with_typed(cells, typed, instrument)

    def block_of(frame: pd.DataFrame) -> Block:
        return make_block(frame, instrument, min_cell, protect_other)

    return protect_blocks(
        cells,
        instrument,
        min_cell=min_cell,
        previous=previous,
        hidden_before=hidden_before,
        block_of=block_of,
    )


def protect_blocks(
    cells: pd.DataFrame,
    instrument: Instrument,
    *,
    min_cell: int,
    previous: pd.DataFrame | None,
    hidden_before: pd.DataFrame | None,
    block_of: Callable[[pd.DataFrame], Block],
    workers: int = 1,
) -> pd.DataFrame:
    """Primary suppression, then each block (year × indicator × questionnaire) made by
    ``block_of`` protected on its own: the part ``protect`` and a national publication
    (``indicators.national``, R2 over three levels) share. ``cells`` carry ``typed``.
    ``workers`` > 1: the blocks are protected in that many processes at once (the
    result is the same: each block's protection depends on that block alone)."""
    # Where several cells would do equally well, a block's search takes them (and names
    # the relation) in the cells' order: sorted by their keys, which say what a cell is,
    # the same cells in any order give the same publication (a database's GROUP BY, or
    # random ids, have no order of their own).
    cells = cells.sort_values(CELL_KEYS, na_position="last", kind="stable")
    cells = cells.reset_index(drop=True)
    effective = cells["size"] - cells["typed"]
    small = effective < min_cell
    changed = _changed_since(cells, previous, min_cell) & ~small
    earlier = _hidden_before(cells, hidden_before) & ~small & ~changed
    primary_all = (small | changed | earlier).to_numpy()
    kind_all = np.full(len(cells), "", dtype=object)
    conditional_all = np.zeros(len(cells), dtype=bool)
    reason = np.full(len(cells), "", dtype=object)
    reason[changed.to_numpy()] = REASON_CHANGED
    reason[earlier.to_numpy()] = REASON_EARLIER
    reason[small.to_numpy()] = REASON_PRIMARY
    frames = [
        frame for _, frame in cells.groupby(["year", "indicator", "questionnaire"], sort=False)
    ]
    blocks = [block_of(frame) for frame in frames]
    primaries = [
        primary_all[frame.index.to_numpy()] & block.published
        for frame, block in zip(frames, blocks, strict=True)
    ]
    protected = _protect_all(blocks, primaries, workers)
    for frame, block, primary, (extra, kinds) in zip(
        frames, blocks, primaries, protected, strict=True
    ):
        rows = frame.index.to_numpy()
        base = primary | extra
        hidden = block.hidden(base)
        under_gate = block.under_hidden_gate(base)
        conditional_all[rows] = under_gate
        kind_all[rows[hidden]] = SUPPRESSED_COMPLEMENTARY
        kind_all[rows[primary]] = SUPPRESSED_PRIMARY
        for i, kind in enumerate(kinds):
            if extra[i] and not primary[i]:
                reason[rows[i]] = REASON_RELATION[kind]
        reason[rows[under_gate & ~primary]] = REASON_CONDITIONAL
    # Hidden because hidden before: so that an earlier smaller group cannot be derived.
    kind_all[earlier.to_numpy() & (kind_all == SUPPRESSED_PRIMARY)] = SUPPRESSED_COMPLEMENTARY
    return _published_rows(cells, kind_all, conditional_all, reason, instrument)


def _protect_all(
    blocks: list[Block], primaries: list[np.ndarray], workers: int
) -> list[tuple[np.ndarray, list[str]]]:
    """``_protect_block`` of every block, in ``workers`` processes when more than one.

    The processes come from a fork server (a clean process, not a copy of this one
    with its threads, locks and database connections); the largest blocks go first so
    that no process is left with a big one at the end.
    """
    if workers <= 1 or len(blocks) <= 1:
        return [_protect_block(b, p) for b, p in zip(blocks, primaries, strict=True)]
    order = sorted(range(len(blocks)), key=lambda i: -len(blocks[i].size))
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=min(workers, len(blocks)), mp_context=context) as pool:
        futures = {i: pool.submit(_protect_block, blocks[i], primaries[i]) for i in order}
        return [futures[i].result() for i in range(len(blocks))]


def _hidden_before(cells: pd.DataFrame, hidden: pd.DataFrame | None) -> pd.Series:
    """Cells hidden in an earlier shown version of their year."""
    if hidden is None or hidden.empty:
        return pd.Series(False, index=cells.index)
    keys = cells[CELL_KEYS].copy()
    keys["question"] = keys["question"].astype("Int64").fillna(POOLED_IN_BLOCK).astype("int64")
    marked = hidden[CELL_KEYS].astype({"year": "int64", "indicator": "int64", "question": "int64"})
    marked = marked.drop_duplicates().assign(_hidden=True)
    merged = keys.astype({"year": "int64", "indicator": "int64"}).merge(
        marked, on=CELL_KEYS, how="left"
    )
    return pd.Series(merged["_hidden"].fillna(False).to_numpy(dtype=bool), index=cells.index)


def _published_rows(
    cells: pd.DataFrame,
    kind: np.ndarray,
    conditional: np.ndarray,
    reason: np.ndarray,
    instrument: Instrument,
) -> pd.DataFrame:
    """The published rows with percentages, emptied where suppressed."""
    out = cells.copy()
    hidden = kind != ""
    out["suppressed"] = kind
    out["suppression"] = np.where(hidden, reason, "")
    published = (out["scope"] != UNASSIGNED) & (out["subgroup"] != OTHER)
    out = out[published].copy()
    out["response_rate"] = percent(out["answered"], out["n"])
    for share in SHARE_COLUMNS:
        out[share] = percent(out[f"{share}_n"], out["answered"])
    is_hidden = out["suppressed"] != ""
    emptied = [c for c in [*COUNT_COLUMNS, "response_rate", *SHARE_COLUMNS] if c != "n"]
    for column in emptied:
        out[column] = out[column].astype("Int64").mask(is_hidden)
    out["n"] = out["n"].astype("Int64").mask(pd.Series(conditional, index=cells.index)[out.index])
    out["suppressed"] = out["suppressed"].astype(object)
    for column in LEFT_OUT_COLUMNS:
        out[column] = out[column].astype("int64")
    ordered = order_results(out[PROTECTED_COLUMNS], instrument)
    return ordered.sort_values("scope", kind="stable").reset_index(drop=True)


def gate_rows(
    questionnaire: Any,
    scope: np.ndarray,
    subgroup: np.ndarray,
    question: np.ndarray,
    index: dict[tuple[Any, Any, int], int],
) -> np.ndarray:
    """For each cell of a block, the row of its gate question's cell (same scope and
    subgroup), or -1 for a cell that is not conditional. Shared by the förbund's and the
    national protection."""
    gates = {q.number for q in questionnaire.questions if q.gate}
    scale_numbers = {q.number for q in questionnaire.questions if not q.gate}
    conditional = {
        q.number: int(q.condition_question)
        for q in questionnaire.questions
        if q.condition_question in gates
    }
    pooled_of = (set(question.tolist()) - {POOLED_IN_BLOCK}) & scale_numbers
    if pooled_of and pooled_of <= set(conditional):
        # A pooled row made of conditional questions is conditional too.
        conditional[POOLED_IN_BLOCK] = conditional[min(pooled_of)]
    gate_of = np.full(len(question), -1, dtype=np.int64)
    for i in range(len(question)):
        gate_number = conditional.get(int(question[i]))
        if gate_number is not None:
            gate_of[i] = index.get((scope[i], subgroup[i], gate_number), -1)
    return gate_of
