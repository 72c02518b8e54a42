"""The background worker: ``surveys worker`` does the jobs the web pages ask for.

``make run`` starts one beside gunicorn; in production run one (or more, on any of the
machines) as a service of its own. The worker lowers its own priority first
(``SCHED_IDLE`` and nice 10: it gets a CPU only when no request wants one, issue 13),
then polls ``background_job`` every second: it claims a job by a lease
(``services.jobs.claim``), renews the lease from a heartbeat thread while it works,
and records the outcome. A worker that dies leaves a lease that runs out; another
worker then takes the job up again (``services.jobs`` explains the rules).

Told to stop (Ctrl+C, SIGTERM), the worker leaves idle priority where Linux lets it,
gives its current job back (queued again, for the next worker) and ends.

The web request hands a new job to the runner registered in
``app.extensions[RUNNER]``, if any, after committing it. Production registers none:
the workers find the job by polling. Tests register ``run_inline``, which does the job
at once, in the request, by exactly the path a worker takes.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from types import FrameType, TracebackType

from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session

from surveys import db
from surveys.cli_types import schema_out_of_date
from surveys.db import one_writer, own_transaction, writer_lock
from surveys.models import BackgroundJob
from surveys.reports.assets import prerender_preview
from surveys.reports.downloads import prepare_year
from surveys.services import jobs
from surveys.services.catalogue import instrument_from_db
from surveys.services.publications import VersionRace, published_years

log = logging.getLogger(__name__)

RUNNER = "surveys.job_runner"  # app.extensions key: called with (app, job_id) after a commit
POLL_SECONDS = 1.0  # how often an idle worker looks for a job
HEARTBEAT_SECONDS = 10.0  # how often a working worker renews its lease
NICENESS = 10

Runner = Callable[[Flask, str], object]


def hand_over(app: Flask, job_id: str) -> None:
    """Give a committed job to the registered runner (none in production: workers poll)."""
    runner: Runner | None = app.extensions.get(RUNNER)
    if runner is not None:
        runner(app, job_id)


def hand_over_new(job: BackgroundJob) -> None:
    """In a request: commit the new job (a worker on any machine can see it from now on)
    and give it to the app's runner, if one is registered."""
    with own_transaction(db.session()):
        pass  # the block ends with the commit: the job is stored before it is handed over
    hand_over(db.application(), job.id)


def run_inline(app: Flask, job_id: str) -> BackgroundJob | None:
    """The tests' runner: do the job now, in this process, by the worker's own path."""
    return run_next(app, worker=worker_name(), job_id=job_id)


def worker_name() -> str:
    """Who holds a lease: machine, process and a nonce (a pid can be reused)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def lower_priority(niceness: int = NICENESS) -> None:
    """Only idle CPU for this process: SCHED_IDLE where Linux has it, and nice."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not allowed: nice alone
        log.info("Bakgrundsprocessen kunde inte sätta SCHED_IDLE; bara nice används.")
    current = os.nice(0)
    if current < niceness:
        os.nice(niceness - current)


def leave_idle_priority(pid: int | None = None) -> None:
    """Every thread of this process (or of ``pid``) back from SCHED_IDLE to the normal
    policy (nice stays): a worker told to stop should stop now. At SCHED_IDLE on a busy
    machine it gets a few milliseconds of CPU a second, and giving its job back and
    ending took longer than a service manager waits before it kills. Linux lets only a
    privileged process leave SCHED_IDLE (CAP_SYS_NICE, or RLIMIT_NICE); without that the
    worker ends at idle priority, as before."""
    try:
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid or 'self'}/task")]
    except OSError:  # not Linux: nothing to leave
        return
    for tid in threads:
        try:
            if os.sched_getscheduler(tid) == os.SCHED_IDLE:
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        except OSError:  # not allowed, or the thread has ended meanwhile
            continue


# --- one job ---------------------------------------------------------------------------


def run_next(
    app: Flask,
    *,
    worker: str,
    lease: timedelta = jobs.LEASE,
    heartbeat: float = HEARTBEAT_SECONDS,
    job_id: str | None = None,
) -> BackgroundJob | None:
    """Claim a job (the oldest, or ``job_id``) and do it; the finished job, or None."""
    engine: Engine = app.extensions["engine"]
    with app.app_context(), Session(engine, expire_on_commit=False) as session:
        if job_id is None and not jobs.waiting(session):
            session.rollback()  # end the read: SQLite's WAL can be checkpointed meanwhile
            return None
        with one_writer(session), own_transaction(session):
            job = jobs.claim(session, worker=worker, lease=lease, job_id=job_id)
        if job is None:
            return None
        with Heartbeat(engine, job.id, worker=worker, lease=lease, every=heartbeat):
            try:
                done = _work(session, job, worker)
            except (KeyboardInterrupt, SystemExit):
                _give_back(session, job, worker)
                raise
        # after the heartbeat: the job is finished, its lease no longer renewed
        if done:
            _prepare_after(session, job)
        return session.get(BackgroundJob, job.id, populate_existing=True)


def _work(session: Session, job: BackgroundJob, worker: str) -> bool:
    """Do a claimed job and record its outcome (unexpected errors fail it, logged);
    True when it was recorded as done."""
    try:
        instrument = instrument_from_db(session)
        if job.kind == jobs.PREVIEW:
            status, message = _preview(session, instrument, job)
        elif job.kind == jobs.ALL_YEARS:
            status, message = jobs.publish_all_years(session, instrument, job)
        elif job.kind == jobs.NATIONAL:
            status, message = jobs.publish_national_year(session, instrument, job)
        else:
            status, message = jobs.publish_year(session, instrument, job)
    except Exception:
        log.exception("Bakgrundsjobbet %s (%s %s) misslyckades.", job.id, job.kind, job.year)
        session.rollback()
        status, message = jobs.FAILED, jobs.failure(job)
    with one_writer(session), own_transaction(session):
        if not jobs.finish(session, job, worker=worker, status=status, message=message):
            log.warning("Jobbet %s hade redan tagits över; resultatet sparas inte.", job.id)
            return False  # another worker's result counts, and it prepares
    return status == jobs.DONE


def _prepare_after(session: Session, job: BackgroundJob) -> None:
    """A published job's charts and downloads, drawn now (the page already says
    "publicerat"); the job is done whatever happens here."""
    if job.kind == jobs.PUBLISH:
        _prepare(session, job.year)
    elif job.kind == jobs.ALL_YEARS:
        for year in published_years(session):
            _prepare(session, year)


def _preview(session: Session, instrument, job: BackgroundJob) -> tuple[str, str]:
    for attempt in (1, 2):
        computed = jobs.count_preview(session, instrument, job)
        try:
            # submissions wait their turn instead of sleep-polling
            with one_writer(session), own_transaction(session):
                jobs.keep_preview(session, job, computed)
            break
        except VersionRace:  # another version of the year was shown meanwhile: count again
            if attempt == 2:
                raise
    # drawn from the snapshot as stored: the page finds the charts under the same key
    stored = jobs.load_snapshot(session, job, job.year) or computed
    prerender_preview(session, year=job.year, computed=stored)
    return jobs.DONE, f"Förhandsgranskningen av {job.year} är klar."


def _prepare(session: Session, year: int) -> None:
    """The published year's charts and downloads, so readers' requests only read them
    (drawn on first use anyway if this fails)."""
    try:
        prepare_year(session, year=year)
    except Exception:
        log.exception("Diagrammen och nedladdningarna för %s kunde inte göras i förväg.", year)
        session.rollback()


def _give_back(session: Session, job: BackgroundJob, worker: str) -> None:
    session.rollback()
    with one_writer(session), own_transaction(session):
        jobs.release(session, job.id, worker=worker)


class Heartbeat:
    """Renews a job's lease every ``every`` seconds from a thread of its own (with its
    own connection), for as long as the block runs."""

    def __init__(self, engine: Engine, job_id: str, *, worker: str, lease: timedelta, every: float):
        self.engine, self.job_id, self.worker = engine, job_id, worker
        self.lease, self.every = lease, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"puls-{job_id[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        self.thread.join()

    def _beat(self) -> None:
        while not self.stop.wait(self.every):
            try:
                with (
                    writer_lock(self.engine),
                    own_transaction(bind=self.engine) as session,
                ):
                    kept = jobs.renew(session, self.job_id, worker=self.worker, lease=self.lease)
            except Exception:  # noqa: BLE001 - a missed beat is retried; the lease is long
                log.warning("Jobbets lease kunde inte förnyas; försöker igen.", exc_info=True)
                continue
            if not kept:  # the lease ran out and another worker took the job: its result
                # counts (``finish`` refuses ours; a publication is stored once per year)
                log.warning("Jobbet %s har tagits över av en annan process.", self.job_id)
                return


# --- the process -------------------------------------------------------------------


def serve(
    app: Flask,
    *,
    stop: threading.Event,
    poll: float = POLL_SECONDS,
    lease: timedelta = jobs.LEASE,
    heartbeat: float = HEARTBEAT_SECONDS,
    once: bool = False,
) -> int:
    """Do jobs until ``stop`` is set (or, ``once``, until none waits); how many were done."""
    worker = worker_name()
    log.info("Bakgrundsprocessen %s väntar på jobb.", worker)
    done = 0
    while not stop.is_set():
        try:
            job = run_next(app, worker=worker, lease=lease, heartbeat=heartbeat)
        except Exception as exc:
            # tables missing or old: `db upgrade` mends it, not waiting; `once`: one pass
            if once or schema_out_of_date(exc):
                raise
            # the database is away (restarting, full disk): said in one line (a driver's
            # message may quote a statement's values), tried again later
            wait = max(poll, 5.0)
            log.error(
                "Bakgrundsprocessen nådde inte databasen (%s); försöker igen om %.0f s.",
                type(getattr(exc, "orig", None) or exc).__name__,
                wait,
            )
            stop.wait(wait)
            continue
        if job is not None:
            done += 1
            log.info("Jobbet %s: %s", job.id, job.message)
        elif once:
            break
        else:
            stop.wait(poll)
    return done


def stop_on_signals() -> None:
    """SIGTERM ends the worker like Ctrl+C: the current job is given back. Either one
    first takes the worker out of idle priority, so that it ends promptly."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        leave_idle_priority()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
