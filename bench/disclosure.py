"""Disclosure-control benchmark: ``python -m bench.disclosure --questionnaires 10000,100000``.

``--questionnaires 40000 --insatser 80 --repeat 1`` is a national-size year: the
bounded audit (leaving out, primary, R1–R3 and linear programming with HiGHS over
every block) is the ``protect`` time. For each size, generates one synthetic year
(``--insatser`` insatser (20 by default) of very
different sizes, answers without insats, all six questionnaires, genders incl.
annat and blank), then times in the same run:

- ``count``: ``count_frames`` + ``build_cells`` (pandas, the baseline),
- ``duckdb``: DuckDB counting the same answers per cell key (what the service's
  SQL GROUP BY does),
- ``protect``: ``indicators.protect`` on all cells of the year,

and prints one line per size ending in ``ratio_to_count=… ratio_to_duckdb=…``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from indicators import Instrument, build_cells, count_frames, protect
from surveys.services.catalogue import DEFAULT_FILE

YEAR = 2024
INSATSER = 20


def synthetic_year(
    instrument: Instrument, questionnaires: int, *, seed: int = 7, insatser: int = INSATSER
) -> pd.DataFrame:
    """Answer rows of ``questionnaires`` filled-in questionnaires in one year."""
    rng = np.random.default_rng(seed)
    keys = instrument.questionnaire_keys
    share = np.array([0.35, 0.35, 0.12, 0.1, 0.05, 0.03])[: len(keys)]
    kind = rng.choice(len(keys), size=questionnaires, p=share / share.sum())
    # Insatser of very different sizes (some tiny), 3 % without insats.
    weights = 1.0 / np.arange(1, insatser + 1) ** 1.3
    names = np.array([f"Insats {i:02d}" for i in range(insatser)] + [""], dtype=object)
    probabilities = np.append(weights / weights.sum() * 0.97, 0.03)
    insats = rng.choice(len(names), size=questionnaires, p=probabilities)
    genders = np.array(["kvinna", "man", "annat", ""], dtype=object)
    gender = rng.choice(4, size=questionnaires, p=[0.5, 0.44, 0.02, 0.04])
    frames = []
    for k, key in enumerate(keys):
        qn = instrument.questionnaire(key)
        ids = np.flatnonzero(kind == k)
        ja = rng.random(len(ids)) < 0.85
        for question in qn.questions_in(YEAR):
            asked = ids
            if question.condition_question is not None:
                asked = ids[ja]
            codes = instrument.scales[question.scale].codes
            if question.gate:
                code = np.where(ja, 1, 2)
            else:
                options = sorted(codes) + [-1]
                code = rng.choice(options, size=len(asked))
            frames.append(
                pd.DataFrame(
                    {
                        "response": asked,
                        "year": YEAR,
                        "questionnaire": key,
                        "question": question.number,
                        "question_version": "",
                        "intervention": names[insats[asked]],
                        "gender": genders[gender[asked]] if qn.participant else "",
                        "code": pd.array(np.where(code < 0, pd.NA, code), dtype="Int64"),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


DUCKDB_SQL = """
SELECT year, questionnaire, question, intervention, gender, coalesce(code, -1) AS code,
       count(*) AS count
FROM answers GROUP BY ALL
"""


def duckdb_seconds(answers: pd.DataFrame) -> float:
    """Seconds DuckDB takes to count the answers per cell key and code."""
    import duckdb

    con = duckdb.connect()
    con.register("answers", answers)
    start = time.perf_counter()
    con.execute(DUCKDB_SQL).df()
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


def best(repeat: int, work) -> tuple[float, object]:
    """Best wall time of ``repeat`` runs and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questionnaires", default="10000,100000")
    parser.add_argument("--min-cell", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="take the best of N runs")
    parser.add_argument("--insatser", type=int, default=INSATSER, help="insatser (scopes)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.questionnaires.split(",") if s.strip()]
    except ValueError:
        parser.error("--questionnaires ska vara heltal åtskilda med komma, t.ex. 10000,100000")
    if not sizes or min(sizes) < 1 or min(args.min_cell, args.repeat, args.insatser) < 1:
        parser.error("antal enkäter, --min-cell och --repeat måste vara minst 1")
    instrument = Instrument.load(DEFAULT_FILE)
    for size in sizes:
        answers = synthetic_year(instrument, size, insatser=args.insatser)
        count_s, cells = best(
            args.repeat, lambda a=answers: build_cells(*count_frames(a, instrument), instrument)
        )
        duck_s = min(duckdb_seconds(answers) for _ in range(args.repeat))
        protect_s, published = best(
            args.repeat, lambda c=cells: protect(c, instrument, min_cell=args.min_cell)
        )
        kinds = published["suppressed"].value_counts()
        print(
            f"questionnaires={size} insatser={args.insatser} answers={len(answers)} "
            f"cells={len(cells)} published={len(published)} "
            f"primary={int(kinds.get('primary', 0))} "
            f"complementary={int(kinds.get('complementary', 0))} "
            f"rows_with_left_out={int((published['left_out'] > 0).sum())}"
        )
        print(
            f"questionnaires={size} count_s={count_s:.3f} duckdb_s={duck_s:.3f} "
            f"protect_s={protect_s:.3f} ratio_to_count={protect_s / count_s:.2f} "
            f"ratio_to_duckdb={protect_s / duck_s:.2f}"
        )


if __name__ == "__main__":
    main()
