"""Scoring benchmark: ``python -m bench.scoring --answers 1000000``.

Generates synthetic answers shaped like the real instrument, scores them into
the full result table with ``indicators.score``, computes the same counts with
a DuckDB SQL query on the same data in the same process, checks that both
agree, and prints as its last line
``seconds=… peak_rss_mb=… ratio_to_duckdb=…``.
Goal on the 2-core machine: under 2 s, under 1 GiB, at most 1.5 × DuckDB.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from indicators import Instrument, score
from surveys.services.catalogue import DEFAULT_FILE


def synthetic_answers(instrument: Instrument, count: int, *, seed: int = 1) -> pd.DataFrame:
    """``count`` answer rows over 2019–2024, all questionnaires, realistic codes and blanks."""
    rng = np.random.default_rng(seed)
    questions = instrument.questions_frame()
    questionnaires = pd.CategoricalDtype(instrument.questionnaire_keys)
    genders = pd.CategoricalDtype(["kvinna", "man", "annat"])
    pick = rng.integers(0, len(questions), count)
    gate = questions["gate"].to_numpy()[pick]
    codes = rng.choice(
        [6, 5, 4, 3, 2, 1, 0, -1], size=count, p=[0.35, 0.25, 0.15, 0.1, 0.05, 0.03, 0.04, 0.03]
    )
    gate_codes = rng.choice([1, 2, 0], size=count, p=[0.9, 0.07, 0.03])
    codes = np.where(gate, gate_codes, codes)
    participant = np.isin(
        questions["questionnaire"].to_numpy()[pick],
        [q.key for q in instrument.questionnaires if q.participant],
    )
    gender_codes = np.where(
        participant, rng.choice([0, 1, 2, -1], size=count, p=[0.5, 0.45, 0.02, 0.03]), -1
    )
    return pd.DataFrame(
        {
            "response": rng.integers(0, count // 8 + 1, count),
            "year": rng.integers(2019, 2025, count),
            "questionnaire": pd.Categorical.from_codes(
                questions["questionnaire"]
                .map({k: i for i, k in enumerate(instrument.questionnaire_keys)})
                .to_numpy()[pick],
                dtype=questionnaires,
            ),
            "question": questions["question"].to_numpy()[pick],
            "question_version": "",
            "intervention": "Insats",
            "gender": pd.Categorical.from_codes(gender_codes, dtype=genders),
            "code": pd.array(np.where(codes < 0, pd.NA, codes), dtype="Int64"),
        }
    )


DUCKDB_SQL = """
WITH a AS (
  SELECT x.year, x.questionnaire::VARCHAR AS questionnaire, x.question,
         x.gender::VARCHAR AS gender, q.indicator, q.participant, o.grp, o.cp,
         o.code IS NOT NULL AND o.grp IS NOT NULL AS scale_answer
  FROM answers x
  JOIN questions q ON q.questionnaire = x.questionnaire::VARCHAR AND q.question = x.question
  LEFT JOIN options o ON o.scale = q.scale AND o.code = x.code
), s AS (
  SELECT *, 'samtliga' AS subgroup FROM a
  UNION ALL SELECT *, 'kvinnor' FROM a WHERE participant AND gender = 'kvinna'
  UNION ALL SELECT *, 'man' FROM a WHERE participant AND gender = 'man'
)
SELECT year, questionnaire, question, subgroup,
       count(*) AS n,
       count(*) FILTER (WHERE scale_answer) AS answered,
       count(*) FILTER (WHERE grp = 'negative') AS negative_n,
       count(*) FILTER (WHERE grp = 'neutral') AS neutral_n,
       count(*) FILTER (WHERE grp = 'positive') AS positive_n
FROM s GROUP BY ALL
"""


def duckdb_counts(answers: pd.DataFrame, instrument: Instrument) -> tuple[pd.DataFrame, float]:
    import duckdb

    con = duckdb.connect()
    questions = instrument.questions_frame()
    questions["participant"] = questions["questionnaire"].map(instrument.is_participant)
    options = instrument.options_frame().rename(columns={"group": "grp", "clearly_positive": "cp"})
    con.register("answers", answers)
    con.register("questions", questions)
    con.register("options", options)
    start = time.perf_counter()
    result = con.execute(DUCKDB_SQL).df()
    elapsed = time.perf_counter() - start
    con.close()
    return result, elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="take the best of N runs")
    args = parser.parse_args(argv)
    if args.answers < 1:
        parser.error("--answers måste vara minst 1")
    instrument = Instrument.load(DEFAULT_FILE)
    answers = synthetic_answers(instrument, args.answers)
    print(f"answers={len(answers)} responses≈{answers['response'].nunique()}")

    ours, theirs = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        results = score(answers, instrument)
        ours.append(time.perf_counter() - start)
        counts, elapsed = duckdb_counts(answers, instrument)
        theirs.append(elapsed)
    print(f"result_rows={len(results)} pandas_best={min(ours):.3f}s duckdb_best={min(theirs):.3f}s")

    check = results[results["question"].notna()].copy()  # per question, every cell
    check["question"] = check["question"].astype("int64")
    key = ["year", "questionnaire", "question", "subgroup"]
    columns = ["n", "answered", "negative_n", "neutral_n", "positive_n"]
    left = check[key + columns].astype({c: "int64" for c in columns}).sort_values(key)
    right = counts[key + columns].astype({c: "int64" for c in columns}).sort_values(key)
    merged = left.merge(right, on=key, how="outer", suffixes=("", "_duckdb"), indicator=True)
    mismatches = merged["_merge"] != "both"
    for c in columns:
        mismatches |= merged[c] != merged[f"{c}_duckdb"]
    if mismatches.any():
        raise SystemExit(f"DuckDB and pandas disagree on {int(mismatches.sum())} rows")
    print(f"agree: {len(merged)} rows identical in pandas and DuckDB")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = min(ours)
    print(
        f"seconds={seconds:.3f} peak_rss_mb={peak_mb:.0f} "
        f"ratio_to_duckdb={seconds / min(theirs):.2f}"
    )


if __name__ == "__main__":
    main()
