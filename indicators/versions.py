"""Versions are tables too (DESIGN.md "Disclosure control").

A *version* of a year is a table someone was shown: a publication, or a preview shown
to the administrator. Whoever saw two versions can subtract them, so the difference
between a new version and every earlier shown version must itself be a table that
passes the rules — including the parts that are never published (övriga, answers
without an insats).

The rule here works on *atoms*: one questionnaire × one scope (an insats, or no insats)
× one gender group (kvinnor, män, övriga; samtliga for the other questionnaires). Every
figure of a version — published cells and never-published parts alike — is a sum of
atoms. ``hold_back`` gives each atom of the new version either its current answers or,
when they changed too little, exactly the figures it had in the newest shown version
(the new questionnaires *wait*). An atom takes its current answers only if, against
EVERY earlier shown version and for every question (and pooled row) of the atom, the
difference is nothing at all, or at least MIN_CELL answers (and, where ``n`` moved, at
least MIN_CELL questionnaires) beyond the most new forms any one person typed in
(whoever typed them knows them: DESIGN.md "What a reader typed in is known to that
reader"; a person who typed every new form of the atom learns nothing about anyone).
Each shown version keeps the paper forms per typist that match its figures, so the
forms typed in between two versions are known exactly.

Why this is sound against the bounded attacker: the difference of two versions is then
a data set whose every atom is empty or holds at least MIN_CELL answers not known to any
single reader — the same situation as a first publication with no small atom at all. So
every figure of the difference (a sum of atoms: published cells, övriga, answers without
insats, left-out groups) is 0 or ≥ MIN_CELL, and no combination of the relations R1–R3
and the bounds isolates fewer than MIN_CELL new answers; each version on its own is
protected by ``protect``. An atom that waits shows a figure already shown, which tells
nothing new. By induction the newest shown version passes against every older one, so
falling back to it is always possible.
A row hidden in a shown version stays hidden in every later version of the year
(``protect(hidden_before=…)``): published later, its new value less the difference
(a group of at least MIN_CELL, which the attacker may learn, e.g. from the förbund's
row when no other insats changed) would give its old, small value away. So every
published row of a new version was published (or did not exist) in the earlier ones,
and what the two versions tell together splits into the earlier version (protected)
and the difference (no small atom); tests/test_disclosure_property.py plays it.

Pure (no database): the services feed it the counts of the shown versions; the
result is deterministic (sorted keys, no sets).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from indicators.disclosure import (
    CELL_KEYS,
    COUNT_COLUMNS,
    FORBUND,
    POOLED_IN_BLOCK,
    TYPED_COLUMNS,
    atom_mask,
    build_cells,
    scope_and_subgroup,
)
from indicators.instrument import Instrument

ATOM = ["year", "questionnaire", "scope", "subgroup"]  # what waits together
_ROW = [*ATOM, "indicator", "question"]  # one question (or pooled row) of an atom
_CODE_KEYS = ["year", "questionnaire", "question", "intervention", "gender", "code"]
_POOLED_KEYS = ["year", "indicator", "questionnaire", "intervention", "gender"]


@dataclass
class Shown:
    """One version of a year as it was shown: the counts it was made from."""

    code_counts: pd.DataFrame  # as ``disclosure.count_frames`` gives them
    pooled_sizes: pd.DataFrame
    typed: pd.DataFrame  # ``TYPED_COLUMNS``: paper forms per typist behind its figures
    hidden: pd.DataFrame | None = None  # ``CELL_KEYS`` of its hidden rows (``hidden_keys``)


@dataclass
class HeldBack:
    """The counts of the new version (to protect, show and keep) and what waits."""

    code_counts: pd.DataFrame
    pooled_sizes: pd.DataFrame
    waiting: pd.DataFrame  # year, questionnaire, scope, subgroup, waiting (questionnaires)
    held: list[tuple] = field(default_factory=list)  # atoms shown as before, sorted
    typed: pd.DataFrame = field(default_factory=pd.DataFrame)  # forms per typist behind them
    hidden_before: pd.DataFrame | None = None  # rows hidden in any shown version: stay hidden

    @property
    def total_waiting(self) -> int:
        return int(self.waiting["waiting"].sum()) if not self.waiting.empty else 0


def _atom_rows(shown: Shown, instrument: Instrument) -> pd.DataFrame:
    """Every atom's question and pooled rows of a version: counts and size, keyed by _ROW."""
    cells = build_cells(shown.code_counts, shown.pooled_sizes, instrument)
    participant = {qn.key for qn in instrument.questionnaires if qn.participant}
    atoms = cells[atom_mask(cells, participant)].copy()
    atoms["question"] = atoms["question"].astype("Int64").fillna(POOLED_IN_BLOCK).astype("int64")
    atoms["clearly_positive_n"] = atoms["clearly_positive_n"].astype("Int64").fillna(-1)
    values = [*COUNT_COLUMNS, "size"]
    return atoms[[*_ROW, *values]].astype({c: "int64" for c in values})


def _typed_per_atom(typed: pd.DataFrame | None, instrument: Instrument) -> pd.DataFrame:
    """Paper forms per atom and typist."""
    if typed is None or typed.empty:
        empty = pd.DataFrame(columns=[*ATOM, "typist", "count"])
        return empty.astype({"year": "int64", "count": "int64"})
    participant = {qn.key for qn in instrument.questionnaires if qn.participant}
    fine = scope_and_subgroup(typed[TYPED_COLUMNS], participant)
    fine["year"] = fine["year"].astype("int64")
    return fine.groupby([*ATOM, "typist"], as_index=False)["count"].sum()


def _typed_in_difference(now: pd.DataFrame, before: pd.DataFrame, rows: pd.DataFrame):
    """Per atom: the most new forms one person typed in, among people who did not type
    every new form of the atom (who typed them all learns nothing about anyone else).

    A shown version keeps the paper forms per typist that match its figures (a held atom
    keeps those of the version whose figures it shows), so the difference is exact.
    """
    merged = now.merge(before, on=[*ATOM, "typist"], how="left", suffixes=("", "_b"))
    merged["new"] = (merged["count"] - merged["count_b"].fillna(0)).clip(lower=0)
    new_forms = rows.groupby(ATOM)["n_moved"].max().rename("forms").reset_index()
    merged = merged.merge(new_forms, on=ATOM, how="left")
    partial = merged[merged["new"] < merged["forms"].fillna(0)]
    return partial.groupby(ATOM, as_index=False)["new"].max().rename(columns={"new": "since"})


def _passes(now: pd.DataFrame, before: Shown, typed_now: pd.DataFrame, shown_rows, m: int):
    """Per atom: whether the difference from a shown version passes (see the module)."""
    merged = now.merge(shown_rows, on=_ROW, how="outer", suffixes=("", "_b"))
    values = [*COUNT_COLUMNS, "size"]
    for c in values:
        fill = -1 if c == "clearly_positive_n" else 0
        merged[c] = merged[c].fillna(fill).astype("int64")
        merged[f"{c}_b"] = merged[f"{c}_b"].fillna(fill).astype("int64")
    merged["n_moved"] = (merged["n"] - merged["n_b"]).abs()
    typed = _typed_in_difference(typed_now, before.typed, merged)
    merged = merged.merge(typed, on=ATOM, how="left")
    known = merged["since"].fillna(0).astype("int64")
    counts = [c for c in values if c not in ("n", "size")]
    same_counts = np.all([merged[c] == merged[f"{c}_b"] for c in counts], axis=0)
    size_moved = (merged["size"] - merged["size_b"]).abs()
    n_moved = merged["n_moved"]
    size_ok = ((size_moved == 0) & same_counts) | (size_moved - known >= m)
    n_ok = (n_moved == 0) | (n_moved - known >= m)
    merged["ok"] = size_ok & n_ok
    return merged.groupby(ATOM, sort=True)["ok"].all()


def _atoms_of(frame: pd.DataFrame, participant: set[str]) -> pd.Series:
    """The atom key (a tuple) of each row of a code-count, pooled-size or typed frame."""
    fine = scope_and_subgroup(
        frame[["year", "questionnaire", "intervention", "gender"]], participant
    )
    return pd.Series(
        list(
            zip(
                fine["year"].astype("int64"),
                fine["questionnaire"],
                fine["scope"],
                fine["subgroup"],
                strict=True,
            )
        ),
        index=frame.index,
        dtype=object,
    )


def _swap(now: pd.DataFrame, newest: pd.DataFrame, held: set, participant: set[str]):
    """``now`` with the rows of held atoms replaced by the newest shown version's rows."""
    keep = ~_atoms_of(now, participant).isin(held) if not now.empty else pd.Series(dtype=bool)
    take = _atoms_of(newest, participant).isin(held) if not newest.empty else None
    parts = [now[keep] if not now.empty else now]
    if take is not None:
        parts.append(newest[take][now.columns] if not now.empty else newest[take])
    return pd.concat(parts, ignore_index=True)


def hold_back(
    current: Shown, shown: list[Shown], instrument: Instrument, *, min_cell: int
) -> HeldBack:
    """The new version's counts: each atom current, or as in the newest shown version.

    ``shown``: every earlier version of the year that anyone saw, oldest first, each
    as it was shown (after its own hold-back). See the module docstring for the rule.
    """
    if not shown:
        empty = pd.DataFrame(columns=[*ATOM, "waiting"])
        return HeldBack(current.code_counts, current.pooled_sizes, empty, typed=current.typed)
    before = _hidden_before(shown)
    participant = {qn.key for qn in instrument.questionnaires if qn.participant}
    now_rows = _atom_rows(current, instrument)
    typed_now = _typed_per_atom(current.typed, instrument)
    passes = [
        _passes(
            now_rows,
            Shown(v.code_counts, v.pooled_sizes, _typed_per_atom(v.typed, instrument)),
            typed_now,
            _atom_rows(v, instrument),
            min_cell,
        )
        for v in shown
    ]
    ok = pd.concat(passes, axis=1).fillna(True).astype(bool).all(axis=1).sort_index()
    held = {tuple(k) for k in ok.index[~ok.to_numpy()]}
    if not held:
        empty = pd.DataFrame(columns=[*ATOM, "waiting"])
        return HeldBack(current.code_counts, current.pooled_sizes, empty, [], current.typed, before)
    newest = shown[-1]
    code_counts = _swap(current.code_counts, newest.code_counts, held, participant)
    pooled = _swap(current.pooled_sizes, newest.pooled_sizes, held, participant)
    typed = _swap(_typed_frame(current.typed), _typed_frame(newest.typed), held, participant)
    waiting = _waiting(now_rows, _atom_rows(newest, instrument), held)
    return HeldBack(code_counts, pooled, waiting, sorted(held), typed, before)


def _hidden_before(shown: list[Shown]) -> pd.DataFrame | None:
    frames = [v.hidden for v in shown if v.hidden is not None and not v.hidden.empty]
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True).drop_duplicates().reset_index(drop=True)


def hidden_keys(published: pd.DataFrame) -> pd.DataFrame:
    """The ``CELL_KEYS`` of a version's hidden rows (pooled rows' question: -1), sorted."""
    rows = published[published["suppressed"].fillna("").astype(str) != ""]
    keys = rows[CELL_KEYS].copy()
    keys["question"] = keys["question"].astype("Int64").fillna(POOLED_IN_BLOCK).astype("int64")
    keys = keys.astype({"year": "int64", "indicator": "int64"})
    return keys.sort_values(CELL_KEYS, kind="stable").reset_index(drop=True)


def _typed_frame(typed: pd.DataFrame | None) -> pd.DataFrame:
    if typed is None or typed.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in TYPED_COLUMNS})
    return typed[TYPED_COLUMNS]


def _waiting(now: pd.DataFrame, newest: pd.DataFrame, held: set) -> pd.DataFrame:
    """Questionnaires of held atoms not shown yet (at least: the most ``n`` grew by)."""
    merged = now.merge(newest, on=_ROW, how="left", suffixes=("", "_b"))
    merged["waiting"] = (merged["n"] - merged["n_b"].fillna(0)).clip(lower=0).astype("int64")
    keys = pd.Series(list(zip(*(merged[c] for c in ATOM), strict=True)), index=merged.index)
    merged = merged[keys.isin(held) & (merged["scope"] != FORBUND)]
    out = merged.groupby(ATOM, as_index=False, sort=True)["waiting"].max()
    return out[out["waiting"] > 0].reset_index(drop=True)
