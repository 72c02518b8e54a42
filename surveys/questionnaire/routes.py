"""Every URL of the respondent questionnaire.

/s/<code>   a round's open link          /k/<code>   the same on a kiosk tablet
/t/<token>  a single-use link            /tack, /k/<code>/tack  "Tack" after the commit
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from surveys import db
from surveys.errors import error_page
from surveys.models import Intervention, Round, RoundMode
from surveys.questionnaire.forms import new_form_token, parse_posted, read_form_token
from surveys.security import csrf
from surveys.services.respondent import instrument, round_by_code
from surveys.services.rounds import accepts_answers, find_by_token
from surveys.services.submissions import Outcome, submit
from surveys.services.validation import GENDER_LABELS, InvalidSubmission, clean_submission

bp = Blueprint("questionnaire", __name__)
KIOSK_RESET_SECONDS = 10
CLOSED_TITLE = "Enkäten är stängd"
CLOSED_TEXT = "Den här enkäten tar inte emot svar just nu. Tack för att du ville svara!"


@bp.route("/s/<code>", methods=["GET", "POST"])
@csrf.exempt
def open_link(code: str):
    """A round's open link (open-link and kiosk rounds)."""
    round_ = round_by_code(code)  # cached per worker: see services/respondent.py
    if round_ is None or round_.mode == RoundMode.single_use.value:
        abort(404)
    return _questionnaire(
        round_, kiosk=False, action=url_for(".open_link", code=code), thanks=url_for(".thanks")
    )


@bp.route("/k/<code>", methods=["GET", "POST"])
@csrf.exempt
def kiosk(code: str):
    """The questionnaire on a shared tablet: resets itself after "Tack"."""
    round_ = round_by_code(code)  # cached per worker: see services/respondent.py
    if round_ is None or round_.mode == RoundMode.single_use.value:
        abort(404)
    return _questionnaire(
        round_,
        kiosk=True,
        action=url_for(".kiosk", code=code),
        thanks=url_for(".kiosk_thanks", code=code),
    )


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
    return render_template("questionnaire/thanks.html", kiosk=False, again_url=None)


@bp.route("/k/<code>/tack")
def kiosk_thanks(code: str):
    """Kiosk "Tack": back to a fresh questionnaire after 10 seconds or a tap."""
    if round_by_code(code) is None:
        abort(404)
    return render_template(
        "questionnaire/thanks.html",
        kiosk=True,
        again_url=url_for(".kiosk", code=code),
        reset_seconds=KIOSK_RESET_SECONDS,
    )


def _questionnaire(
    round_: Round, *, kiosk: bool, action: str, thanks: str, token: str | None = None
):
    if not accepts_answers(round_):
        return error_page(403, CLOSED_TEXT, title=CLOSED_TITLE)
    instrument_ = instrument()
    qn = instrument_.questionnaire(round_.questionnaire_key)
    context = {
        "qn": qn,
        "instrument": instrument_,
        "round": round_,
        "kiosk": kiosk,
        "action": action,
        "questions": qn.questions_in(round_.year),
        "gender_labels": GENDER_LABELS,
    }
    if request.method == "GET":
        return _first_step(round_, instrument_, context).replace(
            _TOKEN_PLACEHOLDER, new_form_token(round_.id)
        )

    idempotency_key = read_form_token(request.form.get("csrf_token"), round_.id)
    if idempotency_key is None:
        return error_page(
            400,
            "Formuläret har gått ut eller är ogiltigt. Ladda om sidan och "
            "svara igen. Ingenting har sparats.",
        )
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
        return error_page(
            400, "Svaren kunde inte tas emot: " + exc.errors[0][1] + " Ingenting har sparats."
        )
    if _needs_conditional_step(qn, round_.year, posted):
        return render_template(
            "questionnaire/form.html",
            intervention=_intervention(round_),
            step=2,
            values=posted.answers,
            gender=posted.gender,
            form_token=request.form["csrf_token"],
            **context,
        )
    outcome = submit(
        db.session(), round_=round_, clean=clean, idempotency_key=idempotency_key, token=token
    )
    if outcome in (Outcome.stored, Outcome.duplicate):
        return redirect(thanks, code=303)
    if outcome is Outcome.token_used:
        return error_page(410)
    return error_page(403, CLOSED_TEXT, title=CLOSED_TITLE)


# The first step of a round's form is the same for everyone but its token, so it is
# rendered once per worker (while the instrument stays the same) and the token is put in.
_TOKEN_PLACEHOLDER = "__FORM_TOKEN__"  # noqa: S105 - a placeholder, not a secret
_FORM_CACHE: dict[tuple, tuple[object, str]] = {}


def _first_step(round_: Round, instrument, context: dict) -> str:
    key = (round_.id, round_.year, context["kiosk"], context["action"])
    cached = _FORM_CACHE.get(key)
    if cached is not None and cached[0] is instrument:
        return cached[1]
    html = render_template(
        "questionnaire/form.html",
        intervention=_intervention(round_),
        step=1,
        values={},
        gender="",
        form_token=_TOKEN_PLACEHOLDER,
        **context,
    )
    if len(_FORM_CACHE) > 500:
        _FORM_CACHE.clear()
    _FORM_CACHE[key] = (instrument, html)
    return html


def _intervention(round_: Round) -> Intervention | None:
    """The round's intervention, looked up only when a form is actually rendered."""
    if round_.intervention_id is None:
        return None
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
