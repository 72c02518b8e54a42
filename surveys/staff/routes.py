"""Every URL of the staff pages.

/personal                         the interventions and rounds the user may manage
/personal/omgang/ny               start a round (POST)
/personal/omgang/<id>             a round: links, QR, kiosk, overview
/personal/omgang/<id>/<action>    open / close (POST)
/personal/omgang/<id>/lankar.csv  N single-use links for mail merge (POST)
/personal/omgang/<id>/papper      type in a paper questionnaire
/personal/omgang/<id>/qr.<fmt>    the open link as QR code (svg, png)
/personal/omgang/<id>/affisch     printable A4 poster "Svara på enkäten"
/personal/omgang/<id>/lappar      N single-use links as printable slips (POST)
/personal/omgang/<id>/skicka      "Skicka länkar" by e-mail
"""

from __future__ import annotations

import io
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
from flask_login import current_user, login_required
from sqlalchemy import func
from sqlmodel import select

from surveys import clock, db
from surveys.auth import roles_required
from surveys.models import Intervention, LinkToken, MailBatch, ResponseCount, Role, Round, new_id
from surveys.services import rounds as round_ops
from surveys.services.audit import record
from surveys.services.catalogue import instrument_from_db
from surveys.services.files import excel_csv
from surveys.services.reporting import min_cell
from surveys.services.submissions import Outcome, submit
from surveys.services.tables import parse_int
from surveys.services.validation import GENDER_LABELS, InvalidSubmission, clean_submission

bp = Blueprint("staff", __name__, url_prefix="/personal")


def _public(path: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def _visible_interventions() -> list[Intervention]:
    session = db.session()
    rows = session.exec(select(Intervention).order_by(Intervention.name)).all()
    return [i for i in rows if current_user.can_manage(i.id)]


def _round_or_403(round_id: str) -> Round:
    round_ = db.session().get(Round, round_id)
    if round_ is None:
        abort(404)
    if not current_user.can_manage(round_.intervention_id):
        abort(403)
    return round_


@bp.route("")
@login_required
def home():
    """Rounds of the interventions the user manages, with answered / expected."""
    if current_user.role == Role.reader.value:
        return redirect(url_for("reports.latest"))
    session = db.session()
    interventions = _visible_interventions()
    ids = [i.id for i in interventions]
    query = select(Round).order_by(Round.year.desc(), Round.created_on.desc())
    if not current_user.is_admin:
        query = query.where(Round.intervention_id.in_(ids))
    rounds = session.exec(query).all()
    counts = _answered(session, [r.id for r in rounds])
    instrument = instrument_from_db(session)
    names = {i.id: i.name for i in session.exec(select(Intervention)).all()}
    return render_template(
        "staff/home.html",
        rounds=rounds,
        counts=counts,
        interventions=interventions,
        questionnaires=instrument.questionnaires,
        names=names,
        year=clock.today().year,
        modes=round_ops.MODE_LABELS,
        states=round_ops.STATE_LABELS,
    )


def _answered(session, round_ids: list[str]) -> dict[str, int]:
    """Questionnaires received per round, from the weekly counters (never from the answers)."""
    if not round_ids:
        return {}
    rows = session.exec(
        select(ResponseCount.round_id, func.sum(ResponseCount.count))
        .where(ResponseCount.round_id.in_(round_ids))
        .group_by(ResponseCount.round_id)
    ).all()
    return {round_id: int(total) for round_id, total in rows}


@bp.route("/omgang/ny", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def create_round():
    """Start a round for one of the user's interventions."""
    session = db.session()
    instrument = instrument_from_db(session)
    form = request.form
    intervention_id = form.get("insats") or None
    if not current_user.can_manage(intervention_id):
        abort(403)
    errors = []
    questionnaire = form.get("questionnaire", "")
    if questionnaire not in instrument.questionnaire_keys:
        errors.append("Välj en enkät.")
    year = parse_int(form.get("year", ""), low=2000, high=2100)
    if year is None:
        errors.append("Ange ett år, t.ex. 2025.")
    expected_text = form.get("expected", "").strip()
    expected = parse_int(expected_text, low=0, high=100_000) if expected_text else None
    if expected_text and expected is None:
        errors.append("Förväntat antal svarande ska vara ett heltal.")
    mode = form.get("mode", "")
    if mode not in round_ops.MODE_LABELS:
        errors.append("Välj hur enkäten ska besvaras.")
    if errors:
        for error in errors:
            flash(error, "error")
        return redirect(url_for(".home"))
    round_ = round_ops.create_round(
        session,
        questionnaire=questionnaire,
        year=year,
        intervention_id=intervention_id,
        mode=mode,
        expected=expected,
    )
    round_ops.open_round(session, round_)
    record(
        session,
        user_email=current_user.email,
        action="omgång.skapa",
        detail=f"{round_.id} {questionnaire} {year}",
    )
    session.commit()
    flash("Mätomgången är startad.")
    return redirect(url_for(".round_page", round_id=round_.id))


@bp.route("/omgang/<round_id>")
@roles_required(Role.admin, Role.staff)
def round_page(round_id: str):
    """A round: its links, QR code, kiosk button and response overview."""
    session = db.session()
    round_ = _round_or_403(round_id)
    instrument = instrument_from_db(session)
    answered = _answered(session, [round_.id]).get(round_.id, 0)
    weeks = _per_week(session, round_.id)
    tokens = session.exec(
        select(func.count()).select_from(LinkToken).where(LinkToken.round_id == round_.id)
    ).one()
    used = session.exec(
        select(func.count())
        .select_from(LinkToken)
        .where(LinkToken.round_id == round_.id, LinkToken.used.is_(True))
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
        weeks=weeks,
        tokens=tokens,
        used=used,
        mailed=mailed,
        intervention=intervention,
        open_url=_public(url_for("questionnaire.open_link", code=round_.code)),
        modes=round_ops.MODE_LABELS,
        states=round_ops.STATE_LABELS,
        accepts=round_ops.accepts_answers(round_),
    )


def _per_week(session, round_id: str) -> list[tuple[str, int]]:
    """Questionnaires received per ISO week ("2026 v. 07"), from the counters."""
    rows = session.exec(
        select(ResponseCount.week, ResponseCount.count).where(ResponseCount.round_id == round_id)
    ).all()
    return sorted((week.replace("-W", " v. "), count) for week, count in rows)


@bp.route("/omgang/<round_id>/<any(oppna,stang):action>", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def change_state(round_id: str, action: str):
    """Open or close a round; invalid moves get a Swedish message."""
    session = db.session()
    round_ = _round_or_403(round_id)
    try:
        if action == "oppna":
            round_ops.open_round(session, round_)
        else:
            round_ops.close_round(session, round_)
    except round_ops.RoundStateError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".round_page", round_id=round_id))
    record(session, user_email=current_user.email, action=f"omgång.{action}", detail=round_id)
    session.commit()
    flash("Mätomgången är " + ("öppnad." if action == "oppna" else "stängd."))
    return redirect(url_for(".round_page", round_id=round_id))


def _new_links(round_id: str, *, maximum: int, action: str, what: str) -> list[str] | None:
    """Create the requested number of single-use links (form field ``count``), audited."""
    session = db.session()
    round_ = _round_or_403(round_id)
    count = parse_int(request.form.get("count", ""), low=1, high=maximum)
    if count is None:
        flash(f"Ange hur många {what} (1–{maximum}).", "error")
        return None
    tokens = round_ops.create_tokens(session, round_, count=count)
    record(session, user_email=current_user.email, action=action, detail=f"{round_id} {count}")
    session.commit()
    return [_public(url_for("questionnaire.single_use", token=t)) for t in tokens]


@bp.route("/omgang/<round_id>/lankar.csv", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def links_csv(round_id: str):
    """N single-use links as CSV for mail merge or printed slips."""
    links = _new_links(round_id, maximum=2000, action="länkar.skapa", what="länkar")
    if links is None:
        return redirect(url_for(".round_page", round_id=round_id))
    return Response(
        excel_csv(["nr", "lank"], enumerate(links, start=1)),  # Swedish Excel: ';' and BOM
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=engangslankar.csv"},
    )


@bp.route("/omgang/<round_id>/papper", methods=["GET", "POST"])
@roles_required(Role.admin, Role.staff)
def paper(round_id: str):
    """Type in a paper questionnaire; same validation as the questionnaire, anonymous."""
    session = db.session()
    round_ = _round_or_403(round_id)
    instrument = instrument_from_db(session)
    qn = instrument.questionnaire(round_.questionnaire_key)
    errors: dict[str, str] = {}
    values = {k: v for k, v in request.form.items() if k.startswith("q")}
    if request.method == "POST":
        answers = {}
        for question in qn.questions_in(round_.year):
            answers[question.number] = request.form.get(f"q{question.number}", "")
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
            # The audit entry is committed by submit() together with the questionnaire.
            record(
                session,
                user_email=current_user.email,
                action="pappersenkät.registrera",
                detail=round_id,
            )
            outcome = submit(
                session,
                round_=round_,
                clean=clean,
                idempotency_key=new_id(),
                release_at=min_cell(session, current_app.config["MIN_CELL"]),
            )
            if outcome is Outcome.stored:
                flash("Pappersenkäten är registrerad. Du kan skriva in nästa.")
                return redirect(url_for(".paper", round_id=round_id))
            errors = {"": "Omgången tar inte emot svar just nu. Ingenting har sparats."}
    return render_template(
        "staff/paper.html",
        round=round_,
        qn=qn,
        instrument=instrument,
        questions=qn.questions_in(round_.year),
        errors=errors,
        values=values,
        gender_labels=GENDER_LABELS,
    ), (400 if errors else 200)


def _qr(data: str, fmt: str, *, scale: int = 8) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind=fmt, scale=scale, border=2)
    return buffer.getvalue()


def _qr_data_uri(data: str) -> str:
    import base64

    return "data:image/svg+xml;base64," + base64.b64encode(_qr(data, "svg")).decode("ascii")


@bp.route("/omgang/<round_id>/qr.<any(svg,png):fmt>")
@roles_required(Role.admin, Role.staff)
def qr_code(round_id: str, fmt: str):
    """The open link as a QR code (SVG or PNG)."""
    round_ = _round_or_403(round_id)
    if round_.mode == "single_use":
        abort(404)
    url = _public(url_for("questionnaire.open_link", code=round_.code))
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return Response(
        _qr(url, fmt),
        mimetype=mime,
        headers={"Content-Disposition": f"attachment; filename=enkat-qr.{fmt}"},
    )


@bp.route("/omgang/<round_id>/affisch")
@roles_required(Role.admin, Role.staff)
def poster(round_id: str):
    """A printable A4 poster "Svara på enkäten" with the QR code and the link."""
    session = db.session()
    round_ = _round_or_403(round_id)
    if round_.mode == "single_use":
        abort(404)
    url = _public(url_for("questionnaire.open_link", code=round_.code))
    qn = instrument_from_db(session).questionnaire(round_.questionnaire_key)
    return render_template("staff/poster.html", qn=qn, url=url, qr=_qr_data_uri(url))


@bp.route("/omgang/<round_id>/lappar", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def slips(round_id: str):
    """N single-use links as printable slips (link and QR code on each)."""
    links = _new_links(round_id, maximum=200, action="lappar.skapa", what="lappar")
    if links is None:
        return redirect(url_for(".round_page", round_id=round_id))
    round_ = db.session().get(Round, round_id)
    qn = instrument_from_db(db.session()).questionnaire(round_.questionnaire_key)
    return render_template(
        "staff/slips.html", qn=qn, slips=[(link, _qr_data_uri(link)) for link in links]
    )


@bp.route("/omgang/<round_id>/skicka", methods=["GET", "POST"])
@roles_required(Role.admin, Role.staff)
def send_links(round_id: str):
    """ "Skicka länkar": mail each pasted address its own single-use link; keep no address."""
    from surveys.services.mail import MAX_ADDRESSES, parse_addresses
    from surveys.services.mail import send_links as deliver

    session = db.session()
    round_ = _round_or_403(round_id)
    qn = instrument_from_db(session).questionnaire(round_.questionnaire_key)
    if request.method == "GET":
        return render_template("staff/send.html", round=round_, qn=qn, invalid=[], text="")
    text = request.form.get("addresses", "")
    valid, invalid = parse_addresses(text)
    problem = None
    if invalid:
        problem = "De här adresserna är inte giltiga. Rätta dem; inget har skickats ännu."
    elif not valid:
        problem = "Klistra in minst en e-postadress."
    elif len(valid) > MAX_ADDRESSES:
        problem = f"Högst {MAX_ADDRESSES} adresser åt gången."
    if problem:
        flash(problem, "error")
        return render_template(
            "staff/send.html", round=round_, qn=qn, invalid=invalid, text=text
        ), 400
    tokens = iter(round_ops.create_tokens(session, round_, count=len(valid)))

    def make_link() -> str:
        return _public(url_for("questionnaire.single_use", token=next(tokens)))

    try:
        sent = deliver(
            current_app.config, addresses=valid, make_link=make_link, questionnaire=qn.name
        )
    except (OSError, smtplib.SMTPException):
        session.rollback()
        flash(
            "Det gick inte att skicka e-post just nu. Inga länkar har sparats; försök igen senare.",
            "error",
        )
        return render_template("staff/send.html", round=round_, qn=qn, invalid=[], text=""), 503
    session.add(MailBatch(round_id=round_.id, sent_on=clock.today(), count=sent))
    record(
        session,
        user_email=current_user.email,
        action="länkar.skicka",
        detail=f"{round_id} {sent} st",
    )
    session.commit()
    flash(f"{sent} e-postmeddelanden med engångslänkar är skickade. Adresserna sparas inte.")
    return redirect(url_for(".round_page", round_id=round_id))
