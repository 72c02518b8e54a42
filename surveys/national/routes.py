"""NNS's pages on the national instance (SURVEYS_MODE=national; administrators only).

/riket                         registered förbund, packages, publishing, published years
/riket/forbund (POST)          register (or update) a förbund: name, org number, key, group
/riket/paket (POST)            upload packages (all-or-nothing, every check)
/riket/publicera (POST)        publish a national year (a background job)
/riket/jobb/<id>               the job: 'pågår' until a worker is done, then the report
/riket/<year>                  the national report: Riket, groups, each förbund beside Riket
/riket/<year>/rapport.<fmt>    Riket's report as PDF or Word (the förbund report's renderers)
/riket/<year>/riket.csv        the Riket file (unsigned; `surveys national export` signs it)
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from surveys import db, worker
from surveys.auth import roles_required, web_actor
from surveys.converters import FIRST_YEAR, LAST_YEAR
from surveys.files.reading import parse_int
from surveys.models import BackgroundJob, Role
from surveys.national import packages as national_packages
from surveys.national import report as national_report
from surveys.national.riket_file import RiketFileError, default_filename, export_riket
from surveys.reports.assets import DOCUMENT_MIME
from surveys.reports.data import published_report
from surveys.reports.downloads import render_download
from surveys.services import job_status, jobs
from surveys.services.catalogue import instrument_from_db
from surveys.services.publications import published_years
from surveys.services.settings import threshold

bp = Blueprint("national", __name__, url_prefix="/riket")
MAX_FILES = 200


@bp.route("")
@roles_required(Role.admin)
def home():
    """Registered förbund, imported packages, publishing and the published years."""
    session = db.session()
    package_years = sorted({p.year for p, _ in national_packages.packages(session)}, reverse=True)
    return render_template(
        "national/home.html",
        members=national_packages.members(session),
        packages=national_packages.packages(session),
        package_years=package_years,
        published=list(reversed(published_years(session))),
    )


@bp.route("/forbund", methods=["POST"])
@roles_required(Role.admin)
def register():
    """Register a förbund (or change the one with the same organisation number)."""
    form = request.form
    try:
        member = national_packages.register_member(
            db.session(),
            web_actor(),
            name=form.get("name", "")[:300],
            org_number=form.get("org_number", "")[:40],
            public_key=form.get("public_key", "")[:200],
            comparison_group=form.get("comparison_group", "")[:200],
        )
    except national_packages.MemberError as exc:
        flash(str(exc), "error")
        flash("Ingenting har ändrats.", "error")
        return redirect(url_for(".home"))
    flash(f"{member.name} ({member.org_number}) är registrerat.")
    return redirect(url_for(".home"))


@bp.route("/paket", methods=["POST"])
@roles_required(Role.admin)
def upload():
    """Import uploaded packages: every check first, then all of them or none."""
    uploads = [f for f in request.files.getlist("files") if f and f.filename][:MAX_FILES]
    if not uploads:
        flash("Välj ett eller flera paket (zip).", "error")
        return redirect(url_for(".home"))
    files = [
        (f.filename or "paket.zip", f.read(national_packages.MAX_PACKAGE + 1)) for f in uploads
    ]
    session = db.session()
    try:
        lines = national_packages.import_packages(
            session, web_actor(), instrument_from_db(session), files
        )
    except national_packages.PackageRefused as exc:
        session.rollback()
        for error in exc.errors:
            flash(error, "error")
        flash("Ingenting har importerats.", "error")
        return redirect(url_for(".home"))
    for line in lines:
        flash(line)
    return redirect(url_for(".home"))


@bp.route("/publicera", methods=["POST"])
@roles_required(Role.admin)
def publish():
    """Publish a national year (again: a new version) as a background job."""
    # digits 0-9 only: str.isdigit also takes "２０２３" and "²" (which int() refuses)
    year = parse_int(request.form.get("year", ""), low=FIRST_YEAR, high=LAST_YEAR)
    if year is None:
        flash("Välj ett år.", "error")
        return redirect(url_for(".home"))
    session = db.session()
    try:
        job = jobs.request_national_publish(
            session,
            web_actor(),
            year=year,
            min_cell=threshold(session),
        )
    except jobs.JobError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".home"))
    worker.hand_over_new(job)
    return redirect(url_for(".job_page", job_id=job.id))


@bp.route("/jobb/<job_id>")
@roles_required(Role.admin)
def job_page(job_id: str):
    """A national publishing job: "pågår" while it runs (job.js asks again), then its
    result with the way to the report. Reads only: the workers write a job's state."""
    job = db.session().get(BackgroundJob, job_id[:32])
    if job is None or job.kind != jobs.NATIONAL:
        abort(404)
    return render_template(
        "national/job.html",
        job=job,
        state=jobs.state(job),
        running=job.status in job_status.ACTIVE,
    )


@bp.route("/<year:year>")
@roles_required(Role.admin)
def report(year: int):
    """The national report of a published year."""
    session = db.session()
    data = national_report.build(session, instrument_from_db(session), year)
    if data is None:
        flash(f"År {year} är inte publicerat nationellt.", "error")
        return redirect(url_for(".home"))
    return render_template("national/report.html", report=data)


@bp.route("/<year:year>/rapport.<any(pdf,docx):fmt>")
@roles_required(Role.admin)
def download(year: int, fmt: str):
    """Riket's report as PDF or Word, from the same renderers as a förbund's report."""
    session = db.session()
    data = published_report(session, instrument_from_db(session), year=year)
    if data is None or not data.has_year(year):
        abort(404)
    return Response(
        render_download(data, year=year, fmt=fmt),
        mimetype=DOCUMENT_MIME[fmt],
        headers={"Content-Disposition": f"attachment; filename=riket-{year}.{fmt}"},
    )


@bp.route("/<year:year>/riket.csv")
@roles_required(Role.admin)
def riket_file(year: int):
    """The Riket file (signed with `surveys national export`, where NNS's key lives)."""
    filename = default_filename(year)
    try:
        body = export_riket(db.session(), web_actor(), year)
    except RiketFileError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".home"))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
