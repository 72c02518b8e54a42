"""Security headers, CSRF for signed-in forms, sign-in and rate limiting."""

from __future__ import annotations

from flask import Flask, Response, abort, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    from surveys.auth import limiter, login_manager

    login_manager.init_app(app)
    limiter.init_app(app)

    @app.before_request
    def _refuse_nul() -> None:
        # No text we store or look up may contain NUL (PostgreSQL refuses it): a 400
        # here instead of a database error deeper down.
        values = [request.path, *request.args.values()]
        if request.method == "POST" and request.mimetype != "multipart/form-data":
            values.extend(request.form.values())
        if any("\x00" in value for value in values):
            abort(400)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if app.config["SURVEYS_ENV"] == "production":
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint and not request.endpoint.startswith("static"):
            # Nothing a respondent or staff member saw may be kept by the browser.
            response.headers["Cache-Control"] = "no-store"
        return response
