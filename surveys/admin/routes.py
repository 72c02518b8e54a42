"""Every URL of the administration.

/admin                              overview: users, interventions, settings, uploads
/admin/anvandare (POST)             create a user (default role läsare)
/admin/anvandare/<id>               edit name, role, insatser (GET/POST)
/admin/anvandare/<id>/losenord      set a new password (POST; ends the user's sessions)
/admin/anvandare/<id>/<aktivera|inaktivera>  reactivate / deactivate (POST)
/admin/insatser (POST)              create an intervention
/admin/insatser/<id> (POST)         rename an intervention
/admin/grans (POST)                 set the suppression threshold
/admin/forbund (POST)               set "Förbundets namn"
/admin/instrument                   read-only view of the instrument
/admin/logg                         audit log (Swedish, Stockholm time)

Views validate with Flask-WTF forms and call services; the request commits once.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import col, select

from surveys import db
from surveys.admin.forms import (
    ActiveForm,
    EditUserForm,
    ForbundForm,
    InterventionForm,
    PasswordForm,
    ThresholdForm,
    UserForm,
)
from surveys.auth import roles_required, web_actor
from surveys.models import Intervention, Role, User, UserIntervention
from surveys.names import InvalidName, by_name, sort_key
from surveys.services import audit, settings, users
from surveys.services.catalogue import instrument_from_db
from surveys.services.rounds import create_insats, rename_insats

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _interventions() -> list[Intervention]:
    """Every insats, in Swedish alphabetical order."""
    return by_name(db.session().exec(select(Intervention)).all(), lambda i: i.name)


def _user_or_404(user_id: str) -> User:
    user = db.session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _flash_errors(form) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(error, "error")


@bp.route("")
@roles_required(Role.admin)
def home():
    """Users, interventions, settings and the uploads."""
    session = db.session()
    interventions = _interventions()
    names = {i.id: i.name for i in interventions}
    user_interventions: dict[str, list[str]] = {}
    links = select(UserIntervention.user_id, Intervention.name).join(
        Intervention, col(Intervention.id) == col(UserIntervention.intervention_id)
    )
    for user_id, name in session.exec(links).all():
        user_interventions.setdefault(user_id, []).append(name)
    for listed in user_interventions.values():
        listed.sort(key=sort_key)  # as the insatser are listed
    user_form = UserForm()
    user_form.insatser.choices = list(names.items())
    threshold = ThresholdForm(min_cell=settings.threshold(session))
    return render_template(
        "admin/home.html",
        users=session.exec(select(User).order_by(User.email)).all(),
        interventions=interventions,
        user_interventions=user_interventions,
        role_labels=users.ROLE_LABELS,
        user_form=user_form,
        intervention_form=InterventionForm(formdata=None),
        threshold_form=threshold,
        forbund_form=ForbundForm(forbund_name=settings.forbund_name(session)),
    )


@bp.route("/anvandare", methods=["POST"])
@roles_required(Role.admin)
def create_user():
    """Create a user with a role (default läsare) and, for staff, interventions."""
    session = db.session()
    form = UserForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for(".home"))
    try:
        user = users.add_user(
            session,
            web_actor(),
            email=form.email.data or "",  # required by the form: never empty here
            password=form.password.data or "",
            name=form.name.data or "",
            role=form.role.data,
            intervention_ids=form.insatser.data or [],
        )
    except users.UserError as exc:
        for error in exc.errors:
            flash(error, "error")
        return redirect(url_for(".home"))
    role = users.ROLE_LABELS[user.role]
    flash(f"Användaren {user.email} är skapad med rollen {role.lower()}.")
    return redirect(url_for(".home"))


@bp.route("/anvandare/<user_id>", methods=["GET", "POST"])
@roles_required(Role.admin)
def edit_user(user_id: str):
    """Edit a user's name, role and insatser; deactivate or set a password from here."""
    session = db.session()
    user = _user_or_404(user_id)
    form = EditUserForm(obj=user if request.method == "GET" else None)
    form.insatser.choices = [(i.id, i.name) for i in _interventions()]
    if request.method == "GET":
        form.insatser.data = users.interventions_of(session, user)
    elif form.validate_on_submit():
        try:
            users.change_user(
                session,
                web_actor(),
                user,
                name=form.name.data or "",
                role=form.role.data,
                intervention_ids=form.insatser.data or [],
                acting_user_id=current_user.id,
            )
        except users.UserError as exc:
            for error in exc.errors:
                flash(error, "error")
        else:
            flash(f"Användaren {user.email} är ändrad.")
            return redirect(url_for(".edit_user", user_id=user.id))
    else:
        _flash_errors(form)
    return render_template(
        "admin/user.html",
        user=user,
        form=form,
        password_form=PasswordForm(formdata=None),
        active_form=ActiveForm(formdata=None),
        role_labels=users.ROLE_LABELS,
    )


@bp.route("/anvandare/<user_id>/losenord", methods=["POST"])
@roles_required(Role.admin)
def set_password(user_id: str):
    """A new password for a user; their existing sessions end."""
    session = db.session()
    user = _user_or_404(user_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for(".edit_user", user_id=user.id))
    try:
        users.new_password(session, web_actor(), user, form.password.data or "")
    except users.UserError as exc:
        for error in exc.errors:
            flash(error, "error")
        return redirect(url_for(".edit_user", user_id=user.id))
    flash(f"{user.email} har fått ett nytt lösenord. Tidigare inloggningar är avslutade.")
    return redirect(url_for(".edit_user", user_id=user.id))


@bp.route("/anvandare/<user_id>/<any(aktivera,inaktivera):action>", methods=["POST"])
@roles_required(Role.admin)
def set_active(user_id: str, action: str):
    """Deactivate (signs the user out everywhere) or reactivate an account."""
    session = db.session()
    user = _user_or_404(user_id)
    if not ActiveForm().validate_on_submit():
        abort(400)
    active = action == "aktivera"
    try:
        users.change_active(session, web_actor(), user, active)
    except users.UserError as exc:
        for error in exc.errors:
            flash(error, "error")
        return redirect(url_for(".edit_user", user_id=user.id))
    flash(f"{user.email} är {'aktiverad' if active else 'inaktiverad och utloggad'}.")
    return redirect(url_for(".edit_user", user_id=user.id))


@bp.route("/insatser", methods=["POST"])
@roles_required(Role.admin)
def create_intervention():
    """Create an intervention (insats)."""
    session = db.session()
    form = InterventionForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for(".home"))
    try:
        name = create_insats(session, web_actor(), form.name.data or "").name
    except InvalidName as exc:
        flash(str(exc), "error")
        return redirect(url_for(".home"))
    flash(f"Insatsen {name} är skapad.")
    return redirect(url_for(".home"))


@bp.route("/insatser/<intervention_id>", methods=["POST"])
@roles_required(Role.admin)
def rename(intervention_id: str):
    """Rename an intervention; rounds, users and reports follow (they refer to its id)."""
    session = db.session()
    intervention = session.get(Intervention, intervention_id)
    if intervention is None:
        abort(404)
    form = InterventionForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for(".home"))
    try:
        rename_insats(session, web_actor(), intervention, form.name.data or "")
    except InvalidName as exc:
        flash(str(exc), "error")
        return redirect(url_for(".home"))
    flash(f"Insatsen heter nu {intervention.name}.")
    return redirect(url_for(".home"))


@bp.route("/grans", methods=["POST"])
@roles_required(Role.admin)
def set_threshold():
    """Set the suppression threshold (minimum number of answers shown)."""
    session = db.session()
    form = ThresholdForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for(".home"))
    value = form.min_cell.data if form.min_cell.data is not None else 0
    try:
        settings.change_threshold(session, web_actor(), value)
    except settings.SettingError as exc:  # the form's range is the service's: a safeguard
        flash(str(exc), "error")
        return redirect(url_for(".home"))
    flash(f"Resultat med färre än {value} svar visas inte.")
    return redirect(url_for(".home"))


@bp.route("/forbund", methods=["POST"])
@roles_required(Role.admin)
def set_forbund():
    """Set "Förbundets namn" (mail sender and text, report heading)."""
    session = db.session()
    form = ForbundForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for(".home"))
    try:
        name = settings.change_forbund_name(session, web_actor(), form.forbund_name.data or "")
    except settings.SettingError as exc:  # the form refuses the same first: a safeguard
        flash(str(exc), "error")
        return redirect(url_for(".home"))
    flash(f"Förbundets namn är {name}.")
    return redirect(url_for(".home"))


@bp.route("/instrument")
@roles_required(Role.admin)
def instrument():
    """The loaded instrument: questions per questionnaire and indicator (read-only)."""
    return render_template("admin/instrument.html", instrument=instrument_from_db(db.session()))


@bp.route("/logg")
@roles_required(Role.admin)
def audit_log():
    """The latest administrative actions, in Swedish and Stockholm time."""
    return render_template("admin/log.html", entries=audit.latest(db.session()))
