"""Every URL of the administration.

/admin                       overview: users, interventions, threshold, uploads
/admin/anvandare (POST)      create a user
/admin/insatser (POST)       create an intervention
/admin/grans (POST)          set the suppression threshold
/admin/import/<kind> (POST)  upload history or national figures (all-or-nothing)
/admin/instrument            read-only view of the instrument
/admin/logg                  audit log
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from surveys import db
from surveys.auth import hash_password, roles_required
from surveys.models import AuditEntry, Intervention, Role, Setting, User, UserIntervention
from surveys.services.audit import record
from surveys.services.catalogue import instrument_from_db
from surveys.services.figures import import_history, import_national
from surveys.services.reporting import min_cell
from surveys.services.tables import FileError, parse_int

bp = Blueprint("admin", __name__, url_prefix="/admin")
MAX_UPLOAD = 2 * 1024 * 1024


@bp.route("")
@roles_required(Role.admin)
def home():
    """Users, interventions, the threshold and the uploads."""
    session = db.session()
    users = session.exec(select(User).order_by(User.email)).all()
    interventions = session.exec(select(Intervention).order_by(Intervention.name)).all()
    links = session.exec(select(UserIntervention)).all()
    names = {i.id: i.name for i in interventions}
    user_interventions: dict[str, list[str]] = {}
    for link in links:
        user_interventions.setdefault(link.user_id, []).append(names.get(link.intervention_id, ""))
    return render_template(
        "admin/home.html",
        users=users,
        interventions=interventions,
        user_interventions=user_interventions,
        roles=list(Role),
        min_cell=min_cell(session, current_app.config["MIN_CELL"]),
    )


@bp.route("/anvandare", methods=["POST"])
@roles_required(Role.admin)
def create_user():
    """Create a user with a role and (for staff) interventions."""
    session = db.session()
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    role = request.form.get("role", "")
    chosen = request.form.getlist("insats")
    errors = []
    if "@" not in email or len(email) > 254:
        errors.append("Ange en giltig e-postadress.")
    if len(password) < 10:
        errors.append("Lösenordet måste ha minst 10 tecken.")
    if role not in {r.value for r in Role}:
        errors.append("Välj en roll.")
    valid_ids = {i.id for i in session.exec(select(Intervention)).all()}
    if any(i not in valid_ids for i in chosen):
        errors.append("Okänd insats.")
    if role == Role.staff.value and not chosen:
        errors.append("Personal måste knytas till minst en insats.")
    if not errors:
        user = User(
            email=email,
            name=request.form.get("name", "").strip()[:200],
            password_hash=hash_password(password),
            role=role,
        )
        session.add(user)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            errors.append("Det finns redan en användare med den e-postadressen.")
        else:
            for intervention_id in chosen:
                session.add(UserIntervention(user_id=user.id, intervention_id=intervention_id))
            record(
                session,
                user_email=current_user.email,
                action="användare.skapa",
                detail=f"{email} {role}",
            )
            session.commit()
            flash(f"Användaren {email} är skapad.")
    for error in errors:
        flash(error, "error")
    return redirect(url_for(".home"))


@bp.route("/insatser", methods=["POST"])
@roles_required(Role.admin)
def create_intervention():
    """Create an intervention (insats)."""
    session = db.session()
    name = request.form.get("name", "").strip()
    if not 1 <= len(name) <= 200:
        flash("Ange insatsens namn (högst 200 tecken).", "error")
        return redirect(url_for(".home"))
    session.add(Intervention(name=name))
    try:
        record(session, user_email=current_user.email, action="insats.skapa", detail=name)
        session.commit()
        flash(f"Insatsen {name} är skapad.")
    except IntegrityError:
        session.rollback()
        flash("Det finns redan en insats med det namnet.", "error")
    return redirect(url_for(".home"))


@bp.route("/grans", methods=["POST"])
@roles_required(Role.admin)
def set_threshold():
    """Set the suppression threshold (minimum number of answers shown)."""
    session = db.session()
    value = request.form.get("min_cell", "").strip()
    if parse_int(value, low=1, high=100) is None:
        flash("Gränsen ska vara ett heltal mellan 1 och 100.", "error")
        return redirect(url_for(".home"))
    row = session.get(Setting, "min_cell") or Setting(key="min_cell", value=value)
    row.value = value
    session.add(row)
    record(session, user_email=current_user.email, action="gräns.ändra", detail=value)
    session.commit()
    flash(f"Resultat med färre än {value} svar visas inte.")
    return redirect(url_for(".home"))


@bp.route("/import/<any(historik,riket):kind>", methods=["POST"])
@roles_required(Role.admin)
def upload(kind: str):
    """Upload history or national figures with the same validation as the CLI."""
    session = db.session()
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        flash("Välj en fil.", "error")
        return redirect(url_for(".home"))
    data = upload_file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        flash("Filen är för stor (högst 2 MB).", "error")
        return redirect(url_for(".home"))
    importer = import_history if kind == "historik" else import_national
    try:
        count = importer(
            session,
            instrument_from_db(session),
            data=data,
            filename=upload_file.filename,
            by=current_user.email,
        )
    except FileError as exc:
        for error in exc.errors:
            flash(error, "error")
        flash("Ingenting har importerats.", "error")
        return redirect(url_for(".home"))
    record(session, user_email=current_user.email, action=f"import.{kind}", detail=str(count))
    session.commit()
    flash(f"{count} rader importerade.")
    return redirect(url_for(".home"))


@bp.route("/instrument")
@roles_required(Role.admin)
def instrument():
    """The loaded instrument: questions per questionnaire and indicator (read-only)."""
    return render_template("admin/instrument.html", instrument=instrument_from_db(db.session()))


@bp.route("/logg")
@roles_required(Role.admin)
def audit_log():
    """The latest administrative actions."""
    entries = db.session().exec(select(AuditEntry).order_by(AuditEntry.at.desc()).limit(500)).all()
    return render_template("admin/log.html", entries=entries)
