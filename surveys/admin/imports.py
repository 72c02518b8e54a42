"""The administrator's imports: uploads, templates, and the list of what was imported.

/admin/importer                        list of imports, upload forms, templates
/admin/importer/<kind> (POST)          upload history or Riket figures (all-or-nothing)
/admin/importer/mall/<kind>.<fmt>      a template to fill in (CSV for Swedish Excel, or XLSX)
/admin/importer/<id>/ta-bort (POST)    remove a batch of history or Riket figures (audited)

Answers imported from the command line are listed (kind, rows, when, by whom)
but are never linked to their batch, so they cannot be removed from here.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from indicators.report import HISTORY_COLUMNS, NATIONAL_COLUMNS
from surveys import db
from surveys.auth import roles_required, web_actor
from surveys.files.answers import ANSWER_FILE_COLUMNS, excel_csv, text_xlsx
from surveys.files.history import KIND_LABELS, list_batches
from surveys.files.reading import FileError
from surveys.models import Role
from surveys.national import riket_file
from surveys.services import imports, settings
from surveys.services.catalogue import instrument_from_db

bp = Blueprint("imports", __name__, url_prefix="/admin/importer")
KINDS = {"historik": "history", "riket": "national"}
TEMPLATES = {
    "historik": (
        HISTORY_COLUMNS,
        [
            [2019, "Deltagare avslut", 1, "Samtliga", 120, 4, 6, 90, 70, 95],
            [2019, "Deltagare avslut", 1, "kvinnor", 60, 3, 5, 92, 75, 96],
            [2019, "Deltagare avslut", 1, "män", 58, "4,5", 6, "89,5", 68, 94],
        ],
    ),
    "riket": (
        NATIONAL_COLUMNS,
        [[2023, "Deltagare avslut", 1, "Samtliga", "91%"], [2023, "Personal", 1, "Samtliga", 88]],
    ),
    "svar": (
        ANSWER_FILE_COLUMNS,
        [
            [2024, "Deltagare avslut", "Insats A", "kvinna", 6, 5, 4, 5, 6, 5, 4, 1, 6, 6, ""],
            [2024, "Personal", "Insats A", "", 5, 5, 4, 3, "", 6, 5, "", "", "", ""],
        ],
    ),
}
TEMPLATE_NAMES = {"historik": "historik", "riket": "riket", "svar": "enkatsvar"}


@bp.route("")
@roles_required(Role.admin)
def index():
    """What was imported (kind, rows, when, by whom) and the upload forms."""
    return render_template(
        "admin/imports.html",
        batches=list_batches(db.session()),
        history_columns=",".join(HISTORY_COLUMNS),
        national_columns=",".join(NATIONAL_COLUMNS),
        comparison_group=settings.comparison_group(db.session()),
        answer_columns=",".join(ANSWER_FILE_COLUMNS),
    )


@bp.route("/<any(historik,riket):kind>", methods=["POST"])
@roles_required(Role.admin)
def upload(kind: str):
    """Upload history or Riket figures; a broken file is a message, never a 500."""
    session = db.session()
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        flash("Välj en fil.", "error")
        return redirect(url_for(".index"))
    data = upload_file.read(imports.MAX_FILE + 1)  # never more in memory; the service refuses
    signature = request.files.get("signature")  # Riket: NNS's, when its key is configured
    group = request.form.get("jamforelsegrupp") if kind == "riket" else None  # None: unchanged
    try:
        count = imports.import_figures(
            session,
            web_actor(),
            instrument_from_db(session),
            KINDS[kind],
            data=data,
            filename=upload_file.filename,
            signature=(
                signature.read(imports.MAX_SIGNATURE + 1)
                if signature and signature.filename
                else None
            ),
            group=None if group is None else group[:200],  # the förbund's, among the file's
        )
    except FileError as exc:
        session.rollback()  # a redirect commits: a refused group must leave nothing stored
        for error in exc.errors:
            flash(error, "error")
        flash("Ingenting har importerats.", "error")
        return redirect(url_for(".index"))
    flash("1 rad importerad." if count == 1 else f"{count} rader importerade.")
    for notice in riket_file.notices_after_import(session) if kind == "riket" else ():
        flash(notice, "warning")
    return redirect(url_for(".index"))


@bp.route("/<batch_id>/ta-bort", methods=["POST"])
@roles_required(Role.admin)
def remove(batch_id: str):
    """Remove the figures of one upload of history or Riket figures."""
    batch = imports.remove_import(db.session(), web_actor(), batch_id[:32])
    if batch is None:
        flash("Importen finns inte eller kan inte tas bort.", "error")
        return redirect(url_for(".index"))
    flash(f"Importen {batch.filename} ({KIND_LABELS[batch.kind].lower()}) är borttagen.")
    return redirect(url_for(".index"))


@bp.route("/mall/<any(historik,riket,svar):kind>.<any(csv,xlsx):fmt>")
@roles_required(Role.admin)
def template(kind: str, fmt: str):
    """A template with the right columns and example rows in the labels people use."""
    header, rows = TEMPLATES[kind]
    name = f"mall-{TEMPLATE_NAMES[kind]}.{fmt}"
    if fmt == "csv":
        body, mimetype = excel_csv(header, rows), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body = text_xlsx(TEMPLATE_NAMES[kind], header, rows)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:  # pragma: no cover - the route only matches csv and xlsx
        abort(404)
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}"}
    )
