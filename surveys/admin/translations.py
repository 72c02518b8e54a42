"""The administrator's page for translations, and the staff's links per language (issue 22).

/admin/sprak                                  loaded languages: missing, stale, approval;
                                              template download and approval (POST, audited)
/admin/sprak/<code>/mall.<csv|xlsx>           the template with the current translation
/admin/sprak/las-in                           load a translation file (POST, audited)
/personal/omgang/<id>/sprak/<code>/qr.svg     the open link in that language as a QR code
/personal/omgang/<id>/sprak/<code>/affisch    the poster in that language's link
/personal/omgang/<id>/sprak/<code>/lappar     single-use links as slips, ?sprak= on each (POST)

The round page includes templates/staff/_languages.html (links, QR, poster, slips per
offered language and how many answered in each) through the ``round_languages`` global.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from surveys import db
from surveys.auth import roles_required, web_actor
from surveys.files.reading import FileError
from surveys.links import public
from surveys.models import Role, Round
from surveys.services import translations as tr
from surveys.services.catalogue import instrument_from_db
from surveys.staff import common as staff

bp = Blueprint("translations", __name__)


@bp.route("/admin/sprak")
@roles_required(Role.admin)
def overview():
    """Every loaded language, what is missing or stale, and its approval."""
    session = db.session()
    return render_template(
        "admin/languages.html",
        statuses=tr.all_statuses(session, instrument_from_db(session)),
        languages=sorted(tr.LANGUAGES.values(), key=lambda lang: lang.swedish),
    )


@bp.route("/admin/sprak/<code>/mall.<any(csv,xlsx):fmt>")
@roles_required(Role.admin)
def template(code: str, fmt: str):
    """The template (key,sv,text) for a language, with its current translation."""
    lang = tr.language(code)
    if lang is None:
        abort(404)
    session = db.session()
    rows = tr.template_rows(session, instrument_from_db(session), lang.code)
    mime = (
        "text/csv"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Response(
        tr.write_template(rows, fmt),
        mimetype=mime,
        headers={"Content-Disposition": f"attachment; filename=oversattning-{lang.code}.{fmt}"},
    )


@bp.route("/admin/sprak/las-in", methods=["POST"])
@roles_required(Role.admin)
def load():
    """Load a translation file (as ``surveys translations load``); all or nothing."""
    session = db.session()
    lang = tr.language(request.form.get("language"))
    upload = request.files.get("file")
    if lang is None or upload is None or not upload.filename:
        flash("Välj ett språk och en fil. Ingenting har lästs in.", "error")
        return redirect(url_for(".overview"))
    data = upload.read(tr.MAX_FILE + 1)  # never more in memory; the service refuses it
    try:
        report = tr.load_language(
            session,
            web_actor(),
            instrument_from_db(session),
            lang.code,
            data,
            filename=upload.filename,
        )
    except FileError as exc:
        session.rollback()
        for error in exc.errors:
            flash(error, "error")
        return redirect(url_for(".overview"))
    for line in report.lines(lang.code):
        flash(line)
    return redirect(url_for(".overview"))


@bp.route("/admin/sprak/<code>/godkann", methods=["POST"])
@roles_required(Role.admin)
def approve(code: str):
    """Approve a complete translation with a reference (e.g. "godkänd av NNS 2027-01-10")."""
    session = db.session()
    reference = request.form.get("reference", "")
    try:
        tr.approve_language(
            session, web_actor(), instrument_from_db(session), code, reference=reference
        )
    except tr.TranslationError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".overview"))
    flash(f"{tr.name_of(code)} är godkänd och erbjuds deltagarna.")
    return redirect(url_for(".overview"))


def _offered_language(round_: Round, code: str) -> tr.Language:
    """A language offered now for this round's (participants') questionnaire, else 404."""
    session = db.session()
    instrument = instrument_from_db(session)
    if not instrument.questionnaire(round_.questionnaire_key).participant:
        abort(404)
    lang = tr.offered(session, instrument).get(code)
    if lang is None or (round_.mode == staff.SINGLE_USE and request.method == "GET"):
        abort(404)
    return lang


def _open_url(round_: Round, lang: tr.Language) -> str:
    return public(url_for("questionnaire.open_link", code=round_.code)) + f"?sprak={lang.code}"


@bp.route("/personal/omgang/<round_id>/sprak/<code>/qr.svg")
@roles_required(Role.admin, Role.staff)
def qr_code(round_id: str, code: str):
    """The open link in a language as a QR code (SVG)."""
    round_ = staff.round_or_403(round_id)
    lang = _offered_language(round_, code)
    if refusal := staff.closed_refusal(round_):
        return refusal
    return Response(
        staff.qr(_open_url(round_, lang), "svg"),
        mimetype="image/svg+xml",
        headers={"Content-Disposition": f"attachment; filename=enkat-qr-{lang.code}.svg"},
    )


@bp.route("/personal/omgang/<round_id>/sprak/<code>/affisch")
@roles_required(Role.admin, Role.staff)
def poster(round_id: str, code: str):
    """The A4 poster with the link that opens the questionnaire in a language."""
    round_ = staff.round_or_403(round_id)
    lang = _offered_language(round_, code)
    if refusal := staff.closed_refusal(round_):
        return refusal
    url = _open_url(round_, lang)
    qn = instrument_from_db(db.session()).questionnaire(round_.questionnaire_key)
    return render_template(
        "staff/poster.html",
        qn=qn,
        url=url,
        qr=staff.qr_data_uri(url),
        poster_language=lang,
    )


@bp.route("/personal/omgang/<round_id>/sprak/<code>/lappar", methods=["POST"])
@roles_required(Role.admin, Role.staff)
def slips(round_id: str, code: str):
    """Single-use links as slips that open the questionnaire in a language."""
    round_ = staff.round_or_403(round_id)
    lang = _offered_language(round_, code)
    links = staff.new_links(round_, maximum=200, action="lappar.skapa")
    if links is None:  # a Swedish message on the round page (the service's for a closed round)
        return redirect(url_for("staff.round_page", round_id=round_id), code=303)
    links = [f"{link}?sprak={lang.code}" for link in links]
    qn = instrument_from_db(db.session()).questionnaire(round_.questionnaire_key)
    return render_template(
        "staff/slips.html",
        qn=qn,
        slips=[(link, staff.qr_data_uri(link)) for link in links],
        poster_language=lang,
    )


@bp.app_template_global()
def round_languages(round_: Round) -> dict:
    """For the round page: offered languages with their links, and answers per language."""
    session = db.session()
    instrument = instrument_from_db(session)
    participant = instrument.questionnaire(round_.questionnaire_key).participant
    offered = tr.offered(session, instrument).languages if participant else ()
    base = public(url_for("questionnaire.open_link", code=round_.code))
    return {
        "offered": [(lang, f"{base}?sprak={lang.code}") for lang in offered],
        "counts": tr.language_counts(session, round_.id),
    }
