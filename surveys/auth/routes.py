"""Every URL of sign-in: /logga-in, /logga-ut."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from sqlmodel import select

from surveys import db
from surveys.auth import _load, check_password, limiter
from surveys.auth.forms import LoginForm
from surveys.models import User
from surveys.services.audit import record

bp = Blueprint("auth", __name__)
WRONG = "Fel e-postadress eller lösenord."


def _account_key() -> str:
    return (request.form.get("email") or "").strip().lower()[:254]


def _address_key() -> str:
    # Used only as a throttling key in memory; never stored or logged.
    return request.remote_addr or "okänd"


@bp.route("/logga-in", methods=["GET", "POST"])
@limiter.limit(
    "10 per 5 minutes",
    key_func=_account_key,
    methods=["POST"],
    error_message="För många inloggningsförsök. Vänta några minuter.",
)
@limiter.limit(
    "30 per 5 minutes",
    key_func=_address_key,
    methods=["POST"],
    error_message="För många inloggningsförsök. Vänta några minuter.",
)
def login():
    """Sign in with e-mail and password; the same message whether or not the account exists."""
    form = LoginForm()
    if form.validate_on_submit():
        session = db.session()
        email = form.email.data.strip().lower()
        user = session.exec(select(User).where(User.email == email)).first()
        if check_password(user, form.password.data):
            login_user(_load(user.id))
            record(session, user_email=user.email, action="inloggning")
            session.commit()
            return redirect(url_for("staff.home"))
        flash(WRONG, "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logga-ut", methods=["POST"])
def logout():
    """Sign out."""
    logout_user()
    flash("Du är utloggad.")
    return redirect(url_for("auth.login"))
