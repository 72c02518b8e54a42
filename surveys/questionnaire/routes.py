"""Every URL of the respondent questionnaire.

/s/<code>   a round's open link          /k/<code>   the same on a kiosk tablet
/t/<token>  a single-use link            /tack, /k/<code>/tack  "Tack" after the commit
/k/sw.js    the kiosk's service worker   /k/<code>/ko  a tablet reports its queue length
/s/ljud/<version id>  a question's recorded read-aloud (questionnaire/language.py)

With JavaScript the form is sent in the background (header X-Background: 1) and
answered with JSON; the answers wait on the device until the server acknowledges.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for

from surveys import db
from surveys.errors import error_page
from surveys.models import RoundMode
from surveys.questionnaire import language
from surveys.questionnaire.flow import queue_report, respond, service_worker_response
from surveys.security import csrf
from surveys.services.respondent import round_by_code
from surveys.services.rounds import find_by_token

bp = Blueprint("questionnaire", __name__)


@bp.route("/s/<code>", methods=["GET", "POST"])
@csrf.exempt
def open_link(code: str):
    """A round's open link (open-link and kiosk rounds)."""
    round_ = round_by_code(code)  # as stored now: see services/respondent.py
    if round_ is None or round_.mode == RoundMode.single_use.value:
        abort(404)
    action, thanks = _urls(code, kiosk=False)
    return respond(round_, kiosk=False, action=action, thanks=thanks)


@bp.route("/k/<code>", methods=["GET", "POST"])
@csrf.exempt
def kiosk(code: str):
    """The questionnaire on a shared tablet: resets itself after "Tack"."""
    round_ = round_by_code(code)  # as stored now: see services/respondent.py
    if round_ is None or round_.mode == RoundMode.single_use.value:
        abort(404)
    action, thanks = _urls(code, kiosk=True)
    return respond(round_, kiosk=True, action=action, thanks=thanks)


def _urls(code: str, *, kiosk: bool) -> tuple[str, str]:
    """The form's and "Tack"'s URLs for a round's code (open link or kiosk), built once
    per worker.

    They depend only on the code, the URL map (fixed once the app runs) and the
    script root the request came through, which is part of the key. Only codes of
    rounds that exist come here; the cache is emptied should it ever grow large."""
    cache = current_app.extensions.setdefault("questionnaire_urls", {})
    key = (request.script_root, kiosk, code)
    found = cache.get(key)
    if found is None:
        if len(cache) > 1000:
            cache.clear()
        if kiosk:
            found = (url_for(".kiosk", code=code), url_for(".kiosk_thanks", code=code))
        else:
            found = (url_for(".open_link", code=code), url_for(".thanks"))
        cache[key] = found
    return found


@bp.route("/t/<token>", methods=["GET", "POST"])
@csrf.exempt
def single_use(token: str):
    """A single-use link: usable once, then "Länken har redan använts"."""
    found = find_by_token(db.session(), token)
    if found is None:
        abort(404)
    round_, link = found
    if link.used and request.method == "GET":
        return error_page(410)
    return respond(
        round_,
        kiosk=False,
        token=token,
        action=url_for(".single_use", token=token),
        thanks=url_for(".thanks"),
    )


@bp.route("/tack")
def thanks():
    """Shown only after a redirect from a committed submission."""
    return render_template(
        "questionnaire/thanks.html", kiosk=False, again_url=None, **language.thanks_context()
    )


@bp.route("/k/<code>/tack")
def kiosk_thanks(code: str):
    """Kiosk "Tack": a fresh questionnaire after a countdown that can be extended.

    With JavaScript the page counts down itself ("Jag behöver mer tid"); the meta
    refresh is only inside <noscript>, for tablets without JavaScript.
    """
    if round_by_code(code) is None:
        abort(404)
    return render_template(
        "questionnaire/thanks.html",
        kiosk=True,
        again_url=url_for(".kiosk", code=code),
        reset_seconds=current_app.config["KIOSK_THANKS_SECONDS"],
        **language.thanks_context(),
    )


@bp.route("/k/sw.js")
def service_worker():
    """The kiosk's service worker (scope /k/): a tablet opened once shows a form offline."""
    return service_worker_response("/k/")


@bp.route("/k/<code>/ko", methods=["POST"])
@csrf.exempt
def kiosk_queue(code: str):
    """A tablet reports its queue length (a count, no answers) and full storage."""
    round_ = round_by_code(code)
    if round_ is None:
        abort(404)
    return queue_report(round_)


bp.add_url_rule("/s/ljud/<version_id>", view_func=language.recording)
bp.add_app_template_global(language.swedish, "tr")  # pages rendered without a language
