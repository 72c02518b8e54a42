"""Publishing a year (DESIGN.md principle 3). Every URL of the blueprint:

/admin/publicera                 years with answers or publications, and the övriga setting
/admin/publicera/<year>          preview summary, changes since the last version, "Publicera"
/admin/publicera/installning     protect övriga on/off (POST, audited)
/admin/publicera/jobb/<id>       a job: "pågår" (refreshes itself), then the result

Publishing and the preview it shows (as the report's live preview does) run as
background jobs done by a low-priority worker process (``surveys worker``: see
``surveys/worker.py`` and ``services.jobs``), never in the web worker that serves the
participants' tablets. The job page only reads what the workers wrote.
"""

from __future__ import annotations

import pandas as pd
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, select
from sqlmodel import col
from wtforms import BooleanField

from surveys import clock, db, worker
from surveys.admin.previews import COMMENTS, PAGE, preview_or_job
from surveys.auth import roles_required, web_actor
from surveys.models import (
    BackgroundJob,
    PendingResponse,
    Publication,
    Response,
    Role,
    Round,
    RoundState,
)
from surveys.reports.data import frozen_changes
from surveys.services import job_status, jobs
from surveys.services import publications as pubs
from surveys.services.catalogue import instrument_from_db
from surveys.services.republish import plan
from surveys.services.settings import threshold

bp = Blueprint("publish", __name__, url_prefix="/admin/publicera")

KEY = ["scope", "indicator", "questionnaire", "question", "subgroup"]
SHOWN = ["n", "answered", "positive", "suppressed"]


class PublishForm(FlaskForm):
    """Publishing needs an explicit confirmation."""

    confirm = BooleanField("Jag har granskat resultaten och vill publicera dem.")


class ProtectOtherForm(FlaskForm):
    protect = BooleanField("Skydda svar från deltagare med annat eller inget angivet kön")


def _per_year(session, query: Select[int, int]) -> dict[int, int]:
    """A count per year from a (year, count) query."""
    return {year: count for year, count in session.execute(query)}


@bp.route("")
@roles_required(Role.admin)
def overview():
    """Years that can be published, with their status."""
    session = db.session()
    answered = _per_year(
        session, select(col(Response.year), func.count()).group_by(col(Response.year))
    )
    waiting = _per_year(
        session,
        select(col(Round.year), func.count())
        .select_from(PendingResponse)
        .join(Round, col(Round.id) == col(PendingResponse.round_id))
        .group_by(col(Round.year)),
    )
    open_rounds = _per_year(
        session,
        select(col(Round.year), func.count())
        .where(col(Round.state) == RoundState.open.value)
        .group_by(col(Round.year)),
    )
    published = {y: pubs.latest(session, y) for y in pubs.published_years(session)}
    years = sorted(set(answered) | set(waiting) | set(published), reverse=True)
    rows = [
        {
            "year": y,
            "questionnaires": answered.get(y, 0) + waiting.get(y, 0),
            "open_rounds": open_rounds.get(y, 0),
            "publication": published.get(y),
        }
        for y in years
    ]
    form = ProtectOtherForm(protect=pubs.protect_other(session))
    return render_template(
        "publish/overview.html",
        rows=rows,
        form=form,
        local_time=lambda moment: clock.local(moment).strftime("%Y-%m-%d %H:%M"),
    )


@bp.route("/installning", methods=["POST"])
@roles_required(Role.admin)
def setting():
    """Switch the protection of övriga on or off (audited, named in every publication)."""
    form = ProtectOtherForm()
    if form.validate_on_submit():
        session = db.session()
        try:  # refused while a year is being published, or when it is the same
            pubs.set_protect_other(session, web_actor(), form.protect.data)
        except pubs.SettingUnchanged as exc:
            flash(str(exc))
            return redirect(url_for(".overview"))
        flash(
            "Övriga skyddas nu."
            if form.protect.data
            else "Övriga skyddas inte längre: kvinnor och män redovisas som i NNS rapporter."
        )
        if pubs.published_years(session):  # offer to publish every year with the new setting
            return redirect(url_for(".all_years"))
    return redirect(url_for(".overview"))


def _publishing(session) -> bool:
    """A year is being published now (a lock, or a publishing job queued or running)."""
    return jobs.publishing(session)


@bp.route("/alla-ar", methods=["GET", "POST"])
@roles_required(Role.admin)
def all_years():
    """Publish every published year again in one step, after a preview of what changes."""
    session = db.session()
    cell = threshold(session)
    if request.method == "POST":
        try:
            job = jobs.request_all_years(session, web_actor(), min_cell=cell)
        except jobs.JobError as exc:
            flash(str(exc))
            return redirect(url_for(".overview"))
        worker.hand_over_new(job)
        return redirect(url_for(".job_page", job_id=job.id))
    if _publishing(session):
        flash("En publicering pågår. Vänta tills den är klar och försök igen.")
        return redirect(url_for(".overview"))
    return render_template(
        "publish/all_years.html",
        plans=plan(session, instrument_from_db(session), min_cell=cell),
        protect_other=pubs.protect_other(session),
    )


@bp.route("/<year:year>", methods=["GET", "POST"])
@roles_required(Role.admin)
def year_page(year: int):
    """What publishing would store, what changes since the last version, and the button."""
    session = db.session()
    instrument = instrument_from_db(session)
    cell = threshold(session)
    form = PublishForm()
    if form.validate_on_submit():
        if not form.confirm.data:
            flash("Kryssa i att du har granskat resultaten för att publicera.")
        else:
            return _start_publishing(year, cell)
    running = jobs.active_job(session, year)
    if running is not None:
        return redirect(url_for(".job_page", job_id=running.id))
    if not pubs.year_has_answers(session, year):
        flash(f"Det finns inga svar för {year} att publicera.")
        return redirect(url_for(".overview"))
    previous = pubs.latest(session, year)
    snapshot, waiting = preview_or_job(year, again=bool(request.args.get("omrakna")), page=PAGE)
    if waiting is not None:
        return waiting
    assert snapshot is not None  # noqa: S101 - preview_or_job returns one of the two
    job, computed = snapshot
    counted_at = clock.local(job.finished_at or job.requested_at).strftime("%H:%M")
    hidden_rows = computed.rows["suppressed"].fillna("").astype(str) != ""
    reasons = computed.rows[hidden_rows]["suppression"].value_counts()
    return render_template(
        "publish/year.html",
        year=year,
        form=form,
        previous=previous,
        rows=len(computed.rows),
        suppressed=pubs.hidden_count(computed.rows),
        reasons=reasons.to_dict(),
        changes=_changes(session, previous, job.id, computed.rows) if previous else [],
        frozen=frozen_changes(session, previous) if previous else None,
        min_cell=cell,
        protect_other=computed.protect_other,
        instrument=instrument,
        counted_at=counted_at,
        waiting_note=pubs.waiting_note(computed.waiting, min_cell=cell, year=year),
    )


def _start_publishing(year: int, cell: int):
    """Record the job for a worker and send the administrator to its page."""
    session = db.session()
    try:
        job = jobs.request_publish(session, web_actor(), year=year, min_cell=cell)
    except jobs.JobError as exc:
        flash(str(exc))
        return redirect(url_for(".overview"))
    worker.hand_over_new(job)
    return redirect(url_for(".job_page", job_id=job.id))


@bp.route("/jobb/<job_id>")
@roles_required(Role.admin)
def job_page(job_id: str):
    """A job: "pågår" while it runs (the page reloads itself), then its result.

    A finished preview goes straight to the page that asked for it. Reads only: the
    workers write a job's state (a dead worker's job is taken up again by another)."""
    session = db.session()
    job = session.get(BackgroundJob, job_id)
    if job is None:
        abort(404)
    if job.kind == jobs.PREVIEW and job.status == jobs.DONE:
        if request.args.get("sida") == PAGE:
            return redirect(url_for(".year_page", year=job.year))
        if request.args.get("sida") == COMMENTS:
            return redirect(url_for("comments.edit", year=job.year))
        insats = request.args.get("insats") or None
        return redirect(url_for("reports.preview", year=job.year, insats=insats))
    return render_template(
        "publish/job.html",
        job=job,
        state=jobs.state(job),
        running=job.status in job_status.ACTIVE,
        preview=job.kind == jobs.PREVIEW,
    )


CHANGES_KEPT = 4  # a worker keeps this many diffs (the years an administrator looks at)


def _changes(session, previous: Publication, job_id: str, rows: pd.DataFrame) -> list[dict]:
    """Published cells whose shown figures differ between the last version and now.

    Both sides are fixed once written: a publication's rows are never changed, and
    ``rows`` is the finished preview job's snapshot (a recount is a new job). So a
    worker works the diff out once per (publication, job) and keeps it; each view gets
    its own copies of the rows."""
    key = (previous.id, job_id)
    found = db.kept("publish_changes", key)
    if found is None:
        found = _changed_rows(session, previous, rows)
        db.keep("publish_changes", key, found, most=CHANGES_KEPT)
    return [dict(record) for record in found]


def _changed_rows(session, previous: Publication, rows: pd.DataFrame) -> list[dict]:
    before = pd.DataFrame(
        session.execute(
            select(
                *(
                    col(column)
                    for column in (
                        pubs.PublicationRow.scope,
                        pubs.PublicationRow.indicator,
                        pubs.PublicationRow.questionnaire,
                        pubs.PublicationRow.question,
                        pubs.PublicationRow.subgroup,
                        pubs.PublicationRow.n,
                        pubs.PublicationRow.answered,
                        pubs.PublicationRow.positive,
                        pubs.PublicationRow.suppressed,
                    )
                )
            ).where(col(pubs.PublicationRow.publication_id) == previous.id)
        ).all(),
        columns=[*KEY, *SHOWN],
    )
    now = rows.assign(
        question=rows["question"].fillna(pubs.POOLED).astype(int),
        indicator=rows["indicator"].astype(int),
    )[[*KEY, *SHOWN]]
    merged = before.merge(now, on=KEY, how="outer", suffixes=("_före", "_nu"))
    changed = []
    for record in merged.to_dict("records"):
        if any(_differs(record[f"{c}_före"], record[f"{c}_nu"]) for c in SHOWN):
            changed.append(record)
    return sorted(changed, key=lambda r: (r["indicator"], r["questionnaire"], r["question"]))


def _differs(a: object, b: object) -> bool:
    missing_a = a is None or pd.isna(a)
    missing_b = b is None or pd.isna(b)
    if missing_a or missing_b:
        return missing_a != missing_b
    return a != b
