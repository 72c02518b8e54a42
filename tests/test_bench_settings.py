"""The benchmarks that run the application as production does pass its start-up checks
(a varied SECRET_KEY, an https PUBLIC_URL with a host) without weakening them."""

from __future__ import annotations

import pytest

from bench.settings import PRODUCTION, SECRET
from surveys.config import ConfigError, load_config, secret_problem


def test_the_benchmark_key_passes_the_production_rule():
    assert secret_problem(SECRET) is None


def test_the_benchmark_settings_start_in_production(tmp_path, monkeypatch):
    monkeypatch.setenv("SURVEYS_INSTANCE", str(tmp_path))
    config = load_config({**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite'}"})
    assert config["SURVEYS_ENV"] == "production"
    assert config["PUBLIC_URL"].startswith("https://")


def test_bench_submit_builds_its_production_app(tmp_path, monkeypatch):
    """python -m bench.submit used to stop at start-up: its key and http address were refused."""
    from bench.submit import make_app

    monkeypatch.setenv("SURVEYS_INSTANCE", str(tmp_path))
    app = make_app(f"sqlite:///{tmp_path / 'b.sqlite'}")
    assert app.config["SURVEYS_ENV"] == "production"
    assert app.config["SECRET_KEY"] == SECRET


def test_the_production_checks_still_refuse_what_the_benchmarks_used_to_send(tmp_path, monkeypatch):
    monkeypatch.setenv("SURVEYS_INSTANCE", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(
            {
                **PRODUCTION,
                "DATABASE_URL": url,
                "SECRET_KEY": "benchmark-secret-key-0123456789abcdef",
            }
        )
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_config({**PRODUCTION, "DATABASE_URL": url, "PUBLIC_URL": "http://127.0.0.1"})


def test_bench_submit_prints_the_store_and_the_least_ratio_this_design_can_reach(
    tmp_path, monkeypatch, capsys
):
    """The store line: submissions.submit alone, stored for real (its answers released
    in batches like a tablet's), and floor + store as a ratio to the hello route."""
    from bench.submit import main

    monkeypatch.setenv("SURVEYS_INSTANCE", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    main(["--iterations", "10", "--blocks", "1"])
    lines = capsys.readouterr().out.splitlines()
    figures = {
        name: float(value)
        for line in lines[-3:]
        for name, value in (pair.split("=") for pair in line.split() if "=" in pair)
    }
    assert figures["store_ms"] > 0
    least = (figures["floor_ms"] + figures["store_ms"]) / figures["app_hello_ms"]
    # the milliseconds are printed to three decimals, the ratio from the unrounded figures
    assert figures["least_ratio"] == pytest.approx(least, rel=0.02, abs=0.02)
    assert figures["least_ratio"] > figures["floor_ratio"]
