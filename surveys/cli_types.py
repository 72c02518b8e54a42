"""Argument types and the refusal every ``surveys`` command shares.

Apart from surveys/cli.py so that the command groups it registers (surveys/national/cli.py,
surveys/cli_translations.py) can use them without importing it back.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import sys
from pathlib import Path

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from surveys.converters import FIRST_YEAR, LAST_YEAR
from surveys.db import MISSING_DATABASE
from surveys.paths import not_a_file_to_read
from surveys.services.staging import write_hidden


class CliError(click.ClickException):
    """A refusal printed as "Fel: …" (Swedish) with exit code 1."""

    def show(self, file=None) -> None:
        click.echo(f"Fel: {shortened(self.format_message())}", err=True, file=file)


LONGEST_WORD = 200  # a value said back longer than this is cut (a pasted file, a typo)


def shortened(message: str) -> str:
    """``message`` with every run of characters without a space that is longer than
    LONGEST_WORD cut to its first 80 and "…": a 100,000-character argument said back
    in full would bury the sentence around it."""
    return re.sub(rf"\S{{{LONGEST_WORD + 1},}}", lambda m: m.group()[:80] + "…", message)


LONGEST_LINE = 500  # a line said back from a file: a few sentences at most


def file_problem(line: str) -> str:
    """A file's problem as the console prints it: long values cut (``shortened``), and
    the line itself cut at LONGEST_LINE (5,000 unknown column names are no message)."""
    line = shortened(line)
    if len(line) <= LONGEST_LINE:
        return line
    return f"{line[: LONGEST_LINE - 40]}… ({len(line) - LONGEST_LINE + 40} tecken till)"


class OutputFile(click.Path):
    """An --output file: a file's path (no folder), never empty (an empty --output was
    taken as none, and the output went to the terminal or a default name instead)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        if not str(value).strip():
            name = param.opts[0] if param else "--output"
            raise CliError(f"{name} är tomt. Ange en fil, eller utelämna valet.")
        return super().convert(value, param, ctx)


OUTPUT = OutputFile()


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


def swedish_usage_error(error: click.UsageError, argv: list[str] | None = None) -> str:
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
    command = error.ctx.command_path if error.ctx else _command_in(argv)
    return f"Fel: {text}\nSe '{command} --help' för hjälp."


def _command_in(argv: list[str] | None) -> str:
    """The command a usage error without Click's context belongs to (an option missing
    its value is found while the command's options are read, after its name): the
    words before the first option, "surveys" when there are none."""
    words = list(itertools.takewhile(lambda word: not word.startswith("-"), argv or []))
    return " ".join(["surveys", *words])


def _why_bad(param: click.Parameter | None) -> str:
    """Why Click refused a value, in Swedish (Click's own reason is English)."""
    kind = param.type if param else None
    if isinstance(kind, click.Choice):
        return "ska vara ett av " + ", ".join(map(str, kind.choices)) + "."
    if isinstance(kind, click.Path):
        return "filen eller mappen finns inte eller kan inte läsas."
    if isinstance(kind, (click.IntRange, click.FloatRange)):
        bounds = [f"minst {kind.min}" if kind.min is not None else ""]
        bounds.append(f"högst {kind.max}" if kind.max is not None else "")
        return "ska vara ett tal, " + " och ".join(b for b in bounds if b) + "."
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        return "ska vara ett tal."
    return "värdet kan inte tolkas."


# What the operating system says (English, errno's words) as the operator reads it.
_OS_PROBLEMS = {
    errno.ENOENT: "finns inte",
    errno.ENOSPC: "disken är full",
    errno.EDQUOT: "diskkvoten är slut",
    errno.EACCES: "behörighet saknas",
    errno.EPERM: "behörighet saknas",
    errno.EISDIR: "är en mapp, inte en fil",
    errno.ENOTDIR: "en del av sökvägen är ingen mapp",
    errno.EIO: "läs- eller skrivfel på enheten",
    errno.EROFS: "filsystemet är skrivskyddat",
    errno.ENAMETOOLONG: "namnet är för långt",
    errno.EEXIST: "finns redan",
    errno.EINVAL: "ogiltig sökväg",
}


def os_problem(exc: OSError) -> str:
    """An ``OSError`` in Swedish: what the system answered, without its English words."""
    return _OS_PROBLEMS.get(
        exc.errno or 0, f"systemfel {errno.errorcode.get(exc.errno or 0, exc.errno)}"
    )


YES_WORDS = frozenset({"j", "ja", "y", "yes"})
NO_WORDS = frozenset({"", "n", "nej", "no"})


def confirm_or_abort(question: str) -> None:
    """Ask ``question`` [j/N]: ja (or j, y, yes) goes on, nej or Enter ends the command
    ("Avbrutet."); anything else is asked again (Click's own question wants y and says
    so in English)."""
    while True:
        answer = click.prompt(
            f"{question} [j/N]", default="", show_default=False, prompt_suffix=" "
        )
        folded = answer.strip().lower()
        if folded in YES_WORDS:
            return
        if folded in NO_WORDS:
            raise click.Abort
        click.echo("Svara ja eller nej.", err=True)


def password_or_ask(password: str | None) -> str:
    """``--password``, or asked for twice without echo in a terminal; refused without
    one (no prompt that warns in English that the password may be echoed)."""
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise CliError("Ange lösenordet med --password (det finns ingen terminal att fråga i).")
    while True:
        first = click.prompt("Lösenord", hide_input=True)
        if click.prompt("Upprepa lösenordet", hide_input=True) == first:
            return first
        click.echo("Lösenorden är olika. Försök igen.", err=True)


def input_file(path: str | Path) -> Path:
    """The file a command was given to read, refused in Swedish when it is not one."""
    file = Path(path)
    problem = not_a_file_to_read(file, "en fil")
    if problem:
        raise CliError(problem)
    return file


def read_input(path: str | Path, most: int) -> bytes:
    """At most ``most`` bytes of the file (callers pass one more than the service takes,
    so it sees a file that is too large and refuses it; a huge file is never read whole)."""
    file = input_file(path)
    try:
        with file.open("rb") as handle:
            return handle.read(most)
    except OSError as exc:
        raise CliError(f"Filen {path} kunde inte läsas: {os_problem(exc)}.") from None


def write_outputs(files: list[tuple[Path, bytes]]) -> None:
    """Write each file whole, or none of them (``CliError`` in Swedish, nothing left).

    Every file is written to a temporary file beside it first; the names are taken
    only when all are written, so a full disk or a folder in the way of the second
    file (a signature beside its data) never leaves the first one behind."""
    for target, _ in files:
        _check_target(target)
    written: list[tuple[Path, Path]] = []
    current = files[0][0] if files else Path()
    try:
        for current, data in files:
            if current.exists() and not current.is_file():
                # a device or a pipe (/dev/stdout, a FIFO): written to as it is, never
                # replaced by a renamed file
                current.write_bytes(data)
                continue
            # on disk, owner-only, under a hidden name before it takes its own
            written.append((write_hidden(current, data, mode=0o600), current))
        for temporary, current in written:
            os.replace(temporary, current)
    except OSError as exc:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        raise CliError(
            f"Kunde inte skriva {current}: {os_problem(exc)}. Ingenting har skrivits."
        ) from None


def _check_target(target: Path) -> None:
    """Refused before anything is written: a missing folder, a folder in the file's place."""
    folder = target.parent
    if not folder.is_dir():
        raise CliError(
            f"Kunde inte skriva {target}: mappen {folder} finns inte. Ingenting har skrivits."
        )
    if target.is_dir():
        raise CliError(f"Kunde inte skriva {target}: det är en mapp. Ingenting har skrivits.")


def schema_out_of_date(exc: BaseException) -> bool:
    """Whether the database lacks the service's tables or columns (``db upgrade`` not
    run since the code changed): no retry mends that, unlike a server that is away."""
    return isinstance(exc, DBAPIError) and _missing_from_schema(exc) is not None


def _missing_from_schema(exc: DBAPIError) -> str | None:
    """Which of the service's things the driver says is missing: "file", "table",
    "column" or None (the one reading of SQLite's and PostgreSQL's words, for both
    callers above)."""
    said, kind = str(exc.orig).lower(), type(exc.orig).__name__.lower()
    if said == MISSING_DATABASE:  # SQLite: the file itself (db.make_engine never makes it)
        return "file"
    if "no such table" in said or kind == "undefinedtable":
        return "table"
    if "no such column" in said or kind == "undefinedcolumn":
        return "column"
    return None


def database_problem(exc: DBAPIError) -> str:
    """A database the command could not use, in Swedish (the driver's words are English)."""
    said = str(exc.orig).lower()
    missing = _missing_from_schema(exc)
    if missing == "file":
        return "Databasfilen i DATABASE_URL finns inte ännu. Kör surveys db upgrade först."
    if missing == "table":
        return "Databasen saknar tjänstens tabeller. Kör surveys db upgrade först."
    if missing == "column":
        return (
            "Databasen är från en äldre version av tjänsten (en kolumn saknas). Kör surveys "
            "db upgrade först."
        )
    if "unable to open database file" in said:
        return (
            "Databasfilen i DATABASE_URL kunde inte öppnas. Finns mappen, och får tjänsten "
            "skriva i den?"
        )
    if "file is not a database" in said:
        return "Filen i DATABASE_URL är ingen SQLite-databas."
    if "database is locked" in said:
        return "Databasen är upptagen av en annan process. Försök igen om en stund."
    if isinstance(exc, OperationalError) and "sqlite" not in type(exc.orig).__module__:
        return (
            "Databasen gick inte att nå. Kontrollera DATABASE_URL och att databasservern är igång."
        )
    return (
        f"Databasen kunde inte användas ({type(exc.orig).__name__}). Kontrollera "
        "DATABASE_URL och kör surveys db upgrade."
    )
