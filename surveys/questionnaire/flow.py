"""What the questionnaire's pages do, shared by its blueprint (``routes.py``: open
links, kiosk codes, single-use links) and the enrolled tablets' (``surveys/enrol``).

``respond`` shows a round's form (GET) or takes one POSTed step: refused, asked again
(empty, the conditional step, an old form) or stored. ``queue_report`` and
``count_refusal`` hear from a tablet's queue; ``service_worker_response`` is the kiosk's
service worker for a scope. The routes only find the round and call these.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from flask import Response, current_app, jsonify, redirect, render_template, request

from surveys import db, ratelimit
from surveys.errors import error_page
from surveys.models import Intervention, RoundMode
from surveys.questionnaire import language
from surveys.questionnaire.forms import (
    new_form_token,
    parse_posted,
    read_form_token,
    renew_form_token,
    token_round,
)
from surveys.services import kiosk as kiosk_ops
from surveys.services.respondent import instrument
from surveys.services.round_access import RoundLike, accepts_answers
from surveys.services.submissions import (
    UNAVAILABLE_TEXT,
    Outcome,
    already_stored,
    closed_within_grace,
    submit,
)
from surveys.services.validation import GENDER_LABELS, InvalidSubmission, clean_submission

KIOSK_PREFIXES = ("/k/", "/surfplatta/")  # a kiosk round's tablets: by code or enrolled
CLOSED_TITLE = "Enkäten är stängd"
CLOSED_TEXT = "Den här enkäten tar inte emot svar just nu. Tack för att du ville svara!"
LINK_GONE = (
    "Surfplattans länk till enkäten gäller inte längre, så svaren kunde inte tas emot. "
    "Be personalen öppna den nya kiosklänken."
)
TOO_MANY = "För många rapporter på kort tid. Försök igen om en stund."


def service_worker_response(scope: str) -> Response:
    """sw.js for the kiosk pages under ``scope`` (/k/ or an enrolled tablet's /surfplatta/)."""
    if "sw" not in _SW_SOURCE:
        path = Path(current_app.static_folder or "") / "js" / "sw.js"
        _SW_SOURCE["sw"] = path.read_bytes()
    response = Response(_SW_SOURCE["sw"], mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = scope
    return response


_SW_SOURCE: dict[str, bytes] = {}


def queue_report(round_: RoundLike):
    """Store a tablet's queue report for the round (shared with enrolled tablets).

    Believed only when signed with a form token of this round shown in kiosk mode (the
    tablet has the one of the form it shows; an open link's form token is refused), in
    steps of at most MAX_STEP (larger figures are clamped), at most
    TABLET_REPORTS_PER_MINUTE a minute per address and round. A
    round that no longer takes answers hears only a queue getting shorter, and only
    from forms still within the grace period. Never a 500: the counter is clamped.
    """
    if round_.mode != RoundMode.kiosk.value:  # only a kiosk round has tablets to hear from
        return jsonify(status="refused", message="Sidan finns inte."), 404
    form_token = read_form_token(request.form.get("token"), round_.id)
    if form_token is None or not form_token.kiosk:  # an open link's form is no tablet
        return jsonify(status="refused", message="Rapporten är inte giltig."), 403
    waiting = _queue_figure(request.form.get("waiting", ""))
    reported = _queue_figure(request.form.get("reported", "0"))
    if waiting is None or reported is None:
        return jsonify(status="refused", message="Ogiltiga siffror."), 400
    open_now = accepts_answers(round_)
    if not open_now and (
        waiting > reported
        or not closed_within_grace(
            round_, form_token.rendered_at, current_app.config["CLOSED_GRACE_SECONDS"]
        )
    ):
        return jsonify(status="refused", message=CLOSED_TEXT), 410
    if not ratelimit.allow("ko", round_.id):
        return jsonify(status="refused", message=TOO_MANY), 429
    kiosk_ops.report_queue(
        db.session(),
        round_.id,
        waiting=waiting,
        reported=reported,
        full=open_now and request.form.get("storage_full") == "1",
    )
    return jsonify(status="ok", waiting=waiting)


def _queue_figure(value: str) -> int | None:
    """A queue length as sent (digits only), clamped to MAX_STEP; None if not a number."""
    if not value or len(value) > 30 or not (value.isascii() and value.isdigit()):
        return None
    return min(int(value), kiosk_ops.MAX_STEP)


def count_refusal(round_id: str) -> None:
    """Count, for staff, a queued form that the tablet will now drop.

    Only a form the service signed for that round counts (a made-up POST changes
    nothing), at most TABLET_REFUSALS_PER_MINUTE a minute per address and round."""
    if token_round(request.form.get("csrf_token")) != round_id:
        return
    if ratelimit.allow("refused", round_id):
        # its own transaction: the refusal's answer is an error status, which rolls back
        with db.own_transaction(db.session()) as session:
            kiosk_ops.count_refused(session, round_id)


def respond(
    round_: RoundLike,
    *,
    kiosk: bool,
    action: str,
    thanks: str,
    token: str | None = None,
    fetched_before: datetime | None = None,
):
    """A round's form (GET) or one POSTed step. ``fetched_before``: the address is a kiosk
    link retired then, so only forms rendered before it are taken (a GET never comes here)."""
    if request.method == "GET" and not accepts_answers(round_):
        return error_page(403, CLOSED_TEXT, title=CLOSED_TITLE)
    instrument_ = instrument()
    qn = instrument_.questionnaire(round_.questionnaire_key)
    context = {
        "qn": qn,
        "instrument": instrument_,
        "round": round_,
        "kiosk": kiosk,
        "action": action,
        "thanks_url": thanks,
        "questions": qn.questions_in(round_.year),
        "gender_labels": GENDER_LABELS,
        "idle_seconds": kiosk_ops.idle_seconds(round_, current_app.config["KIOSK_IDLE_SECONDS"]),
        "countdown_seconds": current_app.config["KIOSK_COUNTDOWN_SECONDS"],
        "thanks_seconds": current_app.config["KIOSK_THANKS_SECONDS"],
    }
    context.update(language.context(instrument_, qn))  # ?sprak=, picker, read-aloud
    if context["lang"] is not None:  # "Tack" in the language (a kiosk's then goes to Swedish)
        context["thanks_url"] = f"{thanks}?sprak={context['lang'].code}"
    if request.method == "GET":
        signed = new_form_token(round_.id, kiosk=kiosk).encode()
        return Response(
            signed.join(_first_step(round_, instrument_, context)), mimetype="text/html"
        )
    if fetched_before is not None and _rendered_after(round_, fetched_before):
        return _refused(round_, 404, LINK_GONE)  # not a form fetched with the old link
    return _posted(round_, instrument_, qn, context, token=token)


def _rendered_after(round_: RoundLike, moment: datetime) -> bool:
    """The POSTed form is authentic and was rendered after ``moment``."""
    form_token = read_form_token(request.form.get("csrf_token"), round_.id)
    return form_token is not None and form_token.rendered_at > moment


def _posted(round_: RoundLike, instrument_, qn, context: dict, *, token: str | None):
    """One POSTed step: refused, asked again (empty, step 2, old form) or stored.

    A complete questionnaire is stored without an ORM session (its own transaction on
    a driver connection); the rarer steps take the request's session when they need it."""
    form_token = read_form_token(request.form.get("csrf_token"), round_.id)
    if form_token is None:
        return _refused(
            round_,
            400,
            "Formuläret är ogiltigt. Ladda om sidan och svara igen. Ingenting har sparats.",
        )
    grace = current_app.config["CLOSED_GRACE_SECONDS"]
    if not accepts_answers(round_) and not closed_within_grace(
        round_, form_token.rendered_at, grace
    ):
        return _refused(round_, 403, CLOSED_TEXT, title=CLOSED_TITLE)
    try:
        posted = parse_posted(request.form)
        clean = clean_submission(
            instrument_,
            questionnaire=qn.key,
            year=round_.year,
            answers=posted.answers,
            gender=posted.gender,
        )
    except InvalidSubmission as exc:
        return _refused(
            round_,
            400,
            "Svaren kunde inte tas emot: " + exc.errors[0][1] + " Ingenting har sparats.",
        )
    key = form_token.idempotency_key(posted.device_key)
    final = not posted.is_empty() or posted.confirm_empty
    final = final and not _needs_conditional_step(qn, round_.year, posted)
    if not final and already_stored(db.session(), key):
        # A step of a form that was already stored (Back + resubmit without JavaScript):
        # start a fresh, empty questionnaire, never show that respondent's answers.
        return redirect(context["action"], code=303)
    if form_token.age_seconds() > current_app.config["FORM_TOKEN_MAX_AGE"]:
        renewed = form_token.renewed_idempotency_key(posted.device_key)
        if already_stored(db.session(), key) or already_stored(db.session(), renewed):
            return _stored(context["thanks_url"])
        # An old form is never discarded: shown again, filled in, with a fresh key.
        fresh = renew_form_token(form_token, round_.id)
        if in_background():
            return jsonify(status="renew", token=fresh)
        return _show_again(round_, context, posted, fresh)
    if posted.is_empty() and not posted.confirm_empty:
        if in_background():
            return jsonify(status="confirm_empty")
        return _render_step(round_, context, posted, "empty", request.form["csrf_token"])
    if _needs_conditional_step(qn, round_.year, posted):
        return _render_step(round_, context, posted, 2, request.form["csrf_token"])
    outcome = submit(
        None,  # no ORM session: see services/submissions.py
        round_=round_,
        clean=clean,
        idempotency_key=key,
        token=token,
        rendered_at=form_token.rendered_at,
        grace_seconds=grace,
    )
    if outcome is Outcome.late:
        session = db.session()
        with db.own_transaction(session):  # counted apart from the stored answer
            kiosk_ops.record_late(session, round_)
    stored_now = outcome in (Outcome.stored, Outcome.late)  # not a duplicate
    language.count_answered_in(round_.id, context["lang"] if stored_now else None)
    if outcome in (Outcome.stored, Outcome.duplicate, Outcome.late):
        return _stored(context["thanks_url"])
    return _not_stored(round_, outcome, context, posted)


def _not_stored(round_: RoundLike, outcome: Outcome, context: dict, posted):
    """The page for a questionnaire that was not stored (never "Tack")."""
    if outcome is Outcome.token_used:
        return _refused(round_, 410, None)
    if outcome is Outcome.unavailable:  # the service's fault: try again later
        if in_background():  # the device keeps the answers and sends them again
            return jsonify(status="retry", message=UNAVAILABLE_TEXT), 503
        form_token = request.form["csrf_token"]
        return _render_step(round_, context, posted, 1, form_token, notice=UNAVAILABLE_TEXT), 503
    return _refused(round_, 403, CLOSED_TEXT, title=CLOSED_TITLE)


def in_background() -> bool:
    """Sent by questionnaire.js in the background (answers kept on the device until acked)."""
    return request.headers.get("X-Background") == "1"


def _stored(thanks: str):
    if in_background():
        return jsonify(status="stored")
    return redirect(thanks, code=303)


def _refused(round_: RoundLike, status: int, message: str | None, title: str | None = None):
    """Nothing stored. A background submission is dropped by the device: a tablet's is
    counted for staff (the round page says how many answers tablets had to drop)."""
    if in_background():
        if request.path.startswith(KIOSK_PREFIXES):
            count_refusal(round_.id)
        return jsonify(status="refused", message=message or ""), status
    return error_page(status, message, title=title)


def _render_step(round_: RoundLike, context: dict, posted, step, form_token: str, notice: str = ""):
    return render_template(
        "questionnaire/form.html",
        intervention=_intervention(round_),
        step=step,
        values=posted.answers,
        gender=posted.gender,
        form_token=form_token,
        notice=notice,
        device_key=posted.device_key,
        **context,
    )


def _show_again(round_: RoundLike, context: dict, posted, fresh_token: str):
    return _render_step(
        round_,
        context,
        posted,
        1,
        fresh_token,
        notice="Sidan har varit öppen länge. Dina svar finns kvar: titta igenom dem och "
        "tryck på Skicka svaren igen.",
    )


# The first step of a round's form is the same for everyone but its token, so it is
# rendered once per worker, kept as UTF-8 bytes split where the token goes, and the
# token is put in. The key holds everything the page shows that can change: the round's
# settings and insats name (read fresh per request), and the catalogue and offered
# translations (the objects their caches hand out: a changed catalogue or translation
# is a new object, so the page is rendered again).
_TOKEN_PLACEHOLDER = "__FORM_TOKEN__"  # noqa: S105 - a placeholder, not a secret
_FORM_CACHE: dict[tuple, tuple[object, object, list[bytes]]] = {}


def _first_step(round_: RoundLike, instrument, context: dict) -> list[bytes]:
    """The form's first step as UTF-8 bytes around its token (join them with the token)."""
    timings = (context["idle_seconds"], context["countdown_seconds"], context["thanks_seconds"])
    key: tuple = (round_.id, round_.year, context["kiosk"], context["action"], timings)
    key += (getattr(round_, "intervention_name", None), context["language_key"])
    cached = _FORM_CACHE.get(key)
    source = context["language_source"]
    if cached is not None and cached[0] is instrument and cached[1] is source:
        return cached[2]
    html = render_template(
        "questionnaire/form.html",
        intervention=_intervention(round_),
        step=1,
        values={},
        gender="",
        form_token=_TOKEN_PLACEHOLDER,
        notice="",
        device_key="",
        **context,
    )
    parts = html.encode().split(_TOKEN_PLACEHOLDER.encode())
    if len(_FORM_CACHE) > 500:
        _FORM_CACHE.clear()
    _FORM_CACHE[key] = (instrument, source, parts)
    return parts


def _intervention(round_: RoundLike) -> Intervention | SimpleNamespace | None:
    """The round's insats (for its name), looked up only when a form is rendered; a round
    read by ``round_by_code`` carries the name already."""
    if round_.intervention_id is None:
        return None
    name = getattr(round_, "intervention_name", None)
    if name is not None:
        return SimpleNamespace(name=name)
    return db.session().get(Intervention, round_.intervention_id)


def _needs_conditional_step(qn, year: int, posted) -> bool:
    """Without JavaScript, conditional questions (exit 9–10) come on a second step."""
    if posted.conditional_shown:
        return False
    for question in qn.questions_in(year):
        if question.condition_question is None:
            continue
        gate = posted.answers.get(question.condition_question, "").strip()
        if gate == str(question.condition_code):
            return True
    return False
