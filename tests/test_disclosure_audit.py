"""The bounded audit's shortcuts agree with the attacker's whole program, count by count.

``Block.pinned`` keeps feasible points between calls (witnesses), pins counts by
bound propagation without a solve and pushes many counts in one solve. Here the
same block is audited for a sequence of hidden sets (growing, then shrinking, as the
greedy loop and the minimality pass do), and each answer is compared with a plain
maximum and minimum of every count by SciPy's ``linprog`` over rows written out
below, apart from ``indicators.disclosure``'s own program builder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from bench.disclosure import synthetic_year
from indicators import Instrument
from indicators.disclosure import (
    FORBUND,
    _Moves,
    _program_parts,
    build_cells,
    count_frames,
    leave_out,
    make_block,
    with_typed,
)
from indicators.national import protect_hierarchy
from surveys.services.catalogue import DEFAULT_FILE

INSTRUMENT = Instrument.load(DEFAULT_FILE)
EPS = 1e-6


def reference_pinned(block, unknown: np.ndarray) -> list[int]:
    """Audited cells with a count whose LP range stays within 1 of the truth."""
    variable = unknown | (block.never & ~block.empty)
    cells = np.flatnonzero(variable)
    if not len(cells):
        return []
    columns = {}
    for c in cells:
        for k in range(5 if not np.isnan(block.values[c, 4]) else 4):
            columns[(int(c), k)] = len(columns)
    eq, rhs, ub = [], [], []
    for c in cells:  # answered = negative + neutral + positive; clearly <= positive
        row = np.zeros(len(columns))
        row[columns[(c, 0)]] = -1
        for k in (1, 2, 3):
            row[columns[(c, k)]] = 1
        eq.append(row)
        rhs.append(0.0)
        if (c, 4) in columns:
            row = np.zeros(len(columns))
            row[columns[(c, 4)]], row[columns[(c, 3)]] = 1, -1
            ub.append(row)
    for _, total, parts in block.relations:
        terms = [(int(total), 1.0)] + [(int(p), -1.0) for p in parts]
        if not any(variable[c] for c, _ in terms):
            continue
        with_clearly = not any(np.isnan(block.values[c, 4]) for c, _ in terms)
        for k in range(5 if with_clearly else 4):
            row, value = np.zeros(len(columns)), 0.0
            for c, sign in terms:
                if variable[c]:
                    row[columns[(c, k)]] += sign
                else:
                    value -= sign * block.values[c, k]
            eq.append(row)
            rhs.append(value)
    bounds = [(0, float(block.n[c])) for c, _ in columns]
    pinned = []
    for c in np.flatnonzero(block.audited(unknown)):
        for k in range(1, 5):
            if (c, k) not in columns:
                continue
            j, truth = columns[(int(c), k)], block.values[c, k]
            reach = []
            for sign in (-1.0, 1.0):
                objective = np.zeros(len(columns))
                objective[j] = sign
                result = linprog(
                    objective,
                    A_ub=np.array(ub) if ub else None,
                    b_ub=np.zeros(len(ub)) if ub else None,
                    A_eq=np.array(eq),
                    b_eq=np.array(rhs),
                    bounds=bounds,
                    method="highs",
                )
                reach.append(result.status == 0 and abs(result.x[j] - truth) >= 1 - EPS)
            if not any(reach):
                pinned.append(int(c))
                break
    return pinned


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_audit_pins_exactly_what_the_whole_program_pins(seed):
    answers = synthetic_year(INSTRUMENT, 260, seed=seed, insatser=5)
    cells = build_cells(*count_frames(answers, INSTRUMENT), INSTRUMENT)
    cells = with_typed(leave_out(cells, INSTRUMENT, min_cell=5), None, INSTRUMENT)
    rng = np.random.default_rng(seed)
    compared = pinned_seen = 0
    blocks = list(cells.groupby(["year", "indicator", "questionnaire"], sort=True))
    for _, frame in blocks[:: max(1, len(blocks) // 4)]:
        block = make_block(frame.reset_index(drop=True), INSTRUMENT, 5, True)
        published = np.flatnonzero(block.published & ~block.empty)
        order = rng.permutation(published)
        # hide more and more (as the greedy loop does), then show again (minimality)
        steps = [order[: len(order) * share // 10] for share in (1, 3, 5, 3, 1)]
        for hidden_cells in steps:
            hidden = np.zeros(len(block.size), dtype=bool)
            hidden[hidden_cells] = True
            unknown = block.unknown(block.hidden(hidden))
            expected = reference_pinned(block, unknown)
            assert block.pinned(unknown) == expected
            compared += 1
            pinned_seen += len(expected)
    assert compared >= 10
    assert pinned_seen > 0  # the comparison saw pinned cells, not only free ones


@pytest.mark.parametrize("seed", [1])
def test_the_minimality_check_answers_as_the_whole_program(seed):
    """``_Moves.holds`` (one warm model, least-move points) against the rules and the
    reference LP, while cells are shown again one by one as the minimality pass does."""
    answers = synthetic_year(INSTRUMENT, 260, seed=seed, insatser=5)
    cells = build_cells(*count_frames(answers, INSTRUMENT), INSTRUMENT)
    cells = with_typed(leave_out(cells, INSTRUMENT, min_cell=5), None, INSTRUMENT)
    rng = np.random.default_rng(seed)
    answers_seen: list[bool] = []
    pinned_seen = points_seen = 0
    blocks = list(cells.groupby(["year", "indicator", "questionnaire"], sort=True))
    for _, frame in blocks[:: max(1, len(blocks) // 4)]:
        block = make_block(frame.reset_index(drop=True), INSTRUMENT, 5, True)
        # Everything hidden first (which holds), then large cells shown one by one.
        base = block.published & ~block.empty
        order = rng.permutation(np.flatnonzero(base & (block.effective >= 5)))
        start = block.unknown(block.hidden(base)) | (block.never & ~block.empty)
        moves = _Moves(block, np.flatnonzero(start))
        for shown in order[:15]:
            base[shown] = False
            unknown = block.unknown(block.hidden(base))
            rules = block.broken_relation(unknown) is None
            expected = rules and not reference_pinned(block, unknown)
            assert moves.holds(base) == expected
            pinned_seen += rules and not expected
            answers_seen.append(expected)
            base[shown] = not expected
            points_seen += check_points(block, moves, base, start)
    assert True in answers_seen
    assert False in answers_seen
    assert pinned_seen > 0  # some checks failed on the bounds, not on the rules
    assert points_seen > 0


def check_points(block, moves, base: np.ndarray, start: np.ndarray) -> int:
    """Each point ``_Moves.free_point`` gives is feasible, keeps shown cells at their
    truth and moves its count by at least 1 (a few audited counts are asked)."""
    unknown = block.unknown(block.hidden(base))
    moves.set_variable(unknown | (block.never & ~block.empty))
    cell, column, matrix, lower, upper, bounds, truth = _program_parts(block, np.flatnonzero(start))
    fixed = ~np.isin(cell, np.flatnonzero(unknown | (block.never & ~block.empty)))
    checked = 0
    for i in np.flatnonzero(block.audited(unknown))[:3]:
        for k in (1, 2, 3):
            x = moves.free_point(int(i), k)
            if x is None:
                continue
            j = moves.index[(int(i), k)]
            rows = matrix @ x
            assert abs(x[j] - truth[j]) >= 1 - EPS
            assert np.all(rows >= lower - EPS)
            assert np.all(rows <= upper + EPS)
            assert np.all(x >= -EPS)
            assert np.all(x <= bounds + EPS)
            assert np.allclose(x[fixed], truth[fixed])
            checked += 1
    return checked


def test_blocks_protected_in_several_processes_give_the_same_publication():
    """A national publication's blocks may be protected in parallel (``workers``): each
    block depends on itself alone, so the published rows are the same, byte for byte."""
    answers = synthetic_year(INSTRUMENT, 1500, seed=5, insatser=12)
    answers = answers[answers["intervention"] != ""]  # every förbund is in Riket
    cells = build_cells(*count_frames(answers, INSTRUMENT), INSTRUMENT)
    scopes = sorted(set(cells["scope"]) - {FORBUND})
    parent_of = {scope: f"grupp:{i % 3}" for i, scope in enumerate(scopes)}
    groups = answers.assign(intervention=answers["intervention"].map(parent_of))
    group_cells = build_cells(*count_frames(groups, INSTRUMENT), INSTRUMENT)
    cells = pd.concat([cells, group_cells[group_cells["scope"] != FORBUND]], ignore_index=True)
    alone = protect_hierarchy(cells, INSTRUMENT, min_cell=5, parent_of=parent_of)
    together = protect_hierarchy(cells, INSTRUMENT, min_cell=5, parent_of=parent_of, workers=2)
    assert alone["suppressed"].ne("").sum() > 0  # something to protect
    assert alone.groupby(["indicator", "questionnaire"]).ngroups > 2
    pd.testing.assert_frame_equal(alone, together)
