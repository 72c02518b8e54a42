"""Every URL of sign-in: / (start page), /logga-in, /logga-ut."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, url_for
from flask_login import current_user, login_user, logout_user
from sqlmodel import select

from surveys import db
from surveys.auth import check_password, load_user, web_actor
from surveys.auth.forms import LoginForm
from surveys.models import Role, User
from surveys.national.mode import is_national
from surveys.security import Verdict, client_address, throttle
from surveys.services.users import sign_out, signed_in

bp = Blueprint("auth", __name__)
WRONG = "Fel e-postadress eller lösenord."


def _home_for(role: str) -> str:
    if is_national():
        return url_for("national.home")
    return url_for("reports.latest") if role == Role.reader.value else url_for("staff.home")


@bp.route("/")
def start():
    """Start page: sign-in for staff, a short explanation for a respondent who lands here."""
    if current_user.is_authenticated:
        return redirect(_home_for(current_user.role))
    return render_template("auth/start.html", form=LoginForm())


@bp.route("/logga-in", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password; the same message whether or not the account exists."""
    form = LoginForm()
    if form.validate_on_submit():
        session = db.session()
        email = (form.email.data or "").strip().lower()
        # counted before the password is checked: of many attempts at once, at most
        # the limit get checked (surveys.security.SignInThrottle)
        verdict = throttle().begin(email, client_address())
        if not verdict.allowed:
            return _too_many(form, verdict)
        user = session.exec(select(User).where(User.email == email)).first()
        if check_password(user, form.password.data or "") and user is not None:
            throttle().succeeded(email, client_address())
            login_user(load_user(user.id))
            signed_in(session, user)
            return redirect(_home_for(user.role))
        flash(WRONG, "error")
    return render_template("auth/login.html", form=form)


def _too_many(form: LoginForm, verdict: Verdict):
    """429 with the wait: the account's delay in seconds, or the address's window."""
    if verdict.reason == "account":
        flash(
            "För många misslyckade inloggningar för kontot. "
            f"Försök igen om {verdict.wait} sekunder.",
            "error",
        )
        retry = verdict.wait
    else:
        flash("För många misslyckade inloggningar. Vänta några minuter.", "error")
        retry = throttle().window
    response = make_response(render_template("auth/login.html", form=form), 429)
    response.headers["Retry-After"] = str(retry)
    return response


@bp.route("/logga-ut", methods=["POST"])
def logout():
    """Sign out: this and every other session of the user ends (the version is bumped)."""
    if current_user.is_authenticated:
        sign_out(db.session(), web_actor(), current_user.id)
    logout_user()
    flash("Du är utloggad.")
    return redirect(url_for("auth.login"))
