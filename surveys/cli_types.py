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


def swedish_usage_error(error: click.UsageError) -> str:
    """Click's own refusals (unknown command or option, missing or bad value) in Swedish.

    Click words them in English through gettext; the service's users read Swedish, so
    the CLI's entry point prints this text instead, with the same exit code (2).
    """
    if isinstance(error, click.NoSuchOption):
        text = f"Det finns inget val {error.option_name!r}."
        if error.possibilities:
            text += " Menade du " + " eller ".join(sorted(error.possibilities)) + "?"
    elif isinstance(error, click.MissingParameter):
        what = error.param.get_error_hint(error.ctx) if error.param and error.ctx else "ett värde"
        text = f"{what} saknas."
    elif isinstance(error, click.BadParameter):
        what = error.param.get_error_hint(error.ctx) if error.param and error.ctx else "värdet"
        text = f"Ogiltigt värde för {what}: {_why_bad(error.param)}"
    elif isinstance(error, click.BadOptionUsage):
        text = f"Valet {error.option_name!r} behöver ett värde."
    elif error.message.startswith("No such command"):
        name = error.message.split("'")[1] if "'" in error.message else ""
        text = f"Det finns inget kommando {name!r}."
    elif error.message.startswith("Got unexpected extra argument"):
        text = "För många argument: " + error.message.split("(", 1)[-1].rstrip(")") + "."
    else:
        text = error.format_message()
    command = error.ctx.command_path if error.ctx else "surveys"
    return f"Fel: {text}\nSe '{command} --help' för hjälp."


def _why_bad(param: click.Parameter | None) -> str:
    """Why Click refused a value, in Swedish (Click's own reason is English)."""
    kind = param.type if param else None
    if isinstance(kind, click.Choice):
        return "ska vara ett av " + ", ".join(map(str, kind.choices)) + "."
    if isinstance(kind, click.Path):
        return "filen eller mappen finns inte eller kan inte läsas."
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        return "ska vara ett tal."
    return "värdet kan inte tolkas."
