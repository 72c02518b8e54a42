"""An attacker with bounds, written apart from ``indicators.disclosure``.

It reads published rows the way an outside reader would (one CSV per scope, or the
rows ``protect`` returns) and knows the answers only to judge what it learns.
Its unknowns are the answer counts of every *atom*: one insats (or no insats,
"-") × one gender group (kvinnor, man, ovriga; samtliga for the other
questionnaires) × one question. It is given every atom's ``n`` (the strongest
assumption: ``n`` is published or derivable nearly everywhere) and reads from
``left_out`` which never-published atoms a row leaves out. Each published figure
is a sum of counted atoms; every count lies between 0 and its atom's ``n``;
negative + neutral + positive = answered, clearly positive ≤ positive; the Ja of
the gate is the ``n`` of its conditional questions. By linear programming (HiGHS)
it takes the minimum and maximum of every count of every hidden row and every
never-published part of 1..MIN_CELL-1 answers; a count whose minimum and maximum
are less than 1 apart has only one value: a leak.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from indicators import Instrument
from surveys.services.catalogue import DEFAULT_FILE

INSTRUMENT = Instrument.load(DEFAULT_FILE)
COLUMNS = ["answered", "negative_n", "neutral_n", "positive_n", "clearly_positive_n"]
AUDITED = ["negative_n", "neutral_n", "positive_n", "clearly_positive_n"]
NONE = "-"  # an atom without insats
FORBUND = ""
POOLED = 0
_GENDER = {"kvinna": "kvinnor", "man": "man"}


def _qkey(value: object) -> int:
    return POOLED if value is None or pd.isna(value) else int(value)  # type: ignore[arg-type]


_CACHE: dict[tuple[str, int], tuple[pd.DataFrame, object]] = {}


def _cached(kind: str, answers: pd.DataFrame, make):
    """One result per answer frame (the frame is kept, so its id is not reused)."""
    key = (kind, id(answers))
    if key not in _CACHE or _CACHE[key][0] is not answers:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = (answers, make(answers))
    return _CACHE[key][1]


def atom_counts(answers: pd.DataFrame) -> pd.DataFrame:
    """Truth per atom: n and the five counts, from answer rows (``ANSWER_COLUMNS``)."""
    return _cached("atoms", answers, _atom_counts)


def _labelled(answers: pd.DataFrame) -> pd.DataFrame:
    """Answer rows with indicator, scale group, scope and subgroup."""
    participant = {q.key for q in INSTRUMENT.questionnaires if q.participant}
    frame = answers.merge(INSTRUMENT.questions_frame(), on=["questionnaire", "question"])
    frame["code"] = frame["code"].astype("Int64")
    frame = frame.merge(INSTRUMENT.options_frame(), on=["scale", "code"], how="left")
    insats = frame["intervention"].fillna("").astype(str)
    frame["scope"] = insats.where(insats != "", NONE)
    gender = frame["gender"].fillna("").astype(str).map(_GENDER).fillna("ovriga")
    frame["subgroup"] = gender.where(frame["questionnaire"].isin(participant), "samtliga")
    return frame


def _atom_counts(answers: pd.DataFrame) -> pd.DataFrame:
    frame = _labelled(answers)
    frame["n"] = 1
    frame["answered"] = frame["group"].notna().astype(int)
    for group in ("negative", "neutral", "positive"):
        frame[f"{group}_n"] = (frame["group"] == group).astype(int)
    frame["clearly_positive_n"] = frame["clearly_positive"].fillna(False).astype(int)
    keys = ["year", "indicator", "questionnaire", "question", "scope", "subgroup"]
    return frame.groupby(keys, as_index=False)[["n", *COLUMNS]].sum()


@dataclass
class Version:
    """One shown table of a year: its rows, and which never-published atoms it counts."""

    rows: pd.DataFrame  # published rows: scope, question, subgroup, n, counts, suppressed
    atoms: pd.DataFrame  # atom truth of the answers this version was made from
    planted: dict[tuple, int] = field(default_factory=dict)  # (scope, subgroup) -> forms known
    known: pd.DataFrame | None = None  # atom counts of the forms the reader typed (all so far)


def _members(scope: str, subgroup: str, atoms: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The atoms (scope, subgroup) a published row adds up."""
    return [
        (s, g)
        for s, g in atoms
        if (scope == FORBUND or s == scope) and (subgroup == "samtliga" or g == subgroup)
    ]


def _left_out_atoms(rows: pd.DataFrame, n_of: dict[tuple[str, str], int]) -> set[tuple[str, str]]:
    """Never-published atoms of one question that the published ``left_out`` leaves out.

    Read from the sums alone (the CSV has ``left_out`` only): an insats's samtliga
    can only leave out its övriga, the förbund's kvinnor and män only their answers
    without insats; what the förbund's samtliga leaves out beyond those is övriga
    without insats (or, for the other questionnaires, all answers without insats).
    """
    out: set[tuple[str, str]] = set()
    if "left_out" not in rows:
        return out
    by_key = {(r.scope, r.subgroup): int(r.left_out) for r in rows.itertuples()}
    for (scope, subgroup), n in n_of.items():
        if n == 0:
            continue
        if scope != NONE and subgroup == "ovriga" and by_key.get((scope, "samtliga"), 0) > 0:
            out.add((scope, subgroup))
        if scope == NONE and subgroup in ("kvinnor", "man") and by_key.get((FORBUND, subgroup), 0):
            out.add((scope, subgroup))
    rest = by_key.get((FORBUND, "samtliga"), 0) - sum(n_of[a] for a in out)
    for atom in ((NONE, "ovriga"), (NONE, "samtliga")):
        if rest > 0 and n_of.get(atom, 0) > 0:
            out.add(atom)
    return out


class _Program:
    """Variables per (version, atom, question, column) and the attacker's constraints."""

    def __init__(self) -> None:
        self.index: dict[tuple, int] = {}
        self.upper: list[float] = []
        self.lower: list[float] = []
        self.truth: list[float] = []
        self.eq: list[tuple[dict[int, float], float]] = []
        self.ub: list[tuple[dict[int, float], float]] = []
        self._solved: dict | None = None

    def variable(self, key: tuple, upper: float, truth: float, lower: float = 0.0) -> int:
        """One unknown count; ``lower``: what the reader's own typed-in forms add to it."""
        if key not in self.index:
            self.index[key] = len(self.upper)
            self.upper.append(upper)
            self.lower.append(lower)
            self.truth.append(truth)
        return self.index[key]

    def _solve(self, objective: np.ndarray) -> np.ndarray:
        if self._solved is None:
            width = len(self.upper)
            self._solved = {
                "A_eq": _matrix(self.eq, width),
                "b_eq": np.array([b for _, b in self.eq]),
                "A_ub": _matrix(self.ub, width) if self.ub else None,
                "b_ub": np.array([b for _, b in self.ub]) if self.ub else None,
                "bounds": np.column_stack([np.array(self.lower), np.array(self.upper)]),
            }
        result = linprog(objective, method="highs", **self._solved)
        assert result.status == 0, result.message  # the truth is always feasible
        return result.x

    def pinned(self, targets: list[tuple[str, dict[int, float], float]]) -> list[str]:
        """Labels of the targets whose minimum and maximum are less than 1 apart."""
        width = len(self.upper)
        if not targets or width == 0:
            return []
        truth = np.array(self.truth)
        points = [truth]
        rng = np.random.default_rng(width)
        for _ in range(3):  # random directions settle most targets in a few solves
            weights = rng.uniform(-1.0, 1.0, width)
            points += [self._solve(weights), self._solve(-weights)]
        found = []
        for label, expr, value in targets:
            if not expr:
                continue
            vector = np.zeros(width)
            for j, c in expr.items():
                vector[j] = c
            seen = [float(vector @ x) for x in points]
            if max(seen) - min(seen) >= 1 - 1e-6:
                continue
            high = float(vector @ self._solve(-vector))
            low = float(vector @ self._solve(vector))
            if high - low < 1 - 1e-6:
                found.append(f"{label}: {value:g} (between {low:g} and {high:g})")
        return found


def _matrix(rows: list[tuple[dict[int, float], float]], width: int) -> sparse.csr_matrix:
    data, r, c = [], [], []
    for i, (row, _) in enumerate(rows):
        for j, v in row.items():
            data.append(v)
            r.append(i)
            c.append(j)
    return sparse.csr_matrix((data, (r, c)), shape=(len(rows), width))


def _hidden(value: object) -> bool:
    """A row's ``suppressed``: "", "primary", "complementary" (or an older true/false)."""
    if value is None or value is False or value == "" or str(value) in ("False", "false"):
        return False
    return not (isinstance(value, float) and np.isnan(value))


class _Attack:
    """The program and targets of one block over its versions."""

    def __init__(self, versions: list[Version], questionnaire: str, min_cell: int, protect_other):
        self.qn = INSTRUMENT.questionnaire(questionnaire)
        self.min_cell = min_cell
        self.protect_other = protect_other
        self.versions = versions
        self.program = _Program()
        self.targets: list[tuple[str, dict[int, float], float]] = []
        self.truth = [
            {(r.scope, r.subgroup, int(r.question)): r for r in v.atoms.itertuples()}
            for v in versions
        ]
        self.known = [
            {}
            if v.known is None
            else {(r.scope, r.subgroup, int(r.question)): r for r in v.known.itertuples()}
            for v in versions
        ]
        self.questions = sorted({a[2] for t in self.truth for a in t})
        self.scale_numbers = {q.number for q in self.qn.questions if not q.gate}
        self.gate_of = {q.number: q.condition_question for q in self.qn.questions}
        self.gate_of = {k: v for k, v in self.gate_of.items() if v is not None}

    def increment(self, w: int, atom: tuple[str, str], q: int, column: str) -> dict[int, float]:
        """The new answers of an atom in version w (empty when none came)."""
        now = self.truth[w].get((*atom, q))
        before = self.truth[w - 1].get((*atom, q)) if w else None
        added = (int(now.n) if now is not None else 0) - (int(before.n) if before else 0)
        if now is None or added <= 0:
            return {}
        value = float(getattr(now, column)) - (float(getattr(before, column)) if before else 0.0)
        lower = self._known(w, atom, q, column) - (self._known(w - 1, atom, q, column) if w else 0)
        return {self.program.variable((w, atom, q, column), added, value, max(lower, 0.0)): 1.0}

    def _known(self, w: int, atom: tuple[str, str], q: int, column: str) -> float:
        """What the reader's own typed-in forms add to an atom's count in version w."""
        row = self.known[w].get((*atom, q))
        return float(getattr(row, column)) if row is not None else 0.0

    def known_size(self, v: int, counted: dict[int, list], *, since: int = 0) -> int:
        """The most answers of a sum the reader typed in themselves (by question)."""
        sizes = [
            sum(
                self._known(v, a, q, "answered")
                - (self._known(since - 1, a, q, "answered") if since else 0)
                for a in members
            )
            for q, members in counted.items()
        ]
        return int(max(sizes, default=0))

    def expression(self, v: int, counted: dict[int, list], column: str, *, since: int = 0):
        """A sum of atoms in version v (only the answers added after version ``since``-1)."""
        expr: dict[int, float] = {}
        value = 0.0
        for q, members in counted.items():
            for atom in members:
                for w in range(since, v + 1):
                    for j, c in self.increment(w, atom, q, column).items():
                        expr[j] = expr.get(j, 0.0) + c
                        value += self.program.truth[j]
        return expr, value

    def size(self, v: int, counted: dict[int, list], *, since: int = 0) -> int:
        sizes = []
        for q, members in counted.items():
            total = 0
            for atom in members:
                now = self.truth[v].get((*atom, q))
                before = self.truth[since - 1].get((*atom, q)) if since else None
                total += (int(now.answered) if now else 0) - (int(before.answered) if before else 0)
            sizes.append(total)
        return max(sizes, default=0)

    def unknown_size(self, v: int, counted: dict[int, list], *, since: int = 0) -> int:
        """Answers of a sum the reader did not type in themselves."""
        return self.size(v, counted, since=since) - self.known_size(v, counted, since=since)

    def target(self, label: str, v: int, counted: dict[int, list], *, since: int = 0) -> None:
        for column in AUDITED:
            expr, value = self.expression(v, counted, column, since=since)
            self.targets.append((f"{label} {column}", expr, value))

    def cell_rules(self, v: int) -> None:
        """Each increment: negative + neutral + positive = answered, clearly ≤ positive."""
        clearly = {k: s.has_clearly_positive for k, s in INSTRUMENT.scales.items()}
        scale_of = {q.number: q.scale for q in self.qn.questions}
        for scope, subgroup, q in self.truth[v]:
            atom = (scope, subgroup)
            e = {c: self.increment(v, atom, q, c) for c in COLUMNS}
            if e["answered"]:
                expr = {**e["negative_n"], **e["neutral_n"], **e["positive_n"]}
                expr |= {j: -1.0 for j in e["answered"]}
                self.program.eq.append((expr, 0.0))
                if clearly[scale_of[q]]:
                    self.program.ub.append(
                        ({**e["clearly_positive_n"], **{j: -1.0 for j in e["positive_n"]}}, 0.0)
                    )

    def run(self) -> list[str]:
        for v, version in enumerate(self.versions):
            self.cell_rules(v)
            n_of: dict[int, dict] = defaultdict(dict)
            for (s, g, q), row in self.truth[v].items():
                n_of[q][(s, g)] = int(row.n)
            rows = version.rows
            qkeys = rows["question"].map(_qkey)
            left = {q: _left_out_atoms(rows[qkeys == q], n_of[q]) for q in self.questions}
            for r in rows.itertuples():
                q = _qkey(r.question)
                asked = [q] if q != POOLED else sorted(self.scale_numbers & set(self.questions))
                counted = {
                    x: [a for a in _members(r.scope, r.subgroup, n_of[x]) if a not in left[x]]
                    for x in asked
                }
                name = f"v{v} {r.scope or 'förbund'}/{r.subgroup}/q{q or 'pooled'}"
                gate = self.gate_of.get(q)
                if gate is not None and not pd.isna(r.n):  # n shown: the Ja of its gate
                    expr, _ = self.expression(v, {gate: counted[q]}, "positive_n")
                    self.program.eq.append((expr, float(r.n)))
                if not _hidden(r.suppressed):
                    for column in COLUMNS:
                        value = getattr(r, column)
                        if value is not None and not pd.isna(value):
                            expr, _ = self.expression(v, counted, column)
                            self.program.eq.append((expr, float(value)))
                    continue
                planted = version.planted.get((r.scope, r.subgroup), 0)
                planted = max(planted, self.known_size(v, counted))
                if 1 <= self.size(v, counted) - planted < self.min_cell:
                    self.target(f"{name} hidden", v, counted)
            for q in self.questions:
                parts = _never_published_parts(n_of[q], left[q], self.protect_other)
                for part, members in parts.items():
                    if 1 <= self.unknown_size(v, {q: members}) < self.min_cell:
                        self.target(f"v{v} {part}/q{q}", v, {q: members})
                    for w in range(1, v + 1):  # what came after each earlier version
                        if 1 <= self.unknown_size(v, {q: members}, since=w) < self.min_cell:
                            self.target(
                                f"v{v} new since v{w - 1} in {part}/q{q}", v, {q: members}, since=w
                            )
                for atom in n_of[q]:
                    for w in range(1, v + 1):
                        if 1 <= self.unknown_size(v, {q: [atom]}, since=w) < self.min_cell:
                            label = f"v{v} new since v{w - 1} answers {atom}/q{q}"
                            self.target(label, v, {q: [atom]}, since=w)
        return self.program.pinned(self.targets)


def attack_block(
    versions: list[Version], questionnaire: str, *, min_cell: int, protect_other: bool = True
) -> list[str]:
    """Every count the attacker pins down in one year × indicator × questionnaire.

    With several versions (a publication, previews, a republication) each version
    adds new answers to the atoms of the one before; the attacker also targets the
    new answers of each atom and each never-published part.
    """
    return _Attack(versions, questionnaire, min_cell, protect_other).run()


def _never_published_parts(
    n_of: dict[tuple[str, str], int], left: set, protect_other: bool
) -> dict[str, list[tuple[str, str]]]:
    """övriga per insats and of the förbund; answers without insats per group and all."""
    counted = [a for a, n in n_of.items() if n > 0 and a not in left]
    parts: dict[str, list[tuple[str, str]]] = {}
    if protect_other:
        for a in counted:
            if a[1] == "ovriga":
                parts[f"övriga {a[0]}"] = [a]
        parts["övriga förbund"] = [a for a in counted if a[1] == "ovriga"]
    for a in counted:
        if a[0] == NONE:
            parts[f"utan insats {a[1]}"] = [a]
    parts["utan insats"] = [a for a in counted if a[0] == NONE]
    return {k: v for k, v in parts.items() if v}


def attack(
    published: pd.DataFrame | list[pd.DataFrame],
    answers: pd.DataFrame | list[pd.DataFrame],
    *,
    min_cell: int,
    protect_other: bool = True,
    planted: list[dict[tuple, int]] | None = None,
    known: list[pd.DataFrame | None] | None = None,
) -> list[str]:
    """Every leak in one or several versions of a year (rows with a ``scope`` column).

    ``known`` (per version): answer rows of the forms the attacking reader typed in
    (all of them up to that version); their counts are lower bounds it knows."""
    tables = published if isinstance(published, list) else [published]
    truths = answers if isinstance(answers, list) else [answers]
    atoms = [atom_counts(t) for t in truths]
    problems = []
    keys = ["year", "indicator", "questionnaire"]
    blocks = sorted({tuple(k) for a in atoms for k in a[keys].drop_duplicates().to_numpy()})
    for year, indicator, questionnaire in blocks:
        versions = []
        for i, (rows, truth) in enumerate(zip(tables, atoms, strict=True)):
            pick = (rows["year"] == year) & (rows["indicator"] == indicator)
            pick &= rows["questionnaire"] == questionnaire
            tpick = (truth["year"] == year) & (truth["indicator"] == indicator)
            tpick &= truth["questionnaire"] == questionnaire
            forms = (planted[i] if planted else {}) or {}
            typed = known[i] if known else None
            mine = None
            if typed is not None and not typed.empty:
                own = atom_counts(typed)
                mine = own[(own["year"] == year) & (own["indicator"] == indicator)]
                mine = mine[mine["questionnaire"] == questionnaire]
            versions.append(Version(rows[pick], truth[tpick], forms, mine))
        found = attack_block(
            versions, questionnaire, min_cell=min_cell, protect_other=protect_other
        )
        problems += [f"{year}/{indicator}/{questionnaire}: {p}" for p in found]
    return problems


def answers_frame(rows: list[dict]) -> pd.DataFrame:
    """Answer rows (dicts) as a frame with nullable codes."""
    out = pd.DataFrame(rows)
    out["code"] = out["code"].astype("Int64")
    return out


# --------------------------------------------------------------------------
# The rules (a) and (b), and un-hiding one row (for the minimality check)
# --------------------------------------------------------------------------
def _block_view(rows: pd.DataFrame, answers: pd.DataFrame, year, indicator, questionnaire):
    """Atoms, counted members and exact sizes of one block's published rows."""
    atoms = atom_counts(answers)
    atoms = atoms[
        (atoms["year"] == year)
        & (atoms["indicator"] == indicator)
        & (atoms["questionnaire"] == questionnaire)
    ]
    truth = {(r.scope, r.subgroup, int(r.question)): r for r in atoms.itertuples()}
    n_of: dict[int, dict] = defaultdict(dict)
    for (s, g, q), row in truth.items():
        n_of[q][(s, g)] = int(row.n)
    qkeys = rows["question"].map(_qkey)
    questions = sorted(n_of)
    left = {q: _left_out_atoms(rows[qkeys == q], n_of[q]) for q in questions}
    return truth, n_of, left, questions


def true_row(rows, answers, index) -> dict[str, int]:
    """The figures a published row would show if it were not hidden."""
    r = rows.loc[index]
    same = rows[
        (rows["year"] == r["year"])
        & (rows["indicator"] == r["indicator"])
        & (rows["questionnaire"] == r["questionnaire"])
    ]
    truth, n_of, left, questions = _block_view(
        same, answers, r["year"], r["indicator"], r["questionnaire"]
    )
    q = _qkey(r["question"])
    qn = INSTRUMENT.questionnaire(r["questionnaire"])
    indicator_questions = {
        x.number for x in qn.questions if not x.gate and x.indicator == int(r["indicator"])
    }
    asked = [q] if q != POOLED else [x for x in questions if x in indicator_questions]
    out = dict.fromkeys(["n", *COLUMNS], 0)
    for x in asked:
        for atom in _members(r["scope"], r["subgroup"], n_of[x]):
            if atom not in left[x] and (*atom, x) in truth:
                for column in out:
                    out[column] += int(getattr(truth[(*atom, x)], column))
    return out


def unhide(rows: pd.DataFrame, answers: pd.DataFrame, index) -> pd.DataFrame:
    """The rows with one hidden row shown (and the rows under it if it is a gate)."""
    out = rows.copy()
    r = out.loc[index]
    chosen = [index]
    qn = INSTRUMENT.questionnaire(r["questionnaire"])
    gates = {q.number for q in qn.questions if q.gate}
    if _qkey(r["question"]) in gates:
        same = (
            (out["year"] == r["year"])
            & (out["scope"] == r["scope"])
            & (out["subgroup"] == r["subgroup"])
            & (out["questionnaire"] == r["questionnaire"])
            & out["n"].isna()
        )
        chosen += list(out.index[same])
    for i in chosen:
        values = true_row(out, answers, i)
        out.loc[i, "n"] = values["n"]
        if i != index and values["answered"] < 5:
            continue  # too few under the gate: stays hidden, n shown
        for column in COLUMNS:
            out.loc[i, column] = values[column]
        out.loc[i, "suppressed"] = ""
    return out


def _row_sizes(rows, answers, year, indicator, questionnaire):
    """Exact size of each published row and never-published part of one block."""
    truth, n_of, left, questions = _block_view(rows, answers, year, indicator, questionnaire)
    qn = INSTRUMENT.questionnaire(questionnaire)
    scale = {q.number for q in qn.questions if not q.gate}
    frame = _cached("labelled", answers, _labelled)
    frame = frame[
        (frame["year"] == year)
        & (frame["indicator"] == indicator)
        & (frame["questionnaire"] == questionnaire)
    ]
    kept = [
        (s, g) not in left.get(int(q), set()) and int(q) in scale
        for s, g, q in zip(frame["scope"], frame["subgroup"], frame["question"], strict=True)
    ]
    pooled_frame = frame[np.array(kept, dtype=bool)]

    def size(scope, subgroup, q, members=None) -> tuple[int, int]:
        """(size, n) of a row or part."""
        if q != POOLED:
            chosen = members or [a for a in _members(scope, subgroup, n_of[q]) if a not in left[q]]
            answered = sum(int(truth[(*a, q)].answered) for a in chosen if (*a, q) in truth)
            n = sum(int(truth[(*a, q)].n) for a in chosen if (*a, q) in truth)
            return answered, n
        pick = pooled_frame
        if members is not None:
            keys = set(members)
            pick = pick[
                [(s, g) in keys for s, g in zip(pick["scope"], pick["subgroup"], strict=True)]
            ]
        else:
            if scope != FORBUND:
                pick = pick[pick["scope"] == scope]
            if subgroup != "samtliga":
                pick = pick[pick["subgroup"] == subgroup]
        answered = pick[pick["group"].notna()]
        return int(answered["response"].nunique()), int(len(pick))

    return size, n_of, left, questions, scale


def rule_breaks(
    rows: pd.DataFrame, answers: pd.DataFrame, *, min_cell: int, protect_other: bool = True
) -> list[str]:
    """Relations R1–R3 whose total is shown while (a) the hidden parts add up to
    1..min_cell-1 or (b) a suppressed row is the only hidden part."""
    problems = []
    for (year, indicator, questionnaire), block in rows.groupby(
        ["year", "indicator", "questionnaire"]
    ):
        found = _block_rule_breaks(
            block, answers, year, int(indicator), questionnaire, min_cell, protect_other
        )
        problems += [f"{year}/{indicator}/{questionnaire} {p}" for p in found]
    return problems


def _block_rule_breaks(block, answers, year, indicator, questionnaire, min_cell, protect_other):
    problems = []
    qn = INSTRUMENT.questionnaire(questionnaire)
    in_indicator = {q.number for q in qn.questions if not q.gate and q.indicator == indicator}
    size, n_of, left, questions, _ = _row_sizes(block, answers, year, indicator, questionnaire)
    by_key = {(r.scope, r.subgroup, _qkey(r.question)): r for r in block.itertuples()}

    def hidden_row(key) -> tuple[bool, int] | None:
        r = by_key.get(key)
        if r is None or not _hidden(r.suppressed):
            return None
        z, n = size(*key)
        return (True, z) if n > 0 else None

    def check(name, total, parts, never):
        if total not in by_key or _hidden(by_key[total].suppressed):
            return
        hidden = [h for p in parts if (h := hidden_row(p)) is not None]
        for members in never:
            z, n = size(total[0], total[1], total[2], members)
            if n > 0:
                hidden.append((False, z))
        total_size = sum(z for _, z in hidden)
        if 0 < total_size < min_cell:
            problems.append(f"{name} {total}: (a) hidden parts add up to {total_size}")
        if len(hidden) == 1 and hidden[0][0]:
            problems.append(f"{name} {total}: (b) one suppressed row is the only hidden part")

    scopes = {k[0] for k in by_key}
    subgroups = {k[1] for k in by_key}
    keys_q = sorted({k[2] for k in by_key})
    for q in keys_q:
        asked = [q] if q != POOLED else sorted(in_indicator & set(questions))
        # a pooled row still counts an atom left out of only some of its questions
        # (DESIGN.md: it adds up its question rows as they are published)
        atoms = {a for x in asked for a in n_of[x] if a not in left[x]}
        for s in scopes:
            if qn.participant:
                ovr = sorted(a for a in atoms if a[1] == "ovriga" and s in (FORBUND, a[0]))
                never = [ovr] if ovr and protect_other else []
                check("R1", (s, "samtliga", q), [(s, "kvinnor", q), (s, "man", q)], never)
        for g in subgroups:
            none = sorted(a for a in atoms if a[0] == NONE and g in ("samtliga", a[1]))
            parts = [(s, g, q) for s in scopes if s != FORBUND]
            check("R2", (FORBUND, g, q), parts, [none] if none else [])
    for s in scopes:
        for g in subgroups:
            parts = [(s, g, q) for q in keys_q if q in in_indicator]
            check("R3", (s, g, POOLED), parts, [])
    return problems
