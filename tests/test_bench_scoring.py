"""The scoring benchmark runs and its cross-check against DuckDB holds (it stopped with
a TypeError once, when ``score`` lost its threshold argument, and nothing noticed)."""

from __future__ import annotations

import re

from bench.scoring import main


def test_the_scoring_benchmark_runs_and_agrees_with_duckdb(capsys):
    main(["--answers", "20000", "--repeat", "1"])
    printed = capsys.readouterr().out
    assert re.search(r"^agree: [1-9]\d* rows identical in pandas and DuckDB$", printed, re.M)
    last = printed.strip().splitlines()[-1]
    assert re.fullmatch(r"seconds=\d+\.\d{3} peak_rss_mb=\d+ ratio_to_duckdb=\d+\.\d{2}", last)
