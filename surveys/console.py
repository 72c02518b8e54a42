"""The ``surveys`` console script: Flask's command group around the application factory.

Apart from ``surveys/cli.py`` (the commands, which ``create_app`` registers) so that the
commands never import the factory that imports them.
"""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup

from surveys import create_app
from surveys.cli_types import swedish_usage_error
from surveys.config import ConfigError


def main() -> None:
    """Entry point of the ``surveys`` console script."""

    cli = FlaskGroup(
        create_app=lambda: create_app(),
        add_default_commands=True,
        help="Indikatorenkäter – kommandon för drift och rapport.",
    )

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
    except click.UsageError as exc:
        click.echo(swedish_usage_error(exc), err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Avbrutet.", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
