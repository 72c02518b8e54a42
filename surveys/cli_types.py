"""Argument types and the refusal every ``surveys`` command shares.

Apart from surveys/cli.py so that the command groups it registers (surveys/national/cli.py,
surveys/cli_translations.py) can use them without importing it back.
"""

from __future__ import annotations

import click

from surveys.converters import FIRST_YEAR, LAST_YEAR


class CliError(click.ClickException):
    """A refusal printed as "Fel: …" (Swedish) with exit code 1."""

    def show(self, file=None) -> None:
        click.echo(f"Fel: {self.format_message()}", err=True, file=file)


class YearType(click.ParamType):
    """An --year/--before argument: a year 2000–2100, refused in Swedish otherwise."""

    name = "år"

    def convert(self, value, param, ctx) -> int:
        text = str(value).strip()
        if isinstance(value, int) and not isinstance(value, bool):
            year = value
        elif text.isascii() and text.isdigit() and len(text) == 4:
            year = int(text)
        else:
            year = -1
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise CliError(
                f"{param.opts[0] if param else 'Året'} ska vara ett årtal mellan "
                f"{FIRST_YEAR} och {LAST_YEAR} (nu {text[:20]!r})."
            )
        return year


YEAR = YearType()
