"""Swedish error pages; never a stack trace, never request data."""

from __future__ import annotations

import logging
import traceback

from flask import Flask, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from surveys.services.actor import Refused
from surveys.services.catalogue import InstrumentMissing

MESSAGES = {
    400: (
        "Något blev fel i formuläret",
        "Uppgifterna kunde inte tas emot. Ingenting har sparats. Gå tillbaka och försök igen.",
    ),
    403: ("Ingen behörighet", "Du har inte behörighet till den här sidan."),
    404: (
        "Sidan finns inte",
        "Länken stämmer inte eller är inte längre giltig. "
        "Kontrollera länken eller fråga personalen.",
    ),
    405: ("Det gick inte", "Sidan kan inte användas på det sättet."),
    410: (
        "Länken har redan använts",
        "Den här länken har redan använts för att svara. Tack för din medverkan!",
    ),
    409: (
        "Det har redan sparats",
        "Samma sak sparades nyss, kanske efter ett dubbelklick eller från en annan flik. "
        "Den här gången sparades ingenting. Ladda om sidan och se efter.",
    ),
    413: ("Filen är för stor", "Det du skickade är för stort. Ingenting har sparats."),
    429: ("För många försök", "För många försök på kort tid. Vänta en stund och försök igen."),
    503: (
        "Tjänsten är inte klar att användas",
        "Enkäterna kan inte visas just nu. Försök igen senare eller fråga personalen.",
    ),
    500: (
        "Ett fel uppstod",
        "Något gick fel hos oss. Ingenting har sparats. Försök igen om en stund.",
    ),
}
log = logging.getLogger(__name__)


# Respondent pages (questionnaire links, enrolled tablets) show no staff top bar and no
# way out of the questionnaire: a kiosk tablet must not become a browser.
RESPONDENT_BLUEPRINTS = {"questionnaire", "enrol"}


def _way_back() -> tuple[bool, str | None, str | None]:
    """(respondent page?, back link, its label) for the error page."""
    if request.blueprint in RESPONDENT_BLUEPRINTS:
        return True, None, None
    try:
        if current_user.is_authenticated:
            if current_user.role in ("administratör", "personal"):
                return False, url_for("staff.home"), "Till Insatser och enkäter"
            return False, url_for("reports.latest"), "Till rapporten"
    except Exception:  # noqa: BLE001 - an error page must render even if the session is broken
        log.warning("Kunde inte läsa inloggningen på felsidan.")
    return False, url_for("auth.start"), "Till startsidan"


def error_page(
    status: int,
    message: str | None = None,
    title: str | None = None,
    link: tuple[str, str] | None = None,
):
    """A Swedish error page: the top bar and a way back (none on respondent pages).

    ``link`` (url, text) replaces the way back where the page knows a better next step.
    """
    default_title, default_message = MESSAGES.get(status, MESSAGES[400])
    respondent, back_url, back_label = _way_back()
    if link is not None:
        back_url, back_label = link
    return (
        render_template(
            "errors/error.html",
            status=status,
            title=title or default_title,
            message=message or default_message,
            respondent=respondent,
            back_url=back_url,
            back_label=back_label,
        ),
        status,
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError):
        return error_page(
            400,
            "Formuläret har gått ut eller saknar säkerhetsnyckel. "
            "Ladda om sidan och försök igen. Ingenting har sparats.",
        )

    @app.errorhandler(Refused)
    def _refused(exc: Refused):
        # a service refused the actor: its Swedish reason; the 403 rolls the request back
        return error_page(403, str(exc))

    @app.errorhandler(InstrumentMissing)
    def _no_instrument(exc: InstrumentMissing):
        # a new installation before `surveys instrument load`: say what is missing
        respondent, _, _ = _way_back()
        return error_page(503, None if respondent else f"{exc} (på servern).")

    @app.errorhandler(IntegrityError)
    def _conflict(exc: IntegrityError):
        # Two requests at the same moment (a double click, two tabs) wrote the same unique
        # thing, and the database refused the second: say so, not "Ett fel uppstod". The
        # checks before the write (a name in use) cannot see a row not yet committed.
        log.warning("Krock med något som sparades samtidigt: %s", traceback_without_data(exc))
        return error_page(409)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        original = getattr(exc, "original_exception", None)  # an InternalServerError's cause
        if isinstance(original, IntegrityError):
            return _conflict(original)  # met by the request's commit
        status = exc.code or 500
        return error_page(status if status in MESSAGES else 400)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.error("Oväntat fel: %s", traceback_without_data(exc))
        return error_page(500)


def traceback_without_data(exc: BaseException) -> str:
    """The exception's class and its traceback frames (file, line, function, code).

    Never the exception's message, locals or the request: a database error's
    message carries the statement's parameters, i.e. answers or e-mail addresses.
    """
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    return f"{type(exc).__module__}.{type(exc).__qualname__}\n{frames}"
