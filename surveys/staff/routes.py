"""Every URL of the staff pages.

/personal                                 the interventions and rounds the user may manage
/personal/omgang/ny                       start a round (POST; duplicates ask to confirm)
/personal/omgang/<id>                     a round: links, QR, kiosk enrolment, overview
/personal/omgang/<id>/<action>            open / close (POST; Stäng asks to confirm)
/personal/omgang/<id>/ta-bort             remove an empty round (POST, confirmed)
/personal/omgang/<id>/kiosk/<action>      new / revoke the tablets' enrolment link (POST)
/personal/omgang/<id>/lankar.csv          N single-use links for mail merge (POST)
/personal/omgang/<id>/papper              type in a paper questionnaire
/personal/omgang/<id>/qr.<fmt>            the open link as QR code (svg, png)
/personal/omgang/<id>/affisch             printable A4 poster "Svara på enkäten"
/personal/omgang/<id>/lappar              N single-use links as printable slips (POST)
/personal/omgang/<id>/skicka              "Skicka länkar" by e-mail: preview, then send
/personal/omgang/<id>/surfplatta          the tablets' idle time, a full tablet seen (POST)
"""

from __future__ import annotations

import csv
import io
import secrets
import smtplib

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_login import current_user, login_required
from sqlalchemy import func
from sqlmodel import col, select

from surveys import clock, db
from surveys.auth import roles_required, web_actor
from surveys.links import public
from surveys.models import (
    Intervention,
    LinkToken,
    MailBatch,
    ResponseCount,
    Role,
    Round,
    RoundMode,
    RoundState,
)
from surveys.names import by_name
from surveys.services import kiosk as kiosk_ops
from surveys.services import mail
from surveys.services import rounds as round_ops
from surveys.services.actor import Refused
from surveys.services.catalogue import instrument_from_db
from surveys.services.round_access import accepts_answers
from surveys.services.settings import forbund_name
from surveys.services.submissions import UNAVAILABLE_TEXT, Outcome
from surveys.services.validation import GENDER_LABELS, InvalidSubmission, clean_submission
from surveys.staff.common import (
    SINGLE_USE,
    closed_refusal,
    new_links,
    qr,
    qr_data_uri,
    refused,
    round_or_403,
)
from surveys.staff.forms import AddressesForm, ConfirmForm, PaperForm, RoundForm

bp = Blueprint("staff", __name__, url_prefix="/personal")
KIOSK = RoundMode.kiosk.value
NEW_KIOSK_LINK = "new_kiosk_link"  # session key: the link just made, shown once


def _visible_interventions() -> list[Intervention]:
    session = db.session()
    rows = session.exec(select(Intervention)).all()
    return by_name((i for i in rows if current_user.can_manage(i.id)), lambda i: i.name)


_actor = web_actor


def _label(round_: Round) -> str:
    """The round as a person names it (audit log, confirmations)."""
    session = db.session()
    qn = instrument_from_db(session).questionnaire(round_.questionnaire_key)
    intervention = (
        session.get(Intervention, round_.intervention_id) if round_.intervention_id else None
    )
    return round_ops.round_label(round_, qn.name, intervention.name if intervention else None)


def _round_form() -> RoundForm:
    """The start-a-round form with this user's questionnaires, insatser and modes."""
    instrument = instrument_from_db(db.session())
    form = RoundForm()
    allowed = round_ops.creatable_questionnaires(instrument.questionnaire_keys, _actor())
    form.questionnaire.choices = [
        (qn.key, qn.name) for qn in instrument.questionnaires if qn.key in allowed
    ]
    choices = [(i.id, i.name) for i in _visible_interventions()]
    if current_user.is_admin:
        choices.insert(0, ("", "Hela förbundet (styrelse, chefsgrupp)"))
    form.insats.choices = choices
    form.mode.choices = list(round_ops.MODE_LABELS.items())
    if form.year.data is None and request.method == "GET":
        form.year.data = clock.today().year
    return form


@bp.route("")
@login_required
def home():
    """Rounds of the interventions the user manages, with answered / expected."""
    if current_user.role == Role.reader.value:
        return redirect(url_for("reports.latest"))
    return _home(_round_form())


def _home(form: RoundForm, *, duplicate: Round | None = None, status: int = 200):
    session = db.session()
    ids = [i.id for i in _visible_interventions()]
    query = round_ops.listed(select(Round), col(Round.year).desc(), col(Round.created_on).desc())
    if not current_user.is_admin:
        query = query.where(col(Round.intervention_id).in_(ids))
    rounds = session.exec(query).all()
    instrument = instrument_from_db(session)
    return render_template(
        "staff/home.html",
        form=form,
        rounds=rounds,
        counts=_answered(session, [r.id for r in rounds]),
        questionnaire_names={qn.key: qn.name for qn in instrument.questionnaires},
        names={i.id: i.name for i in session.exec(select(Intervention)).all()},
        modes=round_ops.MODE_LABELS,
        states=round_ops.STATE_LABELS,
        duplicate=duplicate,
    ), status


def _answered(session, round_ids: list[str]) -> dict[str, int]:
    """Questionnaires received per round, from the weekly counters (never from the answers)."""
    if not round_ids:
        return {}
    rows = session.exec(
        select(ResponseCount.round_id, func.sum(ResponseCount.count))
        .where(col(ResponseCount.round_id).in_(round_ids))
        .group_by(ResponseCount.round_id)
    ).all()
    return {round_id: int(total) for round_id, total in rows}


@bp.route("/omgang/ny", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def create_round():
    """Start a round (rules and permission in the rounds service: another's insats is its
    Refused, the Swedish 403 page); a duplicate asks to confirm."""
    session = db.session()
    form = _round_form()
    intervention_id = form.insats.data or None  # the service refuses another's insats
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return _home(form, status=400)
    try:
        round_ = round_ops.start_round(
            session,
            actor=_actor(),
            questionnaire_keys=instrument_from_db(session).questionnaire_keys,
            questionnaire=form.questionnaire.data,
            year=form.year.data,
            intervention_id=intervention_id,
            mode=form.mode.data,
            expected=form.expected.data,
            confirm_duplicate=form.confirm.data,
        )
    except round_ops.RoundRuleError as exc:
        for error in exc.errors:
            flash(error, "error")
        return _home(form, status=400)
    except round_ops.DuplicateRound as exc:
        return _home(form, duplicate=exc.existing, status=409)
    flash("Mätomgången är startad.")
    return redirect(url_for(".round_page", round_id=round_.id))


@bp.route("/omgang/<round_id>")
@roles_required(Role.admin, Role.staff)
def round_page(round_id: str):
    """A round: its links, QR code, kiosk enrolment and response overview."""
    round_ = round_or_403(round_id)
    return _round_page(round_, kiosk_link=_new_kiosk_link(round_))


def _round_page(round_: Round, *, kiosk_link: str | None = None):
    session = db.session()
    instrument = instrument_from_db(session)
    answered, used = round_ops.usage(session, round_.id)
    tokens = session.exec(
        select(func.count()).select_from(LinkToken).where(LinkToken.round_id == round_.id)
    ).one()
    mailed = session.exec(
        select(func.coalesce(func.sum(MailBatch.count), 0)).where(MailBatch.round_id == round_.id)
    ).one()
    intervention = (
        session.get(Intervention, round_.intervention_id) if round_.intervention_id else None
    )
    return render_template(
        "staff/round.html",
        round=round_,
        qn=instrument.questionnaire(round_.questionnaire_key),
        answered=answered,
        weeks=_per_week(session, round_.id),
        tokens=tokens,
        used=used,
        mailed=mailed,
        intervention=intervention,
        open_url=public(url_for("questionnaire.open_link", code=round_.code)),
        kiosk_link=kiosk_link,
        kiosk_qr=qr_data_uri(kiosk_link) if kiosk_link else None,
        has_kiosk_link=round_ops.has_kiosk_link(session, round_),
        modes=round_ops.MODE_LABELS,
        states=round_ops.STATE_LABELS,
        accepts=accepts_answers(round_),
        can_open=round_ops.can_open(round_),
        can_close=round_ops.can_close(round_),
        removable=(answered, used) == (0, 0),
        paper_allowed=round_ops.paper_entry_refusal(session, round_, admin=current_user.is_admin)
        is None,
        single_use=SINGLE_USE,
        kiosk=KIOSK,
        closed=round_.state == RoundState.closed.value,
        published=round_ops.year_is_published(session, round_.year),
        form=ConfirmForm(),
        # what the tablets use now (the round's own, else the setting) and the one range
        idle_seconds=kiosk_ops.idle_seconds(round_, current_app.config["KIOSK_IDLE_SECONDS"]),
        idle_range=(kiosk_ops.MIN_IDLE_SECONDS, kiosk_ops.MAX_IDLE_SECONDS),
    )


def _per_week(session, round_id: str) -> list[tuple[str, int]]:
    """Questionnaires received per ISO week ("2026 v. 07"), from the counters."""
    rows = session.exec(
        select(ResponseCount.week, ResponseCount.count).where(ResponseCount.round_id == round_id)
    ).all()
    return sorted((week.replace("-W", " v. "), count) for week, count in rows)


def _confirm_page(round_: Round, *, action_url: str, question: str, button: str):
    return render_template(
        "staff/confirm.html",
        round=round_,
        label=_label(round_),
        action_url=action_url,
        question=question,
        button=button,
        form=ConfirmForm(),
    )


@bp.route("/omgang/<round_id>/<any(oppna,stang):action>", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def change_state(round_id: str, action: str):
    """Open or close a round; Stäng asks to confirm; invalid moves get a Swedish message."""
    session = db.session()
    round_ = round_or_403(round_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if action == "stang" and not form.confirm.data and round_ops.can_close(round_):
        return _confirm_page(
            round_,
            action_url=url_for(".change_state", round_id=round_id, action="stang"),
            question="Vill du stänga mätomgången? Efter det kan ingen svara på enkäten.",
            button="Ja, stäng",
        )
    try:
        round_ops.change_state(session, _actor(), round_, action)
    except round_ops.RoundStateError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".round_page", round_id=round_id))
    flash("Mätomgången är " + ("öppnad." if action == "oppna" else "stängd."))
    return redirect(url_for(".round_page", round_id=round_id))


@bp.route("/omgang/<round_id>/ta-bort", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def remove_round(round_id: str):
    """Remove a mistaken empty round (no answers, no links used), after confirmation."""
    session = db.session()
    round_ = round_or_403(round_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if not form.confirm.data:
        return _confirm_page(
            round_,
            action_url=url_for(".remove_round", round_id=round_id),
            question="Vill du ta bort mätomgången? Den har inga svar och försvinner helt.",
            button="Ja, ta bort",
        )
    try:
        label = round_ops.remove_round(session, _actor(), round_)
    except round_ops.RoundStateError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".round_page", round_id=round_id))
    flash(f"Mätomgången {label} är borttagen.")
    return redirect(url_for(".home"))


@bp.route("/omgang/<round_id>/kiosk/<any(ny,aterkalla):action>", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def kiosk_link(round_id: str, action: str):
    """A new enrolment link for the round's tablets (shown once), or revoke it."""
    session = db.session()
    round_ = round_or_403(round_id)
    if round_.mode != KIOSK:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if action == "aterkalla":
        round_ops.withdraw_kiosk_link(session, _actor(), round_)
        flash("Kiosklänken är återkallad. Surfplattor som använde den visar inte enkäten längre.")
        return redirect(url_for(".round_page", round_id=round_id))
    try:
        token = round_ops.issue_kiosk_link(session, _actor(), round_)
    except Refused as exc:  # e.g. a closed round: the service's Swedish message
        return refused(round_, str(exc))
    # POST-redirect-GET: the link is shown once on the round page; reloading that page
    # makes no new link (and so never stops the one a tablet has just opened).
    flask_session[NEW_KIOSK_LINK] = {"round": round_.id, "token": token}
    return redirect(url_for(".round_page", round_id=round_id), code=303)


def _new_kiosk_link(round_: Round) -> str | None:
    """The link just made for this round (shown once, then forgotten), if still current."""
    made = flask_session.get(NEW_KIOSK_LINK)
    if not isinstance(made, dict) or made.get("round") != round_.id:
        return None
    flask_session.pop(NEW_KIOSK_LINK)
    token = made.get("token")
    if not isinstance(token, str) or round_ops.find_by_kiosk_token(db.session(), token) is None:
        return None
    return public(url_for("enrol.kiosk", token=token))


@bp.route("/omgang/<round_id>/lankar.csv", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def links_csv(round_id: str):
    """N single-use links as CSV (semicolons, BOM: Swedish Excel opens it in columns)."""
    round_ = round_or_403(round_id)
    links = new_links(round_, maximum=round_ops.MAX_TOKENS, action="länkar.skapa")
    if links is None:  # a Swedish message on the round page (the service's for a closed round)
        return redirect(url_for(".round_page", round_id=round_id), code=303)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["nr", "lank"])
    for i, link in enumerate(links, start=1):
        writer.writerow([i, link])
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=engangslankar.csv"},
    )


@bp.route("/omgang/<round_id>/papper", methods=["GET", "POST"])
@roles_required(Role.admin, Role.staff)
def paper(round_id: str):
    """Type in a paper questionnaire: same validation as the web form, stored once, audited."""
    session = db.session()
    round_ = round_or_403(round_id)
    refusal = round_ops.paper_entry_refusal(session, round_, admin=current_user.is_admin)
    if refusal is not None:
        flash(refusal, "error")
        return redirect(url_for(".round_page", round_id=round_id))
    instrument = instrument_from_db(session)
    qn = instrument.questionnaire(round_.questionnaire_key)
    form = PaperForm()
    errors: dict[str, str] = {}
    # Every field comes back after an error, Kön included.
    values = {k: v for k, v in request.form.items() if k.startswith("q") or k == "gender"}
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        answers = {
            q.number: request.form.get(f"q{q.number}", "") for q in qn.questions_in(round_.year)
        }
        try:
            clean = clean_submission(
                instrument,
                questionnaire=qn.key,
                year=round_.year,
                answers=answers,
                gender=request.form.get("gender"),
            )
        except InvalidSubmission as exc:
            errors = {field or "": message for field, message in exc.errors}
        else:
            if _blank_unconfirmed(answers):
                # As the web form asks "Vill du skicka ändå?": nothing stored yet.
                return _paper_page(form, round_, instrument, qn, {}, values, ask_empty=True)
            # Audited, the typist counted and stored in one transaction; nothing is kept
            # when the questionnaire is not stored (services/rounds.py register_paper).
            outcome = round_ops.register_paper(
                session,
                _actor(),
                round_,
                clean,
                form_key=form.form_key.data or "",
            )
            if outcome is Outcome.unavailable:  # rolled back: the form is shown again, filled in
                errors = {"": UNAVAILABLE_TEXT}
            elif outcome is not Outcome.stored:
                session.rollback()
                flash("Den här pappersenkäten är redan registrerad (den sparades en gång).")
                return redirect(url_for(".paper", round_id=round_id))
            else:
                flash("Pappersenkäten är registrerad. Du kan skriva in nästa.")
                return redirect(url_for(".paper", round_id=round_id))
    else:
        form.form_key.data = secrets.token_urlsafe(24)
    return _paper_page(form, round_, instrument, qn, errors, values)


def _blank_unconfirmed(answers: dict[int, str]) -> bool:
    """No question answered (Kön alone is no answer) and "Registrera ändå" not pressed."""
    blank = all(not str(value).strip() for value in answers.values())
    return blank and request.form.get("confirm_empty") != "1"


def _paper_page(form, round_, instrument, qn, errors, values, *, ask_empty: bool = False):
    return render_template(
        "staff/paper.html",
        form=form,
        round=round_,
        qn=qn,
        instrument=instrument,
        questions=qn.questions_in(round_.year),
        errors=errors,
        values=values,
        ask_empty=ask_empty,
        gender_labels=GENDER_LABELS,
    ), (400 if errors else 200)


@bp.route("/omgang/<round_id>/qr.<any(svg,png):fmt>")
@roles_required(Role.admin, Role.staff)
def qr_code(round_id: str, fmt: str):
    """The open link as a QR code (SVG or PNG)."""
    round_ = round_or_403(round_id)
    if round_.mode == SINGLE_USE:
        abort(404)
    if refusal := closed_refusal(round_):
        return refusal
    url = public(url_for("questionnaire.open_link", code=round_.code))
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return Response(
        qr(url, fmt),
        mimetype=mime,
        headers={"Content-Disposition": f"attachment; filename=enkat-qr.{fmt}"},
    )


@bp.route("/omgang/<round_id>/affisch")
@roles_required(Role.admin, Role.staff)
def poster(round_id: str):
    """A printable A4 poster "Svara på enkäten" with the QR code and the link."""
    round_ = round_or_403(round_id)
    if round_.mode == SINGLE_USE:
        abort(404)
    if refusal := closed_refusal(round_):
        return refusal
    url = public(url_for("questionnaire.open_link", code=round_.code))
    qn = instrument_from_db(db.session()).questionnaire(round_.questionnaire_key)
    return render_template("staff/poster.html", qn=qn, url=url, qr=qr_data_uri(url))


@bp.route("/omgang/<round_id>/lappar", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def slips(round_id: str):
    """N single-use links as printable slips (link and QR code on each)."""
    round_ = round_or_403(round_id)
    links = new_links(round_, maximum=200, action="lappar.skapa")
    if links is None:  # a Swedish message on the round page (the service's for a closed round)
        return redirect(url_for(".round_page", round_id=round_id), code=303)
    qn = instrument_from_db(db.session()).questionnaire(round_.questionnaire_key)
    return render_template(
        "staff/slips.html", qn=qn, slips=[(link, qr_data_uri(link)) for link in links]
    )


def _letter(round_: Round) -> mail.Letter:
    session = db.session()
    qn = instrument_from_db(session).questionnaire(round_.questionnaire_key)
    intervention = (
        session.get(Intervention, round_.intervention_id) if round_.intervention_id else None
    )
    return mail.Letter(
        forbund=forbund_name(session),
        questionnaire=qn.name,
        intervention=intervention.name if intervention else None,
    )


@bp.route("/omgang/<round_id>/skicka", methods=["GET", "POST"])
@roles_required(Role.admin, Role.staff)
def send_links(round_id: str):
    """ "Skicka länkar": paste addresses, see a preview, confirm; keep no address."""
    round_ = round_or_403(round_id)
    if refusal := closed_refusal(round_):
        return refusal
    form = AddressesForm()
    letter = _letter(round_)
    context = {
        "round": round_,
        "label": _label(round_),
        "form": form,
        "letter": letter,
        "to_folder": not current_app.config.get("MAIL_SERVER"),
    }
    if request.method == "GET":
        return render_template("staff/send.html", invalid=[], preview=None, **context)
    valid, invalid = mail.parse_addresses(form.addresses.data or "")
    problem = None
    if not form.validate_on_submit():
        problem = next(iter(form.errors.values()))[0] if form.errors else "Försök igen."
    elif invalid:
        problem = "De här adresserna är inte giltiga. Rätta dem; inget har skickats ännu."
    elif len(valid) > mail.MAX_ADDRESSES:
        problem = f"Högst {mail.MAX_ADDRESSES} adresser åt gången."
    if problem:
        flash(problem, "error")
        return render_template("staff/send.html", invalid=invalid, preview=None, **context), 400
    if form.step.data != "send":
        preview = letter.text(public(url_for("questionnaire.single_use", token="…")))  # noqa: S106 - a placeholder in the preview
        return render_template(
            "staff/send.html", invalid=[], preview=preview, count=len(valid), **context
        )
    return _send(round_, letter, valid)


def _send(round_: Round, letter: mail.Letter, addresses: list[str]):
    """Commit the links first, send outside any transaction, then record the outcome."""
    config = current_app.config
    if not config.get("MAIL_SERVER") and config["SURVEYS_ENV"] == "production":
        flash("E-post är inte inställd på servern (MAIL_SERVER). Inget har skickats.", "error")
        return redirect(url_for(".send_links", round_id=round_.id))
    session = db.session()
    label = _label(round_)
    # the links exist before any mail mentions them; no lock held while sending
    with db.own_transaction(session):
        tokens = round_ops.make_links(
            session,
            _actor(),
            round_,
            count=len(addresses),
            action="länkar.skapa",
            note=" för e-post",
        )
    items = [
        (address, public(url_for("questionnaire.single_use", token=token)))
        for address, token in zip(addresses, tokens, strict=True)
    ]
    try:
        result = mail.deliver(dict(config), items=items, letter=letter)
    except (OSError, smtplib.SMTPException, mail.MailNotConfigured):
        result = mail.Delivery(failed=items)
    failed = {address for address, _link in result.failed}
    failed_tokens = [t for t, a in zip(tokens, addresses, strict=True) if a in failed]
    # the outcome is recorded even when every address failed (the answer is then a 503)
    with db.own_transaction(session):
        revoked = round_ops.record_mail(
            session, _actor(), round_, sent=result.sent, failed_tokens=failed_tokens
        )
    return render_template(
        "staff/sent.html",
        round=round_,
        label=label,
        result=result,
        revoked=revoked,
        folder=config.get("MAIL_FOLDER"),
    ), (200 if result.sent or not result.failed else 503)


@bp.route("/omgang/<round_id>/surfplatta", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def kiosk_settings(round_id: str):
    """Staff set a round's idle time ("Är du kvar?") and acknowledge a full tablet."""
    session = db.session()
    round_ = round_or_403(round_id)
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
        return redirect(url_for(".round_page", round_id=round_id))
    flash("Inställningen för surfplattor är sparad.")
    return redirect(url_for(".round_page", round_id=round_id))
