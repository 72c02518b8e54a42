"""Which instance this is: a förbund's (default) or NNS's national one (SURVEYS_MODE).

A national instance answers only sign-in, its own pages and the commands both
kinds share (database, instrument, users, keys, backup, the background worker); a
förbund's instance refuses the national pages and commands. The refusal is a Swedish
message.
"""

from __future__ import annotations

import functools

import click
from flask import Flask, abort, current_app, request
from flask.cli import ScriptInfo

from surveys.cli_types import CliError

FORBUND, NATIONAL = "forbund", "national"
MODES = (FORBUND, NATIONAL)
SHARED_BLUEPRINTS = {"auth"}  # sign-in serves both kinds of instance
NATIONAL_BLUEPRINTS = {"national"}


def is_national(app: Flask | None = None) -> bool:
    return (app or current_app).config["SURVEYS_MODE"] == NATIONAL


def init_app(app: Flask) -> None:
    """Refuse the other kind of instance's pages (404 with the Swedish error page)."""

    @app.before_request
    def _only_own_pages() -> None:
        blueprint = request.blueprint
        if blueprint is None or blueprint in SHARED_BLUEPRINTS:
            return
        national_page = blueprint in NATIONAL_BLUEPRINTS
        if national_page != is_national(app):
            abort(404)


def refusal(wanted: str) -> str:
    if wanted == NATIONAL:
        return (
            "Kommandot finns bara i den nationella instansen (NNS). "
            "Starta den med SURVEYS_MODE=national."
        )
    return (
        "Kommandot hör till ett förbunds instans; det här är den nationella instansen "
        "(SURVEYS_MODE=national)."
    )


def only_in(wanted: str, command: click.Command) -> click.Command:
    """Make ``command`` (and a group's subcommands) refuse to run in the other mode."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            only_in(wanted, sub)
        return command
    callback = command.callback
    if callback is None or getattr(callback, "surveys_mode_guard", None):
        return command

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        # runs before Flask's with_appcontext: the app comes from the CLI's ScriptInfo
        app = click.get_current_context().ensure_object(ScriptInfo).load_app()
        if is_national(app) != (wanted == NATIONAL):
            raise CliError(refusal(wanted))
        return callback(*args, **kwargs)

    guarded.surveys_mode_guard = wanted  # type: ignore[attr-defined]
    command.callback = guarded
    return command
