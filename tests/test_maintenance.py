"""Backup and restore round trip, and purge that keeps aggregated results."""

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
    assert refused.exit_code != 0 and count_rows(app, "response") == 0
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


def test_purge_keeps_results_as_history(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    before = runner.invoke(args=["report", "--year", "2023"]).output
    refused = runner.invoke(args=["purge", "--before", "2024"], input="n\n")
    assert refused.exit_code != 0 and count_rows(app, "response") == 118
    result = runner.invoke(args=["purge", "--before", "2024", "--yes"])
    assert result.exit_code == 0 and "118 enkäter borttagna" in result.output
    assert count_rows(app, "response") == 0 and count_rows(app, "answer") == 0
    after = runner.invoke(args=["report", "--year", "2023"]).output
    line = "2023,1,deltagare_avslut,1,samtliga,118,113,,,,,96,2,3,96,81,false"
    assert line in after

    # the same percentages as before the purge, row for row (counts are not kept)
    def shares(text):
        rows = [r.split(",") for r in text.splitlines()[1:]]
        return {tuple(r[:5]): (r[5], *r[11:]) for r in rows if r[3]}

    assert shares(after) == shares(before)
    too_new = runner.invoke(args=["purge", "--before", "2999", "--yes"])
    assert too_new.exit_code != 0 and "Innevarande" in too_new.output
