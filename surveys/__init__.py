"""Indikatorenkäter: the Flask application (``create_app``)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict | None = None) -> Flask:
    """Build the application from the environment (``overrides`` are for tests)."""
    from surveys import cli, db, errors, security, web
    from surveys.config import load_config

    config = load_config(overrides)
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=config["INSTANCE_DIR"],
    )
    app.config.update(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    security.init_app(app)
    errors.init_app(app)

    from surveys.admin.routes import bp as admin_bp
    from surveys.auth.routes import bp as auth_bp
    from surveys.questionnaire.routes import bp as questionnaire_bp
    from surveys.reports.routes import bp as reports_bp
    from surveys.staff.routes import bp as staff_bp

    for blueprint in (questionnaire_bp, reports_bp, auth_bp, staff_bp, admin_bp):
        app.register_blueprint(blueprint)
    cli.init_app(app)
    web.init_app(app)
    return app
