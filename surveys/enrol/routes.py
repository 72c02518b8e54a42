"""Every URL of an enrolled tablet (no staff session on the tablet).

/surfplatta/<token>        the round's questionnaire in kiosk mode, and nothing else
/surfplatta/<token>/tack   "Tack", then back to a fresh questionnaire
/surfplatta/<token>/ko     the tablet reports its queue length (a count, no answers)
/surfplatta/sw.js          the service worker: a tablet opened once starts offline

The token is the round's enrolment link (only its hash is stored). Staff revoke it or
make a new one on the round's page; the old link then opens no form ("Sidan finns
inte"), but for the grace period (CLOSED_GRACE_SECONDS) it still takes the forms a
tablet fetched with it and kept in its offline queue. After that a queued form is
refused with JSON and counted on its round, so staff see that a tablet dropped it.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for

from surveys import db
from surveys.errors import error_page
from surveys.models import Round
from surveys.questionnaire.flow import (
    LINK_GONE,
    count_refusal,
    in_background,
    queue_report,
    respond,
    service_worker_response,
)
from surveys.questionnaire.forms import token_round
from surveys.security import csrf
from surveys.services.rounds import KioskLink, find_by_kiosk_token, find_kiosk_link

bp = Blueprint("enrol", __name__, url_prefix="/surfplatta")


def _round_or_404(token: str) -> Round:
    round_ = find_by_kiosk_token(db.session(), token)
    if round_ is None:
        abort(404)
    return round_


def _link(token: str) -> KioskLink | None:
    """The current link, or one retired within the grace period (forms already fetched)."""
    grace = current_app.config["CLOSED_GRACE_SECONDS"]
    return find_kiosk_link(db.session(), token, grace_seconds=grace)


def _gone():
    """No form here (unknown link, or replaced/revoked longer ago than the grace period).

    A form a tablet queued gets a refusal its queue understands, counted on the round
    the form was signed for: staff see that a tablet dropped answers."""
    if request.method == "POST" and in_background():
        round_id = token_round(request.form.get("csrf_token"))
        if round_id is not None:
            count_refusal(round_id)
        return jsonify(status="refused", message=LINK_GONE), 404
    return error_page(404)


@bp.route("/sw.js")
def service_worker():
    """The kiosk service worker with the enrolled tablets' scope (/surfplatta/)."""
    return service_worker_response("/surfplatta/")


@bp.route("/<token>", methods=["GET", "POST"])
@csrf.exempt  # the respondent form carries its own signed token (as on /k/<code>)
def kiosk(token: str):
    """The enrolled round's questionnaire in kiosk mode.

    A retired link shows no form, but takes a form fetched with it before it was
    retired, for the grace period (a tablet's queue sends what it kept offline)."""
    link = _link(token)
    if link is None or (link.retired_at is not None and request.method != "POST"):
        return _gone()
    retired = link.retired_at is not None
    return respond(
        link.round,
        kiosk=True,
        action=url_for(".kiosk", token=token),
        # the old link's "Tack" page is gone: a stored form gets the general "Tack"
        thanks=url_for("questionnaire.thanks") if retired else url_for(".thanks", token=token),
        fetched_before=link.retired_at,
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
    """The enrolled tablet reports how many answers wait on it, and full storage
    (also on a link retired within the grace period: its queue is still draining)."""
    link = _link(token)
    if link is None:
        return jsonify(status="refused", message="Sidan finns inte."), 404
    return queue_report(link.round)
