"""The preview a page shows before a year is published: the preview job's snapshot, or
the job's page while a worker counts (the job is asked for if none is under way).

Used by the publishing page (``admin/publish.py``), the report's live preview
(``reports/routes.py``) and the comments page (``reports/comments.py``); the job's page
(``/admin/publicera/jobb/<id>``) sends the administrator back to the page that asked,
named by ``?sida=``.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for

from surveys import db, worker
from surveys.auth import web_actor
from surveys.services import jobs
from surveys.services import publications as pubs
from surveys.services.settings import threshold

PAGE = "publicera"  # ?sida= of a preview job started by the publishing page
COMMENTS = "kommentarer"  # ?sida= of a preview job started by the comments page


def preview_or_job(year: int, *, again: bool = False, page: str = "rapport"):
    """The year's preview snapshot, or the page of the job computing it (started if need be).

    Returns ``((job, computed), None)`` or ``(None, response)``."""
    session = db.session()
    cell = threshold(session)
    found = None if again else jobs.preview_snapshot(session, year, min_cell=cell)
    if found is not None:
        return found, None
    if not pubs.year_has_answers(session, year):
        flash(f"Det finns inga svar för {year} att förhandsgranska.")
        return None, redirect(url_for("publish.overview"))
    job, new = jobs.request_preview(session, web_actor(), year=year, min_cell=cell)
    if new:
        worker.hand_over_new(job)
    insats = request.args.get("insats") or None  # the report's insats, kept for the way back
    return None, redirect(url_for("publish.job_page", job_id=job.id, sida=page, insats=insats))


def preview_computed(year: int, *, again: bool = False, page: str = "rapport"):
    """The counts a live preview shows: ``(computed, None)`` from the preview job's
    snapshot, or ``(None, the job's page)`` while it counts."""
    snapshot, waiting = preview_or_job(year, again=again, page=page)
    return (snapshot[1] if snapshot is not None else None), waiting
