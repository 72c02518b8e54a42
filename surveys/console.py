"""The ``surveys`` console script: Flask's command group around the application factory.

Apart from ``surveys/cli.py`` (the commands, which ``create_app`` registers) so that the
commands never import the factory that imports them.
"""

from __future__ import annotations

import os
import sys

import click
from flask.cli import FlaskGroup
from sqlalchemy.exc import DBAPIError

from surveys import create_app
from surveys.cli_types import database_problem, os_problem, shortened, swedish_usage_error
from surveys.config import ConfigError
from surveys.services.catalogue import InstrumentMissing


def main() -> None:
    """Entry point of the ``surveys`` console script."""
    try:
        _run()
    finally:
        _flush_or_drop_output()


def _flush_or_drop_output() -> None:
    """Standard output that cannot be written (a full disk, a closed pipe) was said
    already: what is left in its buffer goes nowhere, so Python's own flush at exit
    neither prints an English "Exception ignored" nor changes the exit code."""
    try:
        sys.stdout.flush()
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


_FLASK_OPTIONS_IN_SWEDISH = {
    "debug": "Felsökningsläge (bara vid utveckling).",
    "version": "Visa Flasks och Pythons version.",
}


def _run() -> None:
    """The commands, with every refusal said in Swedish and a matching exit code."""

    cli = FlaskGroup(
        create_app=lambda: create_app(),
        add_default_commands=True,
        help="Indikatorenkäter – kommandon för drift och rapport.",
    )
    # Flask's -e/--env-file needs python-dotenv, which the service does not install (the
    # option could only fail, saying the file was missing), and --app loads another
    # application than this one: neither belongs to `surveys`. The rest in Swedish.
    cli.params = [param for param in cli.params if param.name not in ("env_file", "app")]
    for param in cli.params:
        param.help = _FLASK_OPTIONS_IN_SWEDISH.get(param.name or "", param.help)

    try:
        # standalone_mode=False: Click's own (English) usage errors reach us, worded in
        # Swedish below; everything else behaves as in standalone mode.
        code = cli.main(prog_name="surveys", standalone_mode=False)
    except ConfigError as exc:  # settings are read when the first command needs the app
        click.echo(f"Fel: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.NoArgsIsHelpError as exc:  # a group without its command: help
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:  # a mistyped command or path said back, cut if long
        click.echo(shortened(swedish_usage_error(exc, sys.argv[1:])), err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Avbrutet.", err=True)
        sys.exit(1)
    except DBAPIError as exc:  # no database there, not upgraded, server down: no traceback
        click.echo(f"Fel: {database_problem(exc)}", err=True)
        sys.exit(1)
    except InstrumentMissing as exc:  # tables made, instrument not loaded yet
        click.echo(f"Fel: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:  # a reader that stopped early (| head): nothing to say
        sys.exit(1)
    except OSError as exc:  # e.g. the instance folder cannot be made, or output is full
        where = (
            f"{exc.filename}:"
            if isinstance(exc.filename, str)
            else "Utskriften kunde inte skrivas:"
        )
        click.echo(shortened(f"Fel: {where} {os_problem(exc)}."), err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
