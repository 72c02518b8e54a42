"""Backup and restore round trip (purge is tested with publications)."""

from __future__ import annotations

from tests.conftest import count_rows
from tests.factories import import_seed


def test_backup_and_restore_round_trip(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    report = runner.invoke(args=["report", "--year", "2023"]).output
    target = tmp_path / "kopia.dump"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0
    runner.invoke(args=["purge", "--before", "2024", "--yes"])
    assert count_rows(app, "response") == 0
    refused = runner.invoke(args=["restore", str(target)], input="n\n")
    assert refused.exit_code != 0
    assert count_rows(app, "response") == 0
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert count_rows(app, "response") == 118
    assert runner.invoke(args=["report", "--year", "2023"]).output == report


def test_restore_refuses_a_file_that_is_not_a_backup(app, runner, tmp_path):
    bogus = tmp_path / "inte.dump"
    bogus.write_bytes(b"hej")
    result = runner.invoke(args=["restore", str(bogus), "--yes"])
    assert result.exit_code != 0
    assert "Fel: Filen är ingen säkerhetskopia" in result.output
