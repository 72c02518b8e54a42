"""What the staff pages share with the language links (``surveys/admin/translations.py``):
the round a user may manage, a closed round's refusal, QR codes and new single-use links.

The rule that a closed round gets no links is the rounds service's (``link_refusal``,
enforced by ``make_links`` and ``issue_kiosk_link``); the pages that make nothing (QR
code, poster, the mail form) show its message before drawing anything.
"""

from __future__ import annotations

import base64
import io

import segno
from flask import abort, flash, redirect, url_for
from flask_login import current_user

from surveys import db
from surveys.auth import web_actor
from surveys.links import public
from surveys.models import Round, RoundMode
from surveys.services import rounds as round_ops
from surveys.services.actor import Refused
from surveys.staff.forms import CountForm

SINGLE_USE = RoundMode.single_use.value


def round_or_403(round_id: str) -> Round:
    """The round, if this user may manage its insats (404 unknown, 403 another's)."""
    round_ = db.session().get(Round, round_id)
    if round_ is None:
        abort(404)
    if not current_user.can_manage(round_.intervention_id):
        abort(403)
    return round_


def closed_refusal(round_: Round):
    """A closed round makes no links (open link, QR, poster, mail form): the service's
    Swedish message (``rounds.link_refusal``) on the round page instead."""
    refusal = round_ops.link_refusal(round_)
    if refusal is None:
        return None
    return refused(round_, refusal)


def refused(round_: Round, message: str):
    """Back to the round page (303) with a service's Swedish refusal; nothing was made."""
    flash(message, "error")
    # Named in full: the language links (surveys/admin/translations.py) call this too.
    return redirect(url_for("staff.round_page", round_id=round_.id), code=303)


def qr(data: str, fmt: str, *, scale: int = 8) -> bytes:
    """``data`` as a QR code in ``fmt`` (svg or png)."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind=fmt, scale=scale, border=2)
    return buffer.getvalue()


def qr_data_uri(data: str) -> str:
    """``data`` as an SVG QR code inline in a page (posters, slips)."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr(data, "svg")).decode("ascii")


def new_links(round_: Round, *, maximum: int, action: str) -> list[str] | None:
    """Create the requested number of single-use links (form field ``count``), audited.

    None (a Swedish message flashed, nothing made) for a count out of range or when the
    service refuses (e.g. a closed round); the caller then goes back to the round page."""
    form = CountForm()
    if not form.validate_on_submit() or not 1 <= (form.count.data or 0) <= maximum:
        flash(f"Ange ett antal mellan 1 och {maximum}.", "error")
        return None
    try:
        tokens = round_ops.make_links(
            db.session(), web_actor(), round_, count=form.count.data or 0, action=action
        )
    except Refused as exc:
        flash(str(exc), "error")
        return None
    return [public(url_for("questionnaire.single_use", token=t)) for t in tokens]
