"""Publishing as a background job (issue 13, participants first): a real separate process
against the test's own database, the page's states, the failure message and the lock."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from surveys import clock, db
from surveys.models import BackgroundJob, PublishLock
from surveys.services import jobs
from surveys.services.catalogue import instrument_from_db
from surveys.services.publications import compute
from tests import factories
from tests.conftest import count_rows, form_token, login
from tests.test_publications import import_seed, scalar


def _confirm(admin_client, year: int = 2023):
    page = admin_client.get(f"/admin/publicera/{year}")
    return admin_client.post(
        f"/admin/publicera/{year}",
        data={"csrf_token": form_token(page.text), "confirm": "y"},
    )


def _queued(app, year: int = 2023) -> str:
    with app.app_context():
        job = jobs.request_publish(
            db.session(), year=year, user_email="chef@example.invalid", min_cell=5
        )
        return job.id


def test_the_page_says_publishing_is_under_way_then_shows_the_result(
    app, admin_client, runner, tmp_path
):
    import_seed(runner, tmp_path)
    job_id = _queued(app)
    waiting = admin_client.get(f"/admin/publicera/jobb/{job_id}")
    assert waiting.status_code == 200
    assert "Publiceringen pågår" in waiting.text
    assert '<meta http-equiv="refresh"' in waiting.text
    assert count_rows(app, "publication") == 0
    # the year's own page sends the administrator to the job instead of a second button
    year_page = admin_client.get("/admin/publicera/2023")
    assert year_page.status_code == 302
    assert year_page.headers["Location"].endswith(f"/admin/publicera/jobb/{job_id}")
    jobs.spawn(app, job_id)
    jobs.wait_for_jobs()
    done = admin_client.get(f"/admin/publicera/jobb/{job_id}")
    assert "2023 är publicerat (version 1)." in done.text
    assert "Publiceringen pågår" not in done.text
    assert '<meta http-equiv="refresh"' not in done.text
    assert "/rapport/2023" in done.text
    assert count_rows(app, "publication") == 1
    assert scalar(app, "SELECT status FROM background_job") == "done"
    assert scalar(app, "SELECT published_by FROM publication") == "chef@example.invalid"
    assert count_rows(app, "publish_lock") == 0
    # the publication is the one readers are served, with its charts drawn by the job
    report = admin_client.get("/rapport/2023")
    assert report.status_code == 200
    assert "96% (81%)" in report.text
    assert count_rows(app, "report_asset") > 0


def test_the_process_runs_at_low_priority_with_the_apps_database(app):
    cmd = jobs.command("abc")
    assert cmd[-5:] == [sys.executable, "-m", "surveys", "run-job", "abc"]
    # the same prefix really starts a process that only gets an otherwise idle CPU
    probe = "import os; print(os.sched_getscheduler(0) == os.SCHED_IDLE, os.nice(0))"
    started = subprocess.run(
        [*cmd[:-5], sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert started.stdout.split() == ["True", "10"]
    env = jobs.child_environment(app.config)
    assert env["DATABASE_URL"] == app.config["DATABASE_URL"]
    assert env["SURVEYS_INSTANCE"] == app.config["INSTANCE_DIR"]


def test_a_second_publish_of_the_same_year_is_refused_while_one_runs(
    app, admin_client, runner, tmp_path
):
    import_seed(runner, tmp_path)
    first = _queued(app)
    page = admin_client.get("/admin/publicera")
    second = admin_client.post(
        "/admin/publicera/2023",
        data={"csrf_token": form_token(page.text), "confirm": "y"},
        follow_redirects=True,
    )
    assert "År 2023 håller redan på att publiceras" in second.text
    assert count_rows(app, "background_job") == 1
    assert scalar(app, "SELECT id FROM background_job") == first


def test_a_refused_publication_gives_a_clear_message_and_changes_nothing(
    app, admin_client, runner, tmp_path
):
    import_seed(runner, tmp_path)
    with app.app_context():
        session = db.session()
        session.add(PublishLock(year=2023, started_at=clock.now()))  # e.g. the CLI publishing
        session.commit()
    started = _confirm(admin_client)
    assert started.status_code == 302
    jobs.wait_for_jobs()
    failed = admin_client.get(started.headers["Location"])
    assert failed.status_code == 200
    assert "År 2023 håller redan på att publiceras. Vänta en stund och försök igen." in failed.text
    assert "Tillbaka till Publicera 2023" in failed.text
    assert scalar(app, "SELECT status FROM background_job") == "failed"
    assert count_rows(app, "publication") == 0
    assert count_rows(app, "publish_lock") == 1  # the other publisher's lock is not ours to drop


def test_a_crashed_job_does_not_leave_the_year_locked(app, admin_client, runner, tmp_path):
    import_seed(runner, tmp_path)
    job_id = _queued(app)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603 - our interpreter
    dead.wait()
    with app.app_context():
        session = db.session()
        job = session.get(BackgroundJob, job_id)
        assert job is not None
        job.status, job.pid, job.started_at = "running", dead.pid, clock.utcnow()
        session.add(job)
        # the process took the year's lock, then died (SIGKILL, out of memory, power cut)
        session.add(PublishLock(year=2023, started_at=clock.now()))
        session.commit()
    page = admin_client.get(f"/admin/publicera/jobb/{job_id}")
    assert "Publiceringen av 2023 avbröts innan den blev klar. Ingenting publicerades." in page.text
    assert '<meta http-equiv="refresh"' not in page.text
    assert count_rows(app, "publish_lock") == 0
    # and the year can be published again at once
    again = _confirm(admin_client)
    assert again.status_code == 302
    jobs.wait_for_jobs()
    assert "2023 är publicerat (version 1)." in admin_client.get(again.headers["Location"]).text
    assert count_rows(app, "publication") == 1


def test_a_job_no_process_ever_claimed_is_marked_failed(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    job_id = _queued(app)
    with app.app_context():
        session = db.session()
        job = session.get(BackgroundJob, job_id)
        assert job is not None
        jobs.refresh(session, job, now=clock.utcnow() + timedelta(minutes=1))
        assert job.status == "queued"
        jobs.refresh(session, job, now=clock.utcnow() + timedelta(minutes=3))
        assert job.status == "failed"
        assert "avbröts" in job.message


def test_the_job_command_refuses_an_unknown_or_finished_job(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    unknown = runner.invoke(args=["run-job", "finns-inte"])
    assert unknown.exit_code == 1
    assert "Jobbet finns inte eller har redan körts" in unknown.output
    job_id = _queued(app)
    first = runner.invoke(args=["run-job", job_id])
    assert first.exit_code == 0, first.output
    assert "2023 är publicerat (version 1)." in first.output
    assert "8 nedladdningar gjorda" in first.output
    # the job built the downloads of the förbund and its one insats: a reader's request
    # only reads them
    stored = "SELECT COUNT(*) FROM report_asset WHERE name LIKE '2023-rapport-%.{}'"
    for fmt in ("csv", "xlsx", "pdf", "docx"):
        assert scalar(app, stored.format(fmt)) == 2, fmt
    twice = runner.invoke(args=["run-job", job_id])
    assert twice.exit_code == 1
    assert count_rows(app, "publication") == 1


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
        "pid",
        "min_cell",
        "message",
    }


# --- the live preview as a job -----------------------------------------------------


def _follow_preview(admin_client, path: str):
    """Ask for a page that needs the preview: the job's page, then (job done) the page."""
    first = admin_client.get(path)
    assert first.status_code == 302
    assert "/admin/publicera/jobb/" in first.headers["Location"]
    waiting = admin_client.get(first.headers["Location"])
    if waiting.status_code == 200:  # still counting (else already done: a redirect)
        assert "Förhandsgranskningen tas fram" in waiting.text
        assert '<meta http-equiv="refresh"' in waiting.text
    jobs.wait_for_jobs()
    done = admin_client.get(first.headers["Location"])
    assert done.status_code == 302
    assert done.headers["Location"].endswith(path)
    return done


def test_the_preview_is_counted_and_drawn_by_a_job_then_shown_from_its_snapshot(
    app, admin_client, runner, tmp_path
):
    app.config["PREVIEW_IN_BACKGROUND"] = True
    import_seed(runner, tmp_path)
    _follow_preview(admin_client, "/rapport/2023/forhandsgranskning")
    assert scalar(app, "SELECT status FROM background_job WHERE kind = 'preview'") == "done"
    # the job drew the charts ...
    live = "SELECT {} FROM report_asset WHERE cache_key LIKE 'live-%'"
    drawn_by_job = scalar(app, live.format("MAX(cache_key)"))
    assert scalar(app, live.format("COUNT(*)")) >= 32
    page = admin_client.get("/rapport/2023/forhandsgranskning")
    assert page.status_code == 200
    assert "Förhandsgranskning – inte publicerad" in page.text
    assert "96% (81%)" in page.text
    # ... and the page showed them: the worker drew no live set of its own
    assert scalar(app, live.format("COUNT(DISTINCT cache_key)")) == 1
    assert scalar(app, live.format("MAX(cache_key)")) == drawn_by_job
    again = admin_client.get("/rapport/2023/forhandsgranskning")
    assert again.status_code == 200
    assert "96% (81%)" in again.text
    assert count_rows(app, "background_job") == 1  # shown from the snapshot, not counted again
    assert count_rows(app, "publication") == 0  # a preview publishes nothing


def test_comments_on_an_unpublished_year_wait_for_the_preview_job(
    app, admin_client, runner, tmp_path
):
    """The comments page of an unpublished year reads the preview job's snapshot: the
    request itself never counts the answers."""
    app.config["PREVIEW_IN_BACKGROUND"] = True
    factories.import_seed(runner, tmp_path, publish=False, as_nns=True)
    _follow_preview(admin_client, "/admin/kommentarer/2023")
    page = admin_client.get("/admin/kommentarer/2023")
    assert page.status_code == 200
    # the factual starting line comes from the job's counts
    assert "Förbundets resultat för Deltagare avslut (samtliga) är 96 % positivt" in page.text
    assert count_rows(app, "background_job") == 1


def test_the_publishing_page_shows_the_snapshot_and_when_it_was_counted(
    app, admin_client, runner, tmp_path
):
    app.config["PREVIEW_IN_BACKGROUND"] = True
    import_seed(runner, tmp_path)
    first = admin_client.get("/admin/publicera/2023")
    assert first.status_code == 302
    assert "sida=publicera" in first.headers["Location"]
    jobs.wait_for_jobs()
    back = admin_client.get(first.headers["Location"])
    assert back.headers["Location"].endswith("/admin/publicera/2023")
    page = admin_client.get("/admin/publicera/2023")
    assert page.status_code == 200
    assert "Siffrorna räknades fram klockan" in page.text
    assert "resultatrader (förbundet och varje insats)" in page.text
    recount = admin_client.get("/admin/publicera/2023?omrakna=1")
    assert recount.status_code == 302
    assert "/admin/publicera/jobb/" in recount.headers["Location"]
    jobs.wait_for_jobs()
    assert count_rows(app, "background_job") == 2


def test_the_snapshot_holds_exactly_what_counting_now_gives(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    with app.app_context():
        session = db.session()
        job, new = jobs.request_preview(
            session, year=2023, user_email="chef@example.invalid", min_cell=5
        )
        assert new
    result = runner.invoke(args=["run-job", job.id])
    assert result.exit_code == 0, result.output
    assert "Förhandsgranskningen av 2023 är klar." in result.output
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
        # another threshold, a publication of the year or time passing: counted again
        assert jobs.preview_snapshot(session, 2023, min_cell=6) is None
        later = clock.utcnow() + jobs.PREVIEW_FRESH + timedelta(seconds=1)
        assert jobs.preview_snapshot(session, 2023, min_cell=5, now=later) is None
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    with app.app_context():
        assert jobs.preview_snapshot(db.session(), 2023, min_cell=5) is None


def test_readers_never_start_a_preview_job(app, client, make_user, runner, tmp_path):
    app.config["PREVIEW_IN_BACKGROUND"] = True
    import_seed(runner, tmp_path)
    reader = make_user("läsare", email="lasare@example.invalid")
    assert login(client, reader).status_code == 302
    assert client.get("/rapport/2023/forhandsgranskning").status_code == 403
    assert client.get("/admin/publicera/2023").status_code in (302, 403)
    assert count_rows(app, "background_job") == 0
