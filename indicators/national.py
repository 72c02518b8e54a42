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

import pandas as pd

from indicators.disclosure import (
    LEFT_OUT_COLUMNS,
    PROTECTED_COLUMNS,
    Block,
    make_block,
    protect_blocks,
)
from indicators.instrument import Instrument


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

    def block_of(frame: pd.DataFrame) -> Block:
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
