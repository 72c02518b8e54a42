"""The förbund's package for NNS: what will be sent, shown before it is downloaded.

/admin/nns                       the key, the organisation number, the published years
/admin/nns/organisationsnummer   set the organisation number (POST, audited)
/admin/nns/<year>                exactly what the package holds (every row), unsigned view
/admin/nns/<year>/ladda-ner      the signed zip (POST, audited)
"""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from surveys import db
from surveys.auth import roles_required, web_actor
from surveys.models import Role
from surveys.services import nns_package, settings
from surveys.services.catalogue import instrument_from_db
from surveys.services.nns_package import MODE_LABELS, ORG_NUMBER, PackageError, build_package
from surveys.services.publications import published_years
from surveys.services.signing import SigningError, load_private_key, public_key_text

bp = Blueprint("nns", __name__, url_prefix="/admin/nns")


def _public_key() -> str | None:
    try:
        return public_key_text(load_private_key(Path(current_app.instance_path)))
    except SigningError:
        return None


@bp.route("")
@roles_required(Role.admin)
def index():
    """The key, the organisation number and the years that can be sent."""
    session = db.session()
    return render_template(
        "admin/nns.html",
        public_key=_public_key(),
        org_number=settings.get(session, ORG_NUMBER),
        forbund=settings.forbund_name(session),
        years=list(reversed(published_years(session))),
    )


@bp.route("/organisationsnummer", methods=["POST"])
@roles_required(Role.admin)
def org_number():
    """Set the förbund's organisation number (it names the förbund in the package)."""
    raw = request.form.get("org_number", "")[:40]
    try:
        value = nns_package.change_org_number(db.session(), web_actor(), raw)
    except settings.SettingError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    flash(f"Organisationsnumret är {value}.")
    return redirect(url_for(".index"))


def _package(year: int, *, signed: bool):
    session = db.session()
    key = load_private_key(Path(current_app.instance_path)) if signed else None
    return build_package(session, instrument_from_db(session), year, sign_with=key)


@bp.route("/<year:year>")
@roles_required(Role.admin)
def year_page(year: int):
    """Every row that will leave the förbund for this year, before anything is downloaded."""
    try:
        package = _package(year, signed=False)
    except PackageError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    return render_template(
        "admin/nns_year.html",
        package=package,
        meta=package.descriptor["nns"],
        public_key=_public_key(),
        mode_labels=MODE_LABELS,
        names={qn.key: qn.short_name for qn in instrument_from_db(db.session()).questionnaires},
    )


@bp.route("/<year:year>/ladda-ner", methods=["POST"])
@roles_required(Role.admin)
def download(year: int):
    """The signed package (audited)."""
    session = db.session()
    try:
        key = load_private_key(Path(current_app.instance_path))
        package = nns_package.export_package(
            session, web_actor(), instrument_from_db(session), year, sign_with=key
        )
    except (PackageError, SigningError) as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    return Response(
        package.zip_bytes,
        mimetype="application/zip",
        headers={"Content-Disposition": f"attachment; filename={package.filename}"},
    )
