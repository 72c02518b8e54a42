"""Backup and restore round trip (purge is tested with publications)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from surveys import db
from surveys.services.maintenance import known_revisions
from tests.conftest import count_rows, scalar
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


def _set_revision(app, revision: str) -> None:
    with app.app_context():
        session = db.session()
        session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        session.commit()


def _backup_claiming(app, runner, target, revision: str) -> None:
    """A backup whose alembic_version says ``revision`` (the live one is put back)."""
    head = scalar(app, "SELECT version_num FROM alembic_version")
    _set_revision(app, revision)
    try:
        result = runner.invoke(args=["backup", str(target)])
    finally:
        _set_revision(app, head)
    assert result.exit_code == 0, result.output


def test_a_backup_from_a_version_with_an_unknown_migration_is_refused(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    target = tmp_path / "nyare.dump"
    _backup_claiming(app, runner, target, "ffffffff")
    runner.invoke(args=["purge", "--before", "2024", "--yes"])
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code != 0
    assert "migreringen 'ffffffff' finns inte i den här" in result.output
    assert "Ingenting har ändrats." in result.output
    assert count_rows(app, "response") == 0  # the purged database as it was
    head = known_revisions()[1]
    assert scalar(app, "SELECT version_num FROM alembic_version") == head


def test_a_backup_from_an_older_version_is_restored_and_upgrading_is_asked_for(
    app, runner, tmp_path
):
    import_seed(runner, tmp_path)
    known, head = known_revisions()
    older = sorted(known - {head})[-1]
    target = tmp_path / "äldre.dump"
    _backup_claiming(app, runner, target, older)
    try:
        result = runner.invoke(args=["restore", str(target), "--yes"])
        assert result.exit_code == 0, result.output
        assert "kör surveys db upgrade innan tjänsten startas" in result.output
        assert scalar(app, "SELECT version_num FROM alembic_version") == older
        assert count_rows(app, "response") == 118
    finally:  # the schema is head's: the next test's migrations start from there
        _set_revision(app, head)


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_a_backup_onto_the_live_database_file_is_refused(
    app, runner, database_url, tmp_path, suffix
):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite: the database is a file")
    import_seed(runner, tmp_path)
    live = Path(database_url.removeprefix("sqlite:///"))
    result = runner.invoke(args=["backup", str(live.with_name(live.name + suffix))])
    assert result.exit_code != 0
    assert "är själva databasens fil" in result.output
    assert count_rows(app, "response") == 118  # the database is whole and readable
    restored = runner.invoke(args=["restore", str(live), "--yes"])
    assert restored.exit_code != 0
    assert "är databasen som används nu, inte en säkerhetskopia" in restored.output
    assert count_rows(app, "response") == 118


def test_a_backup_onto_a_pipe_or_device_is_refused_and_leaves_it_be(app, runner, tmp_path):
    """A backup is renamed into place: given a pipe (or /dev/null), it would replace it."""
    pipe = tmp_path / "rör"
    os.mkfifo(pipe)
    result = runner.invoke(args=["backup", str(pipe)])
    assert result.exit_code != 0
    assert "är ingen vanlig fil" in result.output
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert sorted(p.name for p in tmp_path.glob("*rör*")) == ["rör"]
