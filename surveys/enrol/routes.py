"""Every URL of an enrolled tablet (no staff session on the tablet).

/surfplatta/<token>        the round's questionnaire in kiosk mode, and nothing else
/surfplatta/<token>/tack   "Tack", then back to a fresh questionnaire
/surfplatta/<token>/ko     the tablet reports its queue length (a count, no answers)
/surfplatta/sw.js          the service worker: a tablet opened once starts offline

The token is the round's enrolment link (only its hash is stored). Staff revoke it or
make a new one on the round's page; the old link then gives "Sidan finns inte".
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, url_for

from surveys import db
from surveys.models import Round
from surveys.questionnaire.routes import (
    _questionnaire,
    queue_report,
    service_worker_response,
)
from surveys.security import csrf
from surveys.services.rounds import find_by_kiosk_token

bp = Blueprint("enrol", __name__, url_prefix="/surfplatta")


def _round_or_404(token: str) -> Round:
    round_ = find_by_kiosk_token(db.session(), token)
    if round_ is None:
        abort(404)
    return round_


@bp.route("/sw.js")
def service_worker():
    """The kiosk service worker with the enrolled tablets' scope (/surfplatta/)."""
    return service_worker_response("/surfplatta/")


@bp.route("/<token>", methods=["GET", "POST"])
@csrf.exempt  # the respondent form carries its own signed token (as on /k/<code>)
def kiosk(token: str):
    """The enrolled round's questionnaire in kiosk mode."""
    round_ = _round_or_404(token)
    return _questionnaire(
        round_,
        kiosk=True,
        action=url_for(".kiosk", token=token),
        thanks=url_for(".thanks", token=token),
    )


@bp.route("/<token>/tack")
def thanks(token: str):
    """Kiosk "Tack": back to a fresh questionnaire after a few seconds or a tap."""
    _round_or_404(token)
    return render_template(
        "questionnaire/thanks.html",
        kiosk=True,
        again_url=url_for(".kiosk", token=token),
        reset_seconds=current_app.config["KIOSK_THANKS_SECONDS"],
    )


@bp.route("/<token>/ko", methods=["POST"])
@csrf.exempt  # a count from the tablet's queue, no answers (as /k/<code>/ko)
def queue(token: str):
    """The enrolled tablet reports how many answers wait on it, and full storage."""
    return queue_report(_round_or_404(token))
