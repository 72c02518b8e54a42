"""Shared by the disclosure tests (``test_disclosure*.py``): answer rows built as
respondents, the instrument, one protected run checked by the attacker, and several
versions shown one after another (``play``) with what an attacker learns from them.

A module of its own: test modules import helpers from here, never from each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from indicators import Instrument
from indicators.disclosure import TYPED_COLUMNS, build_cells, count_frames, protect
from indicators.versions import Shown, hidden_keys, hold_back
from surveys.services.catalogue import DEFAULT_FILE
from tests.attacker import attack

INSTRUMENT = Instrument.load(DEFAULT_FILE)


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


MIN_CELL = 5


def run(rows, *, min_cell=MIN_CELL, protect_other=True, previous=None):
    truth = cells_of(rows)
    published = protect(
        truth, INSTRUMENT, min_cell=min_cell, protect_other=protect_other, previous=previous
    )
    answers = frame(rows)
    assert attack(published, answers, min_cell=min_cell, protect_other=protect_other) == []
    return truth, published


def joint_relation_rows() -> list[dict]:
    """One woman in Insats 0; Insats 1 with women, one man and four without a gender;
    five women without an insats (the joint-relations example, also hashed below)."""
    rows = respondents("deltagare_avslut", "Insats 0", "kvinna", {3: 3})
    rows += respondents("deltagare_avslut", "Insats 1", "kvinna", {3: 6}, 5)
    rows += respondents("deltagare_avslut", "Insats 1", "man", {3: 1})
    rows += respondents("deltagare_avslut", "Insats 1", "", {3: 4}, 4)
    rows += respondents("deltagare_avslut", "", "kvinna", {3: 5}, 5)
    return rows


EXIT = "deltagare_avslut"


ANSWERS = {1: 5, 2: 4, 3: 6, 4: 2, 5: 5, 6: 3, 7: 4, 8: 2}  # Nej at the gate


_GROUP = {"kvinna": "kvinnor", "man": "man"}


def typed_frame(entries: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """(insats, gender, typist, count) as ``TYPED_COLUMNS``."""
    return pd.DataFrame(
        [(2024, EXIT, s, g, who, n) for s, g, who, n in entries], columns=TYPED_COLUMNS
    )


def atom_of(row: dict) -> tuple:
    scope = row["intervention"] or "-"
    return (row["year"], row["questionnaire"], scope, _GROUP.get(row["gender"], "ovriga"))


@dataclass
class Played:
    published: list[pd.DataFrame]
    used: list[pd.DataFrame]  # the answers each version was made from
    held: list[list[tuple]]
    waiting: list[int]


def play(
    batches: list[list[dict]],
    *,
    hold: bool,
    typed: list[pd.DataFrame] | None = None,
    republished: bool = True,
    min_cell: int = MIN_CELL,
) -> Played:
    """Show one version after each batch; ``hold``: the new rule, else the old one.

    The old rule: a version is protected on its own, and a republication (not a
    preview: ``republished`` off) hides published cells whose size changed by
    1..MIN_CELL-1 since the previous version."""
    shown: list[Shown] = []
    out = Played([], [], [], [])
    everything: list[dict] = []
    previous = None
    for i, batch in enumerate(batches):
        everything = everything + batch
        typed_now = typed[i] if typed else typed_frame([])
        current = Shown(*count_frames(frame(everything), INSTRUMENT), typed_now)
        used = everything
        before = None
        held: list[tuple] = []
        waiting = 0
        if hold:
            result = hold_back(current, shown, INSTRUMENT, min_cell=min_cell)
            held, waiting = result.held, result.total_waiting
            if held:
                before = out.used[-1].to_dict("records")
                used = [r for r in everything if atom_of(r) not in held]
                used += [r for r in before if atom_of(r) in held]
            typed_now = result.typed
            current = Shown(result.code_counts, result.pooled_sizes, typed_now)
            before = result.hidden_before
        cells = build_cells(current.code_counts, current.pooled_sizes, INSTRUMENT)
        published = protect(
            cells,
            INSTRUMENT,
            min_cell=min_cell,
            previous=previous if (republished and not hold) else None,
            typed=typed_now,
            hidden_before=before,
        )
        if hold:
            current.hidden = hidden_keys(published)
            shown.append(current)
        previous = cells
        out.published.append(published)
        out.used.append(frame(used))
        out.held.append(held)
        out.waiting.append(waiting)
    return out


def learnt(
    played: Played, planted: list[dict] | None = None, *, min_cell: int = MIN_CELL
) -> list[str]:
    """What the attacker learns; ``planted``: the forms it typed in itself (the ones each
    version was made from are known to it)."""
    known = None
    if planted:
        mine = frame(planted)
        known = [mine[mine["response"].isin(set(used["response"]))] for used in played.used]
    return attack(played.published, played.used, min_cell=min_cell, known=known)
