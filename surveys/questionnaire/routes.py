"""Every URL of the respondent questionnaire.

/s/<code>   a round's open link          /k/<code>   the same on a kiosk tablet
/t/<token>  a single-use link            /tack, /k/<code>/tack  "Tack" after the commit
/k/sw.js    the kiosk's service worker   /k/<code>/ko  a tablet reports its queue length
/s/ljud/<version id>  a question's recorded read-aloud (questionnaire/language.py)

With JavaScript the form is sent in the background (header X-Background: 1) and
answered with JSON; the answers wait on the device until the server acknowledges.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from surveys import db, ratelimit
from surveys.auth import roles_required, web_actor
from surveys.errors import error_page
from surveys.models import Intervention, Role, Round, RoundMode
from surveys.questionnaire import language
from surveys.questionnaire.forms import (
    new_form_token,
    parse_posted,
    read_form_token,
    renew_form_token,
    token_round,
)
from surveys.security import csrf
from surveys.services import kiosk as kiosk_ops
from surveys.services.respondent import instrument, round_by_code
from surveys.services.round_access import RoundLike, accepts_answers
from surveys.services.rounds import find_by_token
from surveys.services.submissions import (
    UNAVAILABLE_TEXT,
    Outcome,
    already_stored,
    closed_within_grace,
    submit,
)
from surveys.services.validation import GENDER_LABELS, InvalidSubmission, clean_submission

bp = Blueprint("questionnaire", __name__)
KIOSK_PREFIXES = ("/k/", "/surfplatta/")  # a kiosk round's tablets: by code or enrolled
CLOSED_TITLE = "Enkäten är stängd"
CLOSED_TEXT = "Den här enkäten tar inte emot svar just nu. Tack för att du ville svara!"
LINK_GONE = (
    "Surfplattans länk till enkäten gäller inte längre, så svaren kunde inte tas emot. "
    "Be personalen öppna den nya kiosklänken."
)
TOO_MANY = "För många rapporter på kort tid. Försök igen om en stund."


@bp.route("/s/<code>", methods=["GET", "POST"])
@csrf.exempt
def open_link(code: str):
    """A round's open link (open-link and kiosk rounds)."""
    round_ = round_by_code(code)  # as stored now: see services/respondent.py
    if round_ is None or round_.mode == RoundMode.single_use.value:
        abort(404)
    action, thanks = _urls(code, kiosk=False)
    return _questionnaire(round_, kiosk=False, action=action, thanks=thanks)


@bp.route("/k/<code>", methods=["GET", "POST"])
@csrf.exempt
def kiosk(code: str):
    """The questionnaire on a shared tablet: resets itself after "Tack"."""
    round_ = round_by_code(code)  # as stored now: see services/respondent.py
    if round_ is None or round_.mode == RoundMode.single_use.value:
        abort(404)
    action, thanks = _urls(code, kiosk=True)
    return _questionnaire(round_, kiosk=True, action=action, thanks=thanks)


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
    return _questionnaire(
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


def service_worker_response(scope: str) -> Response:
    """sw.js for the kiosk pages under ``scope`` (/k/ or an enrolled tablet's /surfplatta/)."""
    if "sw" not in _SW_SOURCE:
        path = Path(current_app.static_folder or "") / "js" / "sw.js"
        _SW_SOURCE["sw"] = path.read_bytes()
    response = Response(_SW_SOURCE["sw"], mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = scope
    return response


_SW_SOURCE: dict[str, bytes] = {}


@bp.route("/k/<code>/ko", methods=["POST"])
@csrf.exempt
def kiosk_queue(code: str):
    """A tablet reports its queue length (a count, no answers) and full storage."""
    round_ = round_by_code(code)
    if round_ is None:
        abort(404)
    return queue_report(round_)


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


def _questionnaire(
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
        if _background():
            return jsonify(status="renew", token=fresh)
        return _show_again(round_, context, posted, fresh)
    if posted.is_empty() and not posted.confirm_empty:
        if _background():
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
        default_min_cell=current_app.config["MIN_CELL"],
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
        if _background():  # the device keeps the answers and sends them again
            return jsonify(status="retry", message=UNAVAILABLE_TEXT), 503
        form_token = request.form["csrf_token"]
        return _render_step(round_, context, posted, 1, form_token, notice=UNAVAILABLE_TEXT), 503
    return _refused(round_, 403, CLOSED_TEXT, title=CLOSED_TITLE)


def _background() -> bool:
    """Sent by questionnaire.js in the background (answers kept on the device until acked)."""
    return request.headers.get("X-Background") == "1"


def _stored(thanks: str):
    if _background():
        return jsonify(status="stored")
    return redirect(thanks, code=303)


def _refused(round_: RoundLike, status: int, message: str | None, title: str | None = None):
    """Nothing stored. A background submission is dropped by the device: a tablet's is
    counted for staff (the round page says how many answers tablets had to drop)."""
    if _background():
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


@bp.route("/personal/omgang/<round_id>/surfplatta", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def kiosk_settings(round_id: str):
    """Staff set a round's idle time ("Är du kvar?") and acknowledge a full tablet."""
    session = db.session()
    round_ = session.get(Round, round_id)
    if round_ is None or not current_user.can_manage(round_.intervention_id):
        abort(403)
    try:
        kiosk_ops.change_settings(
            session,
            web_actor(),
            round_,
            idle_seconds=request.form.get("idle_seconds", ""),
            clear_full=request.form.get("clear_full") == "1",
        )
    except kiosk_ops.KioskSettingError as exc:
        flash(str(exc), "error")
        return redirect(url_for("staff.round_page", round_id=round_id))
    flash("Inställningen för surfplattor är sparad.")
    return redirect(url_for("staff.round_page", round_id=round_id))


bp.add_url_rule("/s/ljud/<version_id>", view_func=language.recording)
bp.add_app_template_global(language.swedish, "tr")  # pages rendered without a language
