"""``surveys translations …`` and ``surveys audio load`` (issue 22). Messages are Swedish.

surveys translations template --language CODE --output F   CSV or XLSX (by F's ending)
surveys translations load F --language CODE                 all or nothing; reports gaps
surveys translations approve --language CODE --reference T  audited; only when complete
surveys translations status                                 every loaded language
surveys audio load F --version ID                           a recorded question version
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from surveys import db
from surveys.cli_types import OUTPUT, CliError, file_problem, input_file, write_outputs
from surveys.files.reading import FileError
from surveys.services import audio
from surveys.services import translations as tr
from surveys.services.actor import CLI
from surveys.services.catalogue import instrument_from_db

translations_cli = AppGroup("translations", help="Översättningar av deltagarnas enkät.")
audio_cli = AppGroup("audio", help="Inspelad uppläsning av frågor.")


def _language(code: str) -> tr.Language:
    lang = tr.language(code)
    if lang is None:
        raise CliError(
            f"Okänt språk: {code!r}. Kända språkkoder: {', '.join(sorted(tr.LANGUAGES))}."
        )
    return lang


@translations_cli.command("template")
@click.option("--language", "code", required=True, help="Språkkod, t.ex. ar, ti, so.")
@click.option("--output", required=True, type=OUTPUT, help="Fil .csv eller .xlsx.")
def template_cmd(code: str, output: str) -> None:
    """Skriv en mall (key,sv,text) med varje text som en deltagare ser."""
    lang = _language(code)
    ending = Path(output).suffix.lower()
    if ending not in (".csv", ".xlsx"):  # a .txt got a CSV that the loader then refused
        raise CliError(f"--output ska sluta på .csv eller .xlsx (nu {ending[:20] or 'ingen'}).")
    fmt = ending[1:]
    session = db.session()
    rows = tr.template_rows(session, instrument_from_db(session), lang.code)
    write_outputs([(Path(output), tr.write_template(rows, fmt))])
    filled = sum(1 for _, _, text in rows if text)
    click.echo(f"{len(rows)} texter till {tr.name_of(lang.code)} i {output} ({filled} översatta).")


@translations_cli.command("load")
@click.argument("path")
@click.option("--language", "code", required=True, help="Språkkod, t.ex. ar, ti, so.")
def load_cmd(path: str, code: str) -> None:
    """Läs in en översättning (allt eller inget)."""
    lang = _language(code)
    file = input_file(path)
    session = db.session()
    try:
        report = tr.load_language(
            session, CLI, instrument_from_db(session), lang.code, file, filename=file.name
        )
    except FileError as exc:
        session.rollback()
        for error in exc.errors:
            click.echo(file_problem(error), err=True)
        raise CliError("Översättningen lästes inte in.") from None
    for line in report.lines(lang.code):
        click.echo(line)


@translations_cli.command("approve")
@click.option("--language", "code", required=True, help="Språkkod, t.ex. ar.")
@click.option("--reference", required=True, help="T.ex. ”godkänd av NNS 2027-01-10”.")
def approve_cmd(code: str, reference: str) -> None:
    """Godkänn en inläst översättning så att den erbjuds deltagarna."""
    lang = _language(code)
    session = db.session()
    try:
        tr.approve_language(
            session, CLI, instrument_from_db(session), lang.code, reference=reference
        )
    except tr.TranslationError as exc:
        session.rollback()
        raise CliError(str(exc)) from None
    click.echo(f"{tr.name_of(lang.code)} är godkänd ({reference.strip()}) och erbjuds deltagarna.")


@translations_cli.command("status")
def status_cmd() -> None:
    """Visa inlästa språk: saknade och inaktuella texter, godkännande."""
    session = db.session()
    found = tr.all_statuses(session, instrument_from_db(session))
    if not found:
        click.echo("Inga översättningar är inlästa.")
    for s in found:
        state = "erbjuds" if s.available else "erbjuds inte"
        click.echo(
            f"{tr.name_of(s.language.code)}: {s.loaded} texter, {len(s.missing)} saknas, "
            f"{len(s.stale)} inaktuella, {'godkänd' if s.approved else 'inte godkänd'} – {state}."
        )


@audio_cli.command("load")
@click.argument("path")
@click.option(
    "--version",
    "version_id",
    required=True,
    help="Frågeversionens id, t.ex. deltagare_avslut.1.v1.",
)
def audio_load_cmd(path: str, version_id: str) -> None:
    """Lägg in en inspelning av en frågeversion (MP3, Ogg, WAV, M4A eller WebM, högst 3 MB)."""
    session = db.session()
    try:
        target = audio.load_audio(
            session,
            CLI,
            current_app.config["INSTANCE_DIR"],
            instrument_from_db(session),
            version_id,
            Path(path),
        )
    except audio.AudioError as exc:
        raise CliError(str(exc)) from None
    # said once the recording is in place: the command's commit
    db.after_commit(
        session, lambda: click.echo(f"Inspelningen av {version_id} är inlagd ({target.name}).")
    )
