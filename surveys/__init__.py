"""Indikatorenkäter: the Flask application (``create_app``)."""

from __future__ import annotations

import os

# One BLAS thread per process (set before numpy is first imported; an explicit setting
# wins). Disclosure control's linear algebra ran up to 20× slower with OpenBLAS starting a
# thread per core in every worker on a busy machine: 32 s of SVD became 1.7 s (issue 21).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from flask import Flask


def create_app(overrides: dict | None = None) -> Flask:
    """Build the application from the environment (``overrides`` are for tests)."""
    from surveys import cli, converters, db, errors, paths, security, web
    from surveys.config import APP_FACTORY, load_config

    config = load_config(overrides)
    app = Flask(
        __name__,
        template_folder=str(paths.TEMPLATES),
        instance_path=config["INSTANCE_DIR"],
    )
    app.config.update(config)
    # Commands that build a second instance (the national demo's förbund instances) take
    # the factory from here: importing this package from them would be an import cycle.
    app.extensions[APP_FACTORY] = create_app
    security.private_files(app)
    db.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    converters.init_app(app)  # before the blueprints add their rules

    from surveys.admin.imports import bp as imports_bp
    from surveys.admin.nns import bp as nns_bp
    from surveys.admin.publish import bp as publish_bp
    from surveys.admin.routes import bp as admin_bp
    from surveys.admin.translations import bp as translations_bp
    from surveys.auth.routes import bp as auth_bp
    from surveys.enrol.routes import bp as enrol_bp
    from surveys.national import mode
    from surveys.national.routes import bp as national_bp
    from surveys.questionnaire.routes import bp as questionnaire_bp
    from surveys.reports.comments import bp as comments_bp
    from surveys.reports.routes import bp as reports_bp
    from surveys.staff.routes import bp as staff_bp

    blueprints = (
        questionnaire_bp,
        reports_bp,
        comments_bp,
        auth_bp,
        staff_bp,
        admin_bp,
        imports_bp,
        publish_bp,
        enrol_bp,
        translations_bp,
        nns_bp,
        national_bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    mode.init_app(app)  # a national instance refuses the förbund's pages, and vice versa
    cli.init_app(app)
    web.init_app(app)
    return app
