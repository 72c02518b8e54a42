"""Background jobs (issue 13, participants first; issue 20, several instances): a job
row claimed by a lease that a heartbeat renews, done by ``surveys worker`` processes;
a dead worker's job taken up again and finished once; the page that only reads; the
year's publishing lock that dies with its process (issue 18.8).

Most tests here run the worker's code in the test process with the service's clock
stopped (``fake_clock``): leases run out without sleeping. The process tests start
real ``surveys worker`` and ``surveys publish`` processes against the test database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from surveys import create_app, db, worker
from surveys.models import BackgroundJob, Publication, Role
from surveys.services import jobs, locks, publications
from surveys.services.actor import Actor
from surveys.services.catalogue import instrument_from_db
from surveys.services.publications import compute
from tests.conftest import (
    SECRET,
    count_rows,
    form_token,
    login,
    scalar,
    second_waits_for_first,
)
from tests.factories import CHEF, chef, import_seed

ROOT = Path(__file__).resolve().parent.parent
ON_POSTGRES = os.environ.get("TEST_DB") == "postgresql"


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
def no_runner(app):
    """Production's set-up: the request only records the job; a worker must do it."""
    app.extensions.pop(worker.RUNNER, None)
    return app


def _queued(app, year: int = 2023) -> str:
    with app.app_context():
        session = db.session()
        job = jobs.request_publish(session, chef(session), year=year, min_cell=5)
        session.commit()
        return job.id


def _job(app, job_id: str) -> BackgroundJob:
    with app.app_context():
        job = db.session().get(BackgroundJob, job_id)
        assert job is not None
        return job


def _claim(app, worker_name: str, job_id: str | None = None) -> BackgroundJob | None:
    with app.app_context():
        session = db.session()
        job = jobs.claim(session, worker=worker_name, job_id=job_id)
        session.commit()
        return job


def _seed_job_claimed(app, runner, tmp_path) -> BackgroundJob:
    """The seed imported, unpublished, and its publishing job claimed by worker "a"."""
    import_seed(runner, tmp_path, publish=False)
    _queued(app)
    job = _claim(app, "a")
    assert job is not None
    return job


def _published_once(app) -> None:
    """One publication is stored, and one audit entry says so."""
    assert count_rows(app, "publication") == 1
    audited = "SELECT COUNT(*) FROM audit_entry WHERE action = 'publicering.publicera'"
    assert scalar(app, audited) == 1


def _job_row(app, job_id: str) -> tuple:
    with app.app_context():
        return tuple(
            db.session()
            .execute(text("SELECT * FROM background_job WHERE id = :id"), {"id": job_id})
            .one()
        )


def _publish_button(admin_client, year: int = 2023):
    token = form_token(admin_client.get("/admin/publicera").text)
    return admin_client.post(f"/admin/publicera/{year}", data={"csrf_token": token, "confirm": "y"})


def _environment(app) -> dict[str, str]:
    """A process of the app's own: the test's database, key and instance folder."""
    return {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SECRET_KEY": SECRET,
        "SURVEYS_ENV": "development",
        "SURVEYS_INSTANCE": str(app.config["INSTANCE_DIR"]),
        "MIN_CELL": "5",
    }


def _start(app, *args: str) -> subprocess.Popen:
    """``python -m surveys ARGS`` with the app's settings. Its output goes to files, not
    pipes: a pipe nobody reads fills up and stops the process in the middle of its work
    (``_output`` reads them)."""
    out, err = (tempfile.TemporaryFile("w+") for _ in range(2))  # noqa: SIM115 - closed by _stop
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "surveys", *args],
        env=_environment(app),
        cwd=ROOT,
        stdout=out,
        stderr=err,
        text=True,
        start_new_session=True,
    )
    _OUTPUT[process.pid] = (out, err)
    return process


_OUTPUT: dict[int, tuple] = {}  # a started process's (stdout, stderr) files, by pid


def _output(process: subprocess.Popen) -> tuple[str, str]:
    """What the process wrote so far: (standard output, standard error)."""
    texts = []
    for file in _OUTPUT[process.pid]:
        file.seek(0)
        texts.append(file.read())
    return texts[0], texts[1]


def _until(
    condition: Callable[[], object],
    *,
    seconds: float = 90,
    what: str = "",
    process: subprocess.Popen | None = None,
) -> object:
    """Wait for another process to get somewhere (polled, not a fixed sleep). With
    ``process``: fail at once, with its output, should it end first."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        if process is not None and process.poll() is not None:
            out, err = _output(process)
            pytest.fail(f"{what}: the process ended ({process.returncode}) first:\n{out}{err}")
        if time.monotonic() >= deadline:
            said = "".join(_output(process)) if process is not None else ""
            pytest.fail(f"väntade förgäves: {what}\n{said}")
        time.sleep(0.05)
    return result


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for file in _OUTPUT.pop(process.pid, ()):
        file.close()


# --- the page and the request -----------------------------------------------------------


def test_the_page_says_publishing_is_under_way_then_a_worker_publishes(
    no_runner, admin_client, runner, tmp_path
):
    app = no_runner
    import_seed(runner, tmp_path, publish=False)
    started = _publish_button(admin_client)
    assert started.status_code == 302
    waiting = admin_client.get(started.headers["Location"])
    assert waiting.status_code == 200
    assert "Publiceringen pågår" in waiting.text
    assert "data-job-running" in waiting.text
    assert count_rows(app, "publication") == 0
    job_id = scalar(app, "SELECT id FROM background_job")
    # the year's own page sends the administrator to the job instead of a second button
    year_page = admin_client.get("/admin/publicera/2023")
    assert year_page.status_code == 302
    assert year_page.headers["Location"].endswith(f"/admin/publicera/jobb/{job_id}")
    # a worker (here one pass of `surveys worker`) does the job
    done_by_worker = runner.invoke(args=["worker", "--once", "--priority", "normal"])
    assert done_by_worker.exit_code == 0, done_by_worker.output
    assert "1 jobb klara." in done_by_worker.output
    done = admin_client.get(f"/admin/publicera/jobb/{job_id}")
    assert "2023 är publicerat (version 1)." in done.text
    assert "Publiceringen pågår" not in done.text
    assert "data-job-running" not in done.text
    assert "/rapport/2023" in done.text
    assert scalar(app, "SELECT status FROM background_job") == "done"
    assert scalar(app, "SELECT attempts FROM background_job") == 1
    # the publication records its job, and who asked
    assert scalar(app, "SELECT job_id FROM publication") == job_id
    assert scalar(app, "SELECT published_by FROM publication") == "administratör-0@example.invalid"
    # the worker built the downloads of the förbund and its one insats: a reader's
    # request only reads them
    stored = "SELECT COUNT(*) FROM report_asset WHERE name LIKE '2023-rapport-%.{}'"
    for fmt in ("csv", "xlsx", "pdf", "docx"):
        assert scalar(app, stored.format(fmt)) == 2, fmt
    report = admin_client.get("/rapport/2023")
    assert report.status_code == 200
    assert "96% (81%)" in report.text


def test_a_second_publish_of_the_same_year_is_refused_while_one_waits(
    no_runner, admin_client, runner, tmp_path
):
    app = no_runner
    import_seed(runner, tmp_path, publish=False)
    first = _queued(app)
    second = _publish_button(admin_client)
    assert (
        "År 2023 håller redan på att publiceras"
        in admin_client.get(second.headers["Location"]).text
    )
    assert count_rows(app, "background_job") == 1
    assert scalar(app, "SELECT id FROM background_job") == first


@pytest.mark.parametrize("second_asks", ["publish", "all_years"])
def test_a_double_click_makes_one_job_not_two(no_runner, runner, tmp_path, second_asks):
    """Two requests at the same moment (the helper's fuzzing: 9 double clicks in 10 made
    two jobs, and a year was published twice). Both checked "no job for the year" before
    either had inserted one. Now the second waits for the first's commit
    (``locks.in_turn``) and is refused by its job. (Previews take no turn: see
    ``jobs.request_preview``.)"""
    app = no_runner
    import_seed(runner, tmp_path, publish=False)
    with app.app_context():
        session = db.session()
        chef(session)  # the account both requests are made by
        session.commit()

    def second(session) -> str:
        try:
            if second_asks == "publish":
                jobs.request_publish(session, CHEF, year=2023, min_cell=5)
            else:
                jobs.request_all_years(session, CHEF, min_cell=5)
        except jobs.JobError as exc:
            session.rollback()
            return str(exc)
        session.commit()
        return "committed"

    first_id, said = second_waits_for_first(
        app, lambda s: jobs.request_publish(s, CHEF, year=2023, min_cell=5).id, second
    )
    assert (
        said
        == {
            "publish": "År 2023 håller redan på att publiceras. Vänta tills det är klart.",
            "all_years": "En publicering pågår. Vänta tills den är klar och försök igen.",
        }[second_asks]
    )
    assert count_rows(app, "background_job") == 1
    assert scalar(app, "SELECT id FROM background_job") == first_id


def test_the_publish_command_is_refused_while_the_pages_job_for_the_year_is_active(
    app, runner, tmp_path
):
    """`surveys publish` published beside a queued or running job of the page's, which
    then published the year once more."""
    import_seed(runner, tmp_path, publish=False)
    job_id = _queued(app)
    refused = "Fel: År 2023 håller redan på att publiceras (ett publiceringsjobb för året "
    for state in ("queued", "running"):
        if state == "running":
            assert _claim(app, "arbetare-1", job_id) is not None  # a worker has taken it
        assert _job(app, job_id).status == state
        done = runner.invoke(args=["publish", "--year", "2023"])
        assert done.exit_code == 1
        assert done.output.startswith(refused), done.output
        assert "Ingenting har publicerats." in done.output
        assert count_rows(app, "publication") == 0
    other = runner.invoke(args=["publish", "--year", "2022"])  # another year: not this job's
    assert "håller redan på att publiceras" not in other.output
    with app.app_context():
        db.session().execute(text("UPDATE background_job SET status = 'failed'"))
        db.session().commit()
    done = runner.invoke(args=["publish", "--year", "2023"])
    assert done.exit_code == 0, done.output
    assert scalar(app, "SELECT published_by FROM publication") == "kommandoraden"
    assert scalar(app, "SELECT COUNT(*) FROM audit_entry WHERE user_email = 'kommandoraden' "
                  "AND action = 'publicering.publicera'") == 1  # fmt: skip


def test_a_year_another_process_is_publishing_fails_the_job_with_a_clear_message(
    app, admin_client, runner, tmp_path
):
    import_seed(runner, tmp_path, publish=False)
    with app.app_context():
        held = locks.take(db.session(), 2023)  # e.g. `surveys publish` in another process
    try:
        started = _publish_button(admin_client)  # the test's runner does the job at once
    finally:
        held.release()
    failed = admin_client.get(started.headers["Location"])
    assert failed.status_code == 200
    assert "År 2023 håller redan på att publiceras. Vänta en stund och försök igen." in failed.text
    assert "Tillbaka till Publicera 2023" in failed.text
    assert scalar(app, "SELECT status FROM background_job") == "failed"
    assert count_rows(app, "publication") == 0


def test_an_unknown_job_page_is_a_swedish_404(admin_client):
    missing = admin_client.get("/admin/publicera/jobb/finns-inte")
    assert missing.status_code == 404
    assert "<html" in missing.text
    assert 'lang="sv"' in missing.text


def test_a_job_row_holds_nothing_about_respondents(app):
    columns = set(BackgroundJob.model_fields)
    assert columns == {
        "id",
        "kind",
        "year",
        "status",
        "requested_by",
        "requested_at",
        "started_at",
        "finished_at",
        "worker",
        "lease_until",
        "attempts",
        "min_cell",
        "message",
    }


# --- leases: a dead worker's job, with the clock stopped ---------------------------------


def test_a_dead_workers_job_is_taken_up_when_its_lease_runs_out_and_the_page_only_reads(
    no_runner, admin_client, runner, tmp_path, fake_clock
):
    app = no_runner
    import_seed(runner, tmp_path, publish=False)
    job_id = _queued(app)
    claimed = _claim(app, "a")  # worker a claims the job, then dies: no more heartbeats
    assert claimed is not None
    assert claimed.id == job_id
    assert _claim(app, "b") is None  # nothing else to do
    fake_clock.advance(seconds=jobs.LEASE.total_seconds() - 1)
    assert _claim(app, "b") is None  # a's lease still holds
    page = admin_client.get(f"/admin/publicera/jobb/{job_id}")
    assert "Publiceringen pågår" in page.text
    assert "slutade svara" not in page.text
    fake_clock.advance(seconds=2)
    before = _job_row(app, job_id)
    page = admin_client.get(f"/admin/publicera/jobb/{job_id}")
    assert "Bakgrundsprocessen som arbetade med jobbet slutade svara" in page.text
    assert "data-job-running" in page.text  # it will move on: keep looking
    assert _job_row(app, job_id) == before  # the GET wrote nothing
    # worker b takes the job up and publishes it
    finished = worker.run_next(app, worker="b")
    assert finished is not None
    assert finished.id == job_id
    assert (finished.status, finished.worker, finished.attempts) == ("done", "b", 2)
    assert finished.message == "2023 är publicerat (version 1)."
    assert count_rows(app, "publication") == 1
    # a comes back to life: its lease is gone and its outcome is not recorded
    with app.app_context():
        session = db.session()
        assert not jobs.renew(session, job_id, worker="a")
        job = session.get(BackgroundJob, job_id)
        assert not jobs.finish(session, job, worker="a", status="failed", message="x")
        session.commit()
    assert _job(app, job_id).status == "done"


def test_a_job_whose_workers_keep_dying_is_given_up_with_the_reason(
    no_runner, admin_client, runner, tmp_path, fake_clock
):
    app = no_runner
    import_seed(runner, tmp_path, publish=False)
    job_id = _queued(app)
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        claimed = _claim(app, f"död-{attempt}")
        assert claimed is not None
        assert claimed.attempts == attempt
        fake_clock.advance(seconds=jobs.LEASE.total_seconds() + 1)
    # the year is free for a new request while the dead job waits to be given up
    with app.app_context():
        assert jobs.active_job(db.session(), 2023) is None
    assert worker.run_next(app, worker="nästa") is None  # gives it up, claims nothing
    given_up = _job(app, job_id)
    assert given_up.status == "failed"
    assert given_up.message.startswith(
        "Publiceringen av 2023 avbröts: bakgrundsprocessen som arbetade med den slutade "
        f"svara ({jobs.MAX_ATTEMPTS} försök). Ingenting publicerades."
    )
    page = admin_client.get(f"/admin/publicera/jobb/{job_id}")
    assert "slutade svara (3 försök)" in page.text
    assert "data-job-running" not in page.text
    assert count_rows(app, "publication") == 0


def test_a_job_taken_up_after_its_publication_was_stored_publishes_nothing_more(
    no_runner, runner, tmp_path, fake_clock
):
    """The worker stored the publication and died before it could say so: the next
    worker finds the publication by the job's id and publishes nothing again."""
    app = no_runner
    job = _seed_job_claimed(app, runner, tmp_path)
    with app.app_context():
        session = db.session()
        status, _ = jobs.publish_year(session, instrument_from_db(session), job)
        assert status == "done"  # stored and committed; a dies here
    fake_clock.advance(seconds=jobs.LEASE.total_seconds() + 1)
    finished = worker.run_next(app, worker="b")
    assert finished is not None
    assert (finished.status, finished.attempts) == ("done", 2)
    assert finished.message == "2023 är publicerat (version 1)."
    _published_once(app)


def test_a_worker_that_finds_its_jobs_publication_stored_meanwhile_gives_that_one(
    no_runner, runner, tmp_path
):
    """Two workers of one job both found nothing stored; the other one stores first.
    This one's INSERT then fails on the job's unique publication, and it hands back the
    other's: one publication, one audit entry, nothing half-written."""
    app = no_runner
    job = _seed_job_claimed(app, runner, tmp_path)
    with app.app_context():
        session = db.session()
        instrument = instrument_from_db(session)

        def store_after_the_other_worker() -> Publication:
            with Session(db.engine()) as other:
                other_job = other.get(BackgroundJob, job.id)
                assert jobs.publish_year(other, instrument, other_job)[0] == "done"
            return publications.publish(
                session,
                jobs.requester(session, job),
                instrument,
                year=2023,
                min_cell=job.min_cell,
                job_id=job.id,
            )

        found = publications.stored_once(session, job.id, 2023, store_after_the_other_worker)
        assert (found.year, found.version, found.job_id) == (2023, 1, job.id)
    _published_once(app)


# --- real processes ---------------------------------------------------------------------


def test_the_worker_process_does_jobs_at_idle_priority_and_stops_on_sigterm(
    no_runner, runner, tmp_path
):
    app = no_runner
    import_seed(runner, tmp_path, publish=False)
    process = _start(app, "worker", "--poll", "0.1")
    try:
        _until(
            lambda: "väntar på jobb" in _output(process)[1],
            what="the worker started",
            process=process,
        )
        # only CPU time no request wants: SCHED_IDLE and nice 10 (issue 13)
        assert os.sched_getscheduler(process.pid) == os.SCHED_IDLE
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == 10
        if _may_leave_idle_priority():
            # At idle priority the worker gets only what the other tests leave of both
            # cores: its job, the charts drawn after it (vl-convert holds the GIL) and
            # its reaction to SIGTERM took minutes in CI. Lifted to normal, it tests
            # what follows, not how busy the machine is.
            worker.leave_idle_priority(process.pid)
            for thread in os.listdir(f"/proc/{process.pid}/task"):
                os.setpriority(os.PRIO_PROCESS, int(thread), 0)
            assert os.sched_getscheduler(process.pid) == os.SCHED_OTHER
        job_id = _queued(app)
        _until(
            lambda: f"Jobbet {job_id}:" in _output(process)[1],
            seconds=180,
            what="the worker did the job and drew its charts",
            process=process,
        )
        assert "tagits över" not in _output(process)[1]  # its heartbeat stopped with the job
        assert _job(app, job_id).status == "done"
        assert _job(app, job_id).worker.split(":")[1] == str(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        out, err = _output(process)
    finally:
        _stop(process)
    assert process.returncode == 0, err
    assert "Bakgrundsprocessen avslutas" in out
    assert count_rows(app, "publication") == 1


def _may_leave_idle_priority() -> bool:
    """Linux lets a thread leave SCHED_IDLE with CAP_SYS_NICE (root) or RLIMIT_NICE."""
    import resource

    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] >= 10


def test_a_worker_told_to_stop_leaves_idle_priority_in_every_thread():
    """At SCHED_IDLE on a busy machine the worker gets a few milliseconds of CPU a second,
    and giving its job back and ending can take longer than a service manager waits. Told
    to stop (SIGTERM, Ctrl+C), every thread of it leaves SCHED_IDLE; nice stays."""
    if not _may_leave_idle_priority():
        pytest.skip("only a privileged process may leave SCHED_IDLE")
    import threading

    idle = threading.Event()
    left = threading.Event()
    seen: dict[str, int] = {}

    def idle_thread() -> None:  # like the worker's heartbeat: a thread at idle priority
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        seen["before"] = os.sched_getscheduler(0)
        idle.set()
        left.wait(10)
        seen["after"] = os.sched_getscheduler(0)

    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    thread = threading.Thread(target=idle_thread)
    thread.start()
    try:
        assert idle.wait(10)
        nice_before = os.nice(0)
        worker.stop_on_signals()
        with pytest.raises(KeyboardInterrupt):  # the handler runs in this (the main) thread
            signal.raise_signal(signal.SIGTERM)
        assert os.nice(0) == nice_before
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        left.set()
        thread.join(10)
    assert seen == {"before": os.SCHED_IDLE, "after": os.SCHED_OTHER}


@contextmanager
def _blocked_writes(app) -> Iterator[Callable[[], None]]:
    """Hold publishing up where it stores its publication (a PostgreSQL table lock; on
    SQLite the writer lock) until the returned function is called."""
    url = app.config["DATABASE_URL"]
    engine = create_engine(url)
    try:
        if ON_POSTGRES:
            with engine.connect() as connection:
                transaction = connection.begin()
                connection.execute(text("LOCK TABLE publication IN SHARE MODE"))
                try:
                    yield transaction.commit
                finally:
                    if transaction.is_active:
                        transaction.rollback()
        else:
            from surveys.db import writer_lock

            held = writer_lock(engine)
            held.__enter__()
            released = []

            def release() -> None:
                if not released:
                    released.append(held.__exit__(None, None, None))

            try:
                yield release
            finally:
                release()
    finally:
        engine.dispose()


def _year_locked(app) -> bool:
    """Whether a process holds a year's publishing lock (the test publishes only 2023),
    as the service itself looks (``locks.any_held``): on PostgreSQL read from pg_locks,
    since taking the lock to look would make a publisher that tries at that instant give
    up (PublishBusy); on SQLite taken and given back at once (an flock call's moment)."""
    with app.app_context():
        return locks.any_held(db.session())


def test_a_killed_publish_frees_the_year_at_once(app, runner, tmp_path):
    """Issue 18.8: `surveys publish` killed while it holds the year's lock left the year
    locked for an hour. The lock now dies with the process."""
    import_seed(runner, tmp_path, publish=False)
    with _blocked_writes(app) as release:
        process = _start(app, "publish", "--year", "2023")
        try:
            _until(
                lambda: _year_locked(app),
                what="`surveys publish` took the year's lock",
                process=process,
            )
            process.kill()  # SIGKILL: no clean-up of its own
            process.wait()
        finally:
            _stop(process)
        _until(lambda: not _year_locked(app), seconds=5, what="the lock died with it")
        release()
    assert count_rows(app, "publication") == 0  # the killed one stored nothing
    again = runner.invoke(args=["publish", "--year", "2023"])
    assert again.exit_code == 0, again.output
    assert "2023 är publicerat (version 1)." in again.output


@pytest.mark.skipif(
    not ON_POSTGRES, reason="several instances share a PostgreSQL database (TEST_DB=postgresql)"
)
def test_two_instances_and_a_worker_killed_mid_job_publish_once(
    no_runner, make_user, runner, tmp_path
):
    """Two app instances and two workers against one PostgreSQL: the administrator asks
    on one instance, a worker claims the job and is killed while publishing; the other
    worker takes the job up when the lease runs out and it is published once, as the
    other instance's job page shows."""
    first = no_runner
    import_seed(runner, tmp_path, publish=False)
    second = create_app(dict(first.config))  # another instance: its own engine and workers
    admin = make_user("administratör", email="chef@example.invalid")
    asks, watches = first.test_client(), second.test_client()
    assert login(asks, admin).status_code == 302
    assert login(watches, admin).status_code == 302
    options = ("worker", "--poll", "0.1", "--lease", "3", "--priority", "normal")
    with _blocked_writes(first) as release:
        workers = [_start(first, *options), _start(second, *options)]
        try:
            job_id = _publish_button(asks).headers["Location"].rsplit("/", 1)[1]
            claimed = _until(lambda: _job(first, job_id).worker, what="a worker claimed the job")
            pid = int(str(claimed).split(":")[1])
            victim = next(w for w in workers if w.pid == pid)
            survivor = next(w for w in workers if w.pid != pid)
            # the claiming worker is inside publishing, waiting to store: kill it there
            _until(lambda: _waiting_on_publication(first), what="publishing reached its store")
            victim.kill()
            victim.wait()
            release()
            page = _until(
                lambda: (
                    "publicerat (version"
                    in (t := watches.get(f"/admin/publicera/jobb/{job_id}").text)
                    and t
                ),
                what="the other worker finished the job",
            )
            assert "2023 är publicerat (version 1)." in str(page)
            job = _job(first, job_id)
            assert (job.status, job.attempts) == ("done", 2)
            assert job.worker.split(":")[1] == str(survivor.pid)
        finally:
            for process in workers:
                _stop(process)
    assert count_rows(first, "publication") == 1
    assert scalar(first, "SELECT job_id FROM publication") == job_id
    audit = "SELECT COUNT(*) FROM audit_entry WHERE action = 'publicering.publicera'"
    assert scalar(first, audit) == 1
    second.extensions["engine"].dispose()


def _waiting_on_publication(app) -> bool:
    """A PostgreSQL backend waits for the lock on ``publication`` (publishing's store)."""
    query = (
        "SELECT COUNT(*) FROM pg_locks WHERE NOT granted AND relation = 'publication'::regclass "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return bool(scalar(app, query))


# --- the live preview as a job -----------------------------------------------------


def _follow_preview(app, admin_client, runner, path: str):
    """Ask for a page that needs the preview: the job's page, a worker, then the page."""
    first = admin_client.get(path)
    assert first.status_code == 302
    assert "/admin/publicera/jobb/" in first.headers["Location"]
    waiting = admin_client.get(first.headers["Location"])
    assert waiting.status_code == 200
    assert "Förhandsgranskningen tas fram" in waiting.text
    assert "data-job-running" in waiting.text
    assert runner.invoke(args=["worker", "--once", "--priority", "normal"]).exit_code == 0
    done = admin_client.get(first.headers["Location"])
    assert done.status_code == 302
    assert done.headers["Location"].endswith(path)
    return done


def test_the_preview_is_counted_and_drawn_by_a_job_then_shown_from_its_snapshot(
    no_runner, admin_client, runner, tmp_path
):
    app = no_runner
    import_seed(runner, tmp_path, publish=False)
    _follow_preview(app, admin_client, runner, "/rapport/2023/forhandsgranskning")
    assert scalar(app, "SELECT status FROM background_job WHERE kind = 'preview'") == "done"
    # the job drew the charts ...
    live = "SELECT {} FROM report_asset WHERE cache_key LIKE 'live-%'"
    drawn_by_job = scalar(app, live.format("MAX(cache_key)"))
    assert scalar(app, live.format("COUNT(*)")) >= 32
    page = admin_client.get("/rapport/2023/forhandsgranskning")
    assert page.status_code == 200
    assert "Förhandsgranskning – inte publicerad" in page.text
    assert "96% (81%)" in page.text
    # ... and the page showed them: the web worker drew no live set of its own
    assert scalar(app, live.format("COUNT(DISTINCT cache_key)")) == 1
    assert scalar(app, live.format("MAX(cache_key)")) == drawn_by_job
    again = admin_client.get("/rapport/2023/forhandsgranskning")
    assert again.status_code == 200
    assert "96% (81%)" in again.text
    assert count_rows(app, "background_job") == 1  # shown from the snapshot, not counted again
    assert count_rows(app, "publication") == 0  # a preview publishes nothing


def test_the_preview_of_one_insats_comes_back_to_that_insats(app, admin_client, runner, tmp_path):
    import_seed(runner, tmp_path, publish=False)
    first = admin_client.get("/rapport/2023/forhandsgranskning?insats=finns-inte")
    assert first.status_code == 302
    back = admin_client.get(first.headers["Location"])
    assert back.status_code == 302
    assert back.headers["Location"].endswith("/rapport/2023/forhandsgranskning?insats=finns-inte")


def test_comments_on_an_unpublished_year_wait_for_the_preview_job(
    no_runner, admin_client, runner, tmp_path
):
    """The comments page of an unpublished year reads the preview job's snapshot: the
    request itself never counts the answers."""
    app = no_runner
    import_seed(runner, tmp_path, publish=False, as_nns=True)
    _follow_preview(app, admin_client, runner, "/admin/kommentarer/2023")
    page = admin_client.get("/admin/kommentarer/2023")
    assert page.status_code == 200
    # the factual starting line comes from the job's counts
    assert "Förbundets resultat för Deltagare avslut (samtliga) är 96 % positivt" in page.text
    assert count_rows(app, "background_job") == 1


def test_the_publishing_page_shows_the_snapshot_and_when_it_was_counted(
    app, admin_client, runner, tmp_path
):
    import_seed(runner, tmp_path, publish=False)
    first = admin_client.get("/admin/publicera/2023")
    assert first.status_code == 302
    assert "sida=publicera" in first.headers["Location"]
    back = admin_client.get(first.headers["Location"])
    assert back.headers["Location"].endswith("/admin/publicera/2023")
    page = admin_client.get("/admin/publicera/2023")
    assert page.status_code == 200
    assert "Siffrorna räknades fram klockan" in page.text
    assert "resultatrader (förbundet och varje insats)" in page.text
    recount = admin_client.get("/admin/publicera/2023?omrakna=1")
    assert recount.status_code == 302
    assert "/admin/publicera/jobb/" in recount.headers["Location"]
    assert count_rows(app, "background_job") == 2


def test_the_snapshot_holds_exactly_what_counting_now_gives(app, runner, tmp_path, fake_clock):
    import_seed(runner, tmp_path, publish=False)
    with app.app_context():
        session = db.session()
        job, new = jobs.request_preview(session, CHEF, year=2023, min_cell=5)
        session.commit()
        assert new
    done = worker.run_inline(app, job.id)
    assert done is not None
    assert done.message == "Förhandsgranskningen av 2023 är klar."
    with app.app_context():
        session = db.session()
        found = jobs.preview_snapshot(session, 2023, min_cell=5)
        assert found is not None
        snapshot = found[1]
        now = compute(session, instrument_from_db(session), year=2023, min_cell=5)
        keys = ["scope", "indicator", "questionnaire", "question", "subgroup"]
        expected = now.rows.sort_values(keys, kind="stable").reset_index(drop=True)
        got = snapshot.rows.sort_values(keys, kind="stable").reset_index(drop=True)
        assert len(got) == len(expected) > 0
        for column in expected.columns:
            assert got[column].astype(str).tolist() == expected[column].astype(str).tolist()
        assert snapshot.groups["count"].sum() == now.groups["count"].sum()
        # another threshold, time passing or a publication of the year: counted again
        assert jobs.preview_snapshot(session, 2023, min_cell=6) is None
        fake_clock.advance(seconds=jobs.PREVIEW_FRESH.total_seconds() - 1)
        assert jobs.preview_snapshot(session, 2023, min_cell=5) is not None
        fake_clock.advance(seconds=2)
        assert jobs.preview_snapshot(session, 2023, min_cell=5) is None
        fake_clock.advance(seconds=-2)
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    with app.app_context():
        assert jobs.preview_snapshot(db.session(), 2023, min_cell=5) is None


def _finished_preview(app, runner, tmp_path) -> str:
    """The seed's 2023 answers, previewed by a job run to its end: the job's id."""
    import_seed(runner, tmp_path, publish=False)
    with app.app_context():
        session = db.session()
        job, _ = jobs.request_preview(session, CHEF, year=2023, min_cell=5)
        session.commit()
    assert worker.run_inline(app, job.id) is not None
    return job.id


def test_a_worker_reads_a_finished_previews_snapshot_once_and_keeps_copies(app, runner, tmp_path):
    """A finished preview job's snapshot is never written again, so a worker reads it
    once and keeps it by the job's id; it still asks each time whether the snapshot is
    stored (a newer preview drops it), and hands out copies."""
    job_id = _finished_preview(app, runner, tmp_path)
    snapshot = "UPDATE report_asset SET body = :body WHERE cache_key LIKE 'forhandsgranskning-%'"
    with app.app_context():
        session = db.session()
        done = session.get(BackgroundJob, job_id)
        first = jobs.load_snapshot(session, done, 2023)
        assert first is not None
        shown = first.rows["n"].sum()
        assert shown > 0
        first.rows["n"] = 0  # a caller changing its copy changes nothing kept
        # read once: the stored body is not parsed again (planted text would fail to parse)
        session.execute(text(snapshot), {"body": b"{}"})
        session.commit()
        again = jobs.load_snapshot(session, done, 2023)
        assert again is not None
        assert again.rows["n"].sum() == shown
        again.rows["n"] = 0  # nor a change to what the kept one was copied into
        third = jobs.load_snapshot(session, done, 2023)
        assert third is not None
        assert third.rows["n"].sum() == shown
        # a newer preview of the year drops the snapshot: the kept one is not shown
        session.execute(
            text("DELETE FROM report_asset WHERE cache_key LIKE 'forhandsgranskning-%'")
        )
        session.commit()
        assert jobs.load_snapshot(session, done, 2023) is None


def test_a_running_jobs_snapshot_is_not_kept(app, runner, tmp_path):
    """A job still running may store its snapshot again (a retry after a lost lease):
    what it stored is read each time until the job is done."""
    job_id = _finished_preview(app, runner, tmp_path)
    running = SimpleNamespace(id=job_id, status=jobs.RUNNING)  # as a retry stands
    with app.app_context():
        session = db.session()
        computed = jobs.load_snapshot(session, running, 2023)
        assert computed is not None
        assert len(computed.rows) > 1
        stored_again = {
            "rows": computed.rows.iloc[:1].to_json(orient="table", index=False),
            "groups": computed.groups.to_json(orient="table", index=False),
            "min_cell": 5,
            "protect_other": computed.protect_other,
        }
        session.execute(
            text(
                "UPDATE report_asset SET body = :body WHERE cache_key LIKE 'forhandsgranskning-%'"
            ),
            {"body": json.dumps(stored_again).encode()},
        )
        session.commit()
        read_again = jobs.load_snapshot(session, running, 2023)
        assert read_again is not None
        assert len(read_again.rows) == 1


def test_readers_never_start_a_preview_job(app, client, make_user, runner, tmp_path):
    import_seed(runner, tmp_path, publish=False)
    reader = make_user("läsare", email="lasare@example.invalid")
    assert login(client, reader).status_code == 302
    assert client.get("/rapport/2023/forhandsgranskning").status_code == 403
    assert client.get("/admin/publicera/2023").status_code in (302, 403)
    assert count_rows(app, "background_job") == 0


def test_a_queued_job_no_worker_takes_says_so_without_writing(
    no_runner, admin_client, runner, tmp_path, fake_clock
):
    app = no_runner
    import_seed(runner, tmp_path, publish=False)
    job_id = _queued(app)
    fake_clock.advance(seconds=jobs.NEVER_STARTED.total_seconds() + 1)
    before = _job_row(app, job_id)
    page = admin_client.get(f"/admin/publicera/jobb/{job_id}")
    assert "ingen bakgrundsprocess verkar vara igång" in page.text
    assert _job_row(app, job_id) == before


def test_the_worker_outlives_a_database_it_cannot_reach(tmp_path, caplog):
    """PostgreSQL restarting or a full disk must not end the worker: it logs and tries
    again (a job it held is taken up again when its lease runs out)."""
    import threading

    away = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/finns-inte/db.sqlite", "SECRET_KEY": SECRET}
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            worker.serve(away, stop=stop, poll=0.05)
        except BaseException as exc:  # noqa: BLE001 - the test asserts there is none
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        _until(lambda: "nådde inte databasen" in caplog.text, seconds=30, what="the failure logged")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert errors == []


def test_a_worker_on_a_database_without_its_tables_ends_with_the_command_to_run(tmp_path):
    """No tables (or an older schema) is no outage that waiting mends: `worker` (and
    `worker --once`, which must end) said "nådde inte databasen" with a traceback every
    5 s for ever. Now one Swedish line naming `db upgrade`, exit 1, at once."""
    (tmp_path / "ny.sqlite").touch()  # there, without the service's tables
    fresh = f"sqlite:///{tmp_path / 'ny.sqlite'}"
    for args in (["worker", "--once"], ["worker", "--poll", "0.1"]):
        result = subprocess.run(
            [sys.executable, "-m", "surveys", *args, "--priority", "normal"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "DATABASE_URL": fresh,
                "SECRET_KEY": SECRET,
                "SURVEYS_ENV": "development",
                "SURVEYS_INSTANCE": str(tmp_path),
            },
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert "Fel: Databasen saknar tjänstens tabeller. Kör surveys db upgrade" in result.stderr
        assert "Traceback" not in result.stderr
        assert "nådde inte databasen" not in result.stderr


def test_a_job_that_waited_is_not_done_for_an_administrator_who_has_since_lost_the_role(
    app, runner, tmp_path, make_user
):
    """No worker ran while the job waited; meanwhile its administrator was deactivated
    (or made a reader). The worker then refuses it with a Swedish reason: nothing is
    published in her name. An administrator still in office has hers done."""
    import_seed(runner, tmp_path, publish=False)
    email = make_user("administratör", email="avgatt@example.invalid")
    requester = Actor(email=email, role=Role.admin.value)
    published = "SELECT COUNT(*) FROM audit_entry WHERE action = 'publicering.publicera'"
    for change in (
        "UPDATE app_user SET active = FALSE",
        "UPDATE app_user SET active = TRUE, role = 'läsare'",
        "UPDATE app_user SET role = 'administratör'",  # back in office
    ):
        with app.app_context():
            session = db.session()
            job = jobs.request_publish(session, requester, year=2023, min_cell=5)
            session.execute(text(change + " WHERE email = :e"), {"e": email})
            session.commit()
            job_id = job.id
        done = worker.run_inline(app, job_id)
        assert done is not None
        if "administratör" in change:
            assert done.status == jobs.DONE
            assert scalar(app, "SELECT published_by FROM publication") == email
            assert scalar(app, published) == 1
        else:
            assert done.status == jobs.FAILED
            assert "avgatt@example.invalid är inte längre administratör" in done.message
            assert count_rows(app, "publication") == 0
            assert scalar(app, published) == 0


def test_a_job_is_done_only_for_an_account_or_the_system_itself(app, runner, tmp_path):
    """A requester with no account (never an administrator here) is refused like a
    deactivated one; the command line's own name is the system and is served."""
    from surveys.services.actor import CLI

    import_seed(runner, tmp_path, publish=False)
    outcomes = []
    for requester in (Actor(email="okand@example.invalid", role=Role.admin.value), CLI):
        with app.app_context():
            session = db.session()
            job = jobs.request_publish(session, requester, year=2023, min_cell=5)
            session.commit()
            job_id = job.id
        done = worker.run_inline(app, job_id)
        assert done is not None
        outcomes.append((done.status, done.message))
    assert outcomes[0] == (
        jobs.FAILED,
        "okand@example.invalid har inget konto här, så jobbet gjordes inte. "
        "Be en administratör att göra det igen.",
    )
    assert outcomes[1] == (jobs.DONE, "2023 är publicerat (version 1).")
    assert scalar(app, "SELECT published_by FROM publication") == CLI.email
