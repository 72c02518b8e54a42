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

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
PROTECTED_COLUMNS = [*RESULT_COLUMNS, "scope", "suppression"]

REASON_PRIMARY = "för få svar"
REASON_CHANGED = "ändrad sedan förra publiceringen"
REASON_CONDITIONAL = "villkorsfråga"
REASON_RELATION = {
    "R1": "kan räknas fram (kön)",
    "R2": "kan räknas fram (insats)",
    "R3": "kan räknas fram (fråga)",
}
_SUBGROUP_OF_GENDER = {"kvinna": "kvinnor", "man": "man"}
_POOLED = -1  # stands for the pooled row's empty question inside a block
_TOL = 1e-8


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


def _scope_and_subgroup(frame: pd.DataFrame, participant: set[str]) -> pd.DataFrame:
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
    classified = _scope_and_subgroup(classify(counts, instrument), participant)
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
    sizes = _scope_and_subgroup(pooled_sizes, participant)
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
# One block: year × indicator × questionnaire
# --------------------------------------------------------------------------
@dataclass
class _Block:
    """The cells of one block as arrays, with their relations."""

    size: np.ndarray  # int
    published: np.ndarray  # bool: scope != "-" and subgroup != "ovriga"
    never: np.ndarray  # bool: never published on its own (the attacker cannot read it)
    empty: np.ndarray  # bool: n = 0
    protected: np.ndarray  # bool: never published and protected by rules and property
    gate_of: np.ndarray  # int: index of the gate row of a conditional row, else -1
    relations: list[tuple[str, int, np.ndarray]]  # (kind, total, parts)
    member: list[list[int]]  # relation indices per cell
    matrix: np.ndarray  # relations × cells: +1 total, -1 parts
    min_cell: int
    rel_total: np.ndarray  # total cell per relation
    part_rel: np.ndarray  # relation of each (relation, part) pair
    part_cell: np.ndarray  # part cell of each (relation, part) pair

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

    def derivable(self, unknown: np.ndarray) -> np.ndarray:
        """Unknown cells of size 1..min_cell-1 that the relations determine exactly.

        A hidden variable is determined iff its unit vector lies in the row
        space of the hidden-variable coefficient matrix, i.e. iff every null-space
        vector of that matrix is zero in its coordinate. The matrix falls apart
        into independent components; only those holding a small cell are solved.
        """
        small = unknown & (self.size >= 1) & (self.size < self.min_cell)
        if not small.any():
            return np.flatnonzero(small)
        # Unprotected övriga (protect_other=False) are still unknowns, just not protected.
        columns = np.flatnonzero(unknown | (self.never & ~self.empty))
        sub = self.matrix[:, columns]
        sub = sub[np.abs(sub).sum(axis=1) > 0]
        if sub.shape[0] == 0:
            return np.array([], dtype=int)
        labels = _components(sub != 0)
        found: list[int] = []
        for label in np.unique(labels[small[columns]]):
            in_component = labels == label
            rows = (sub[:, in_component] != 0).any(axis=1)
            part = sub[np.ix_(rows, in_component)]
            if part.shape[0] > part.shape[1]:
                part = np.linalg.qr(part, mode="r")  # same row space, square
            _, singular, vt = np.linalg.svd(part, full_matrices=True)
            rank = int((singular > _TOL * max(1.0, singular.max(initial=0.0))).sum())
            null = vt[rank:]
            determined = np.all(np.abs(null) < 1e-7, axis=0)
            found += [int(c) for c in columns[in_component][determined]]
        hits = np.array(sorted(found), dtype=int)
        return hits[small[hits]]

    def holds(self, base: np.ndarray) -> bool:
        """All rules and the property hold for this suppression."""
        unknown = self.unknown(self.hidden(base))
        return self.broken_relation(unknown) is None and len(self.derivable(unknown)) == 0

    # -- choosing the next cell to suppress ---------------------------------
    def _visible(self, cells: Iterable[int], unknown: np.ndarray) -> list[int]:
        return [int(c) for c in cells if self.published[c] and not unknown[c] and not self.empty[c]]

    def _smallest(self, cells: list[int]) -> int | None:
        return min(cells, key=lambda c: (int(self.size[c]), c)) if cells else None

    def fix_relation(self, r: int, unknown: np.ndarray) -> int | None:
        """R3: the pooled row; R1/R2: the smallest visible part, the total last."""
        kind, total, parts = self.relations[r]
        if kind == "R3":
            return total if self.published[total] else None
        choice = self._smallest(self._visible(parts, unknown))
        if choice is None and self.published[total]:
            choice = total
        return choice

    def fix_derivable(self, cell: int, unknown: np.ndarray) -> tuple[int, str] | None:
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


def _components(nonzero: np.ndarray) -> np.ndarray:
    """Connected-component label of each column of a rows × columns incidence mask."""
    count = nonzero.shape[1]
    labels = np.arange(count)
    while True:
        row_min = np.where(nonzero, labels[None, :], count).min(axis=1)
        new = np.minimum(labels, np.where(nonzero, row_min[:, None], count).min(axis=0))
        if np.array_equal(new, labels):
            return labels
        labels = new


def _make_block(frame: pd.DataFrame, instrument: Instrument, min_cell: int, protect_other: bool):
    """Arrays and relations (R1, R2, R3) of one block's cells."""
    questionnaire = instrument.questionnaire(str(frame["questionnaire"].iloc[0]))
    scope = frame["scope"].to_numpy(dtype=object)
    subgroup = frame["subgroup"].to_numpy(dtype=object)
    question = frame["question"].astype("Int64").fillna(_POOLED).to_numpy(dtype=np.int64)
    count = len(frame)
    index = {(scope[i], subgroup[i], question[i]): i for i in range(count)}
    published = (scope != UNASSIGNED) & (subgroup != OTHER)
    never = ~published
    protected = never.copy()
    if not protect_other:
        # Övriga count as known in the rules when the administrator switched protection off.
        protected &= subgroup != OTHER
    gates = {q.number for q in questionnaire.questions if q.gate}
    scale_numbers = {q.number for q in questionnaire.questions if not q.gate}
    conditional = {
        q.number: int(q.condition_question)
        for q in questionnaire.questions
        if q.condition_question in gates
    }
    in_block = set(question.tolist()) - {_POOLED}
    pooled_of = in_block & scale_numbers
    if pooled_of and pooled_of <= set(conditional):
        # A pooled row made of conditional questions is conditional too.
        conditional[_POOLED] = conditional[min(pooled_of)]
    gate_of = np.full(count, -1, dtype=np.int64)
    for i in range(count):
        gate_number = conditional.get(int(question[i]))
        if gate_number is not None:
            gate_of[i] = index.get((scope[i], subgroup[i], gate_number), -1)

    groups: dict[tuple[str, object, object], tuple[int | None, list[int]]] = {}

    def add(kind: str, key: tuple, i: int, is_total: bool) -> None:
        total, parts = groups.get((kind, *key), (None, []))
        if is_total:
            total = i
        else:
            parts = [*parts, i]
        groups[(kind, *key)] = (total, parts)

    for i in range(count):
        s, g, q = scope[i], subgroup[i], question[i]
        if questionnaire.participant:
            add("R1", (s, q), i, g == "samtliga")
        add("R2", (g, q), i, s == FORBUND)
        if q == _POOLED or q in scale_numbers:
            add("R3", (s, g), i, q == _POOLED)
    relations = [
        (key[0], total, np.array(parts, dtype=np.int64))
        for key, (total, parts) in groups.items()
        if total is not None and parts
    ]
    matrix = np.zeros((len(relations), count))
    member: list[list[int]] = [[] for _ in range(count)]
    for r, (_, total, parts) in enumerate(relations):
        matrix[r, total] = 1.0
        matrix[r, parts] = -1.0
        for c in (total, *parts.tolist()):
            member[c].append(r)
    return _Block(
        size=frame["size"].to_numpy(dtype=np.int64),
        published=published,
        never=never,
        empty=frame["n"].to_numpy(dtype=np.int64) == 0,
        protected=protected,
        gate_of=gate_of,
        relations=relations,
        member=member,
        matrix=matrix,
        min_cell=min_cell,
        rel_total=np.array([t for _, t, _ in relations], dtype=np.int64),
        part_rel=np.concatenate(
            [np.full(len(p), r, dtype=np.int64) for r, (_, _, p) in enumerate(relations)]
            or [np.zeros(0, dtype=np.int64)]
        ),
        part_cell=np.concatenate([p for _, _, p in relations] or [np.zeros(0, dtype=np.int64)]),
    )


def _hide_all(block: _Block, primary: np.ndarray, extra: np.ndarray, kinds: list[str]) -> None:
    """Hide every published cell of the block (the fail-safe)."""
    for cell in np.flatnonzero(block.published & ~primary & ~extra):
        extra[cell], kinds[cell] = True, "R2"


def _protect_block(block: _Block, primary: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Complementary suppression until rules and property hold, then the minimality pass."""
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
        derivable = block.derivable(unknown)
        if len(derivable) == 0:
            break
        fix = block.fix_derivable(int(derivable[0]), unknown)
        if fix is None or extra[fix[0]] or primary[fix[0]]:  # all hidden already: fail safe
            _hide_all(block, primary, extra, kinds)
            break
        extra[fix[0]], kinds[fix[0]] = True, fix[1]
    # Minimality: un-hide each complementary suppression alone while everything holds;
    # repeat, since un-hiding one can make another unnecessary.
    changed = True
    while changed:
        changed = False
        for cell in sorted(np.flatnonzero(extra), key=lambda c: -int(block.size[c])):
            extra[cell] = False
            if block.holds(primary | extra):
                kinds[cell], changed = "", True
            else:
                extra[cell] = True
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
        out["question"] = out["question"].astype("Int64").fillna(_POOLED).astype("int64")
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
) -> pd.DataFrame:
    """Disclosure control over all scopes, subgroups and questions at once.

    ``cells`` comes from ``build_cells``; ``previous`` (optional) holds the
    cells of the previous publication of the same year(s), with their ``size``.
    Returns the published rows (no ``UNASSIGNED`` scope, no ``ovriga``) with
    ``RESULT_COLUMNS`` plus ``scope`` and ``suppression`` (the Swedish reason);
    a suppressed row keeps ``n`` (not under a suppressed gate) and leaves every
    other figure empty.
    """
    if cells.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PROTECTED_COLUMNS})
    cells = cells.reset_index(drop=True)
    small = cells["size"] < min_cell
    changed = _changed_since(cells, previous, min_cell) & ~small
    primary_all = (small | changed).to_numpy()
    hidden_all = np.zeros(len(cells), dtype=bool)
    conditional_all = np.zeros(len(cells), dtype=bool)
    reason = np.full(len(cells), "", dtype=object)
    reason[changed.to_numpy()] = REASON_CHANGED
    reason[small.to_numpy()] = REASON_PRIMARY
    for _, frame in cells.groupby(["year", "indicator", "questionnaire"], sort=False):
        rows = frame.index.to_numpy()
        block = _make_block(frame, instrument, min_cell, protect_other)
        primary = primary_all[rows] & block.published
        extra, kinds = _protect_block(block, primary)
        base = primary | extra
        hidden = block.hidden(base)
        hidden_all[rows] = hidden
        conditional_all[rows] = block.under_hidden_gate(base)
        for i, kind in enumerate(kinds):
            if extra[i] and not primary[i]:
                reason[rows[i]] = REASON_RELATION[kind]
        reason[rows[conditional_all[rows]]] = REASON_CONDITIONAL
    return _published_rows(cells, hidden_all, conditional_all, reason, instrument)


def _published_rows(
    cells: pd.DataFrame,
    hidden: np.ndarray,
    conditional: np.ndarray,
    reason: np.ndarray,
    instrument: Instrument,
) -> pd.DataFrame:
    """The published rows with percentages, emptied where suppressed."""
    out = cells.copy()
    out["suppressed"] = hidden
    out["suppression"] = np.where(hidden, reason, "")
    published = (out["scope"] != UNASSIGNED) & (out["subgroup"] != OTHER)
    out = out[published].copy()
    out["response_rate"] = percent(out["answered"], out["n"])
    for share in SHARE_COLUMNS:
        out[share] = percent(out[f"{share}_n"], out["answered"])
    emptied = [c for c in [*COUNT_COLUMNS, "response_rate", *SHARE_COLUMNS] if c != "n"]
    for column in emptied:
        out[column] = out[column].astype("Int64").mask(out["suppressed"])
    out["n"] = out["n"].astype("Int64").mask(pd.Series(conditional, index=cells.index)[out.index])
    out["suppressed"] = out["suppressed"].astype(bool)
    ordered = order_results(out[PROTECTED_COLUMNS], instrument)
    return ordered.sort_values("scope", kind="stable").reset_index(drop=True)
