"""The ``surveys`` console script: Flask's command group around the application factory.

Apart from ``surveys/cli.py`` (the commands, which ``create_app`` registers) so that the
commands never import the factory that imports them.
"""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup

from surveys import create_app
from surveys.config import ConfigError


def main() -> None:
    """Entry point of the ``surveys`` console script."""

    cli = FlaskGroup(
        create_app=lambda: create_app(),
        add_default_commands=True,
        help="Indikatorenkäter – kommandon för drift och rapport.",
    )

    try:
        cli.main(prog_name="surveys", standalone_mode=True)
    except ConfigError as exc:  # settings are read when the first command needs the app
        click.echo(f"Fel: {exc}", err=True)
        sys.exit(2)
