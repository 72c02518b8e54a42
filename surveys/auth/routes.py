"""Every URL of sign-in: /logga-in, /logga-ut."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import login_user, logout_user
from sqlmodel import select

from surveys import db
from surveys.auth import _load, check_password
from surveys.auth.forms import LoginForm
from surveys.models import User
from surveys.security import client_address, throttle
from surveys.services.audit import record

bp = Blueprint("auth", __name__)
WRONG = "Fel e-postadress eller lösenord."


@bp.route("/logga-in", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password; the same message whether or not the account exists."""
    form = LoginForm()
    if form.validate_on_submit():
        session = db.session()
        email = form.email.data.strip().lower()
        if throttle().blocked(email, client_address()):
            flash("För många misslyckade inloggningar. Vänta några minuter.", "error")
            return render_template("auth/login.html", form=form), 429
        user = session.exec(select(User).where(User.email == email)).first()
        if check_password(user, form.password.data):
            login_user(_load(user.id))
            record(session, user_email=user.email, action="inloggning")
            session.commit()
            return redirect(url_for("staff.home"))
        throttle().failed(email, client_address())
        flash(WRONG, "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logga-ut", methods=["POST"])
def logout():
    """Sign out."""
    logout_user()
    flash("Du är utloggad.")
    return redirect(url_for("auth.login"))
