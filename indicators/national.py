"""Disclosure control over a hierarchy of scopes: Riket, comparison groups, förbund.

A förbund's publication has two levels (the förbund = Σ insatser + answers without
an insats). A national publication has three: Riket = Σ comparison groups, each
group = Σ its förbund, and Riket = Σ förbund. ``protect_hierarchy`` is
``indicators.disclosure.protect`` with R2 following ``parent_of`` (a scope's
cells add up into its parent's, and every scope's into Riket): the same primary
suppression, the same rules (a) and (b), the same linear-algebra property and the
same minimality pass, over all three levels at once, so that no suppressed cell
can be derived through any combination of them (a förbund's small cell through its
group minus the group's other förbund, say). Pure: no Flask, no database.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from indicators.disclosure import (
    _POOLED,
    _VALUES,
    FORBUND,
    LEFT_OUT_COLUMNS,
    OTHER,
    PROTECTED_COLUMNS,
    _Block,
    gate_rows,
    protect_blocks,
)
from indicators.instrument import Instrument


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
    parent_of: dict[str, str],
) -> _Block:
    """Arrays and relations (R1, R2 along the hierarchy, R3) of one block's cells."""
    questionnaire = instrument.questionnaire(str(frame["questionnaire"].iloc[0]))
    scope = frame["scope"].to_numpy(dtype=object)
    subgroup = frame["subgroup"].to_numpy(dtype=object)
    question = frame["question"].astype("Int64").fillna(_POOLED).to_numpy(dtype=np.int64)
    count = len(frame)
    index = {(scope[i], subgroup[i], question[i]): i for i in range(count)}
    published = subgroup != OTHER
    never = ~published
    protected = never.copy() if protect_other else np.zeros(count, dtype=bool)
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
        # R2: a cell is the total of its children and a part of its parent; the förbund
        # are also parts of Riket directly (Riket = Σ groups = Σ förbund)
        add(("R2", s, g, q), i, True)
        chain = _chain(s, parent_of)
        if chain:
            add(("R2", chain[0], g, q), i, False)
        if len(chain) > 1:
            add(("R2", "alla", chain[-1], g, q), i, False)
        if s == FORBUND:
            add(("R2", "alla", FORBUND, g, q), i, True)
        if q == _POOLED or q in scale_numbers:
            add(("R3", s, g), i, q == _POOLED)
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
    return _Block(
        size=size,
        effective=size - typed,
        n=frame["n"].to_numpy(dtype=np.int64),
        values=frame[_VALUES].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
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


def protect_hierarchy(
    cells: pd.DataFrame,
    instrument: Instrument,
    *,
    min_cell: int,
    parent_of: dict[str, str],
    protect_other: bool = True,
    previous: pd.DataFrame | None = None,
    hidden_before: pd.DataFrame | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """``indicators.disclosure.protect`` over Riket (scope ""), groups and förbund at once.

    ``cells`` holds every scope's cells (``build_cells`` rows); ``parent_of`` maps a
    scope to the scope it adds up into (a förbund to its group; missing = Riket);
    ``hidden_before``: rows hidden in an earlier shown version of the year, which stay
    hidden (``indicators.versions``); ``workers``: processes for the blocks
    (``protect_blocks``). Nothing is left out and nothing was typed in.
    """
    if cells.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PROTECTED_COLUMNS})
    cells = cells.reset_index(drop=True)
    for column in [*LEFT_OUT_COLUMNS, "typed"]:
        if column not in cells:
            cells[column] = 0

    def block_of(frame: pd.DataFrame) -> _Block:
        return make_block(frame, instrument, min_cell, protect_other, parent_of)

    return protect_blocks(
        cells,
        instrument,
        min_cell=min_cell,
        previous=previous,
        hidden_before=hidden_before,
        block_of=block_of,
        workers=workers,
    )
