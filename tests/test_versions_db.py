"""Versions are tables too, through the service: previews are kept as versions, a new
version holds back what changed too little since any shown version, and paper forms
typed into a published year go through the administrator and a republication.

The bounded attacker itself plays these cases on pure tables in
``tests/test_disclosure_versions.py``; here the database, the preview job, the
publishing page and the staff pages are real.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from surveys import clock, db, worker
from surveys.services import jobs
from tests.conftest import count_rows, csrf, login, paper_key, report_rows, scalar
from tests.factories import CHEF

HEADER = "year,questionnaire,insats,gender,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11\n"
KEYS = ["scope", "indicator", "questionnaire", "question", "subgroup"]


def line(year: int, insats: str, gender: str, q3: int = 5) -> str:
    return f"{year},deltagare_avslut,{insats},{gender},5,4,{q3},2,5,3,4,2,,,\n"


def import_lines(runner, tmp_path, name: str, lines: list[str]) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    result = runner.invoke(args=["import", "answers", str(path)])
    assert result.exit_code == 0, result.output


def base_lines(year: int) -> list[str]:
    lines = []
    for insats in ("Steget", "Insats B"):
        lines += [line(year, insats, "kvinna")] * 6 + [line(year, insats, "man")] * 7
    return lines


def preview(app, year: int):
    """Run a preview job to the end (as the worker does) and return its snapshot."""
    with app.app_context():
        session = db.session()
        job, new = jobs.request_preview(session, CHEF, year=year, min_cell=5)
        session.commit()
        assert new
    done = worker.run_inline(app, job.id)
    assert done is not None
    assert done.status == jobs.DONE, done.message
    with app.app_context():
        computed = jobs.load_snapshot(db.session(), done, year)
        assert computed is not None
        return computed


def steget(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows[rows["scope"] == "Steget"].astype({"question": "Int64"})
    return out.sort_values(KEYS, kind="stable").reset_index(drop=True).astype(str)


def test_the_preview_difference_attack_learns_nothing(app, admin_client, runner, tmp_path):
    """Preview, a release batch of five with one woman arrives, preview again: the second
    preview shows Steget as the first did, and the pages say five questionnaires wait."""
    year = clock.today().year - 1
    import_lines(runner, tmp_path, "svar", base_lines(year))
    first = preview(app, year)
    assert scalar(app, "SELECT COUNT(*) FROM shown_version WHERE kind = 'preview'") == 1
    batch = [line(year, "Steget", "man")] * 4 + [line(year, "Steget", "kvinna", q3=1)]
    import_lines(runner, tmp_path, "sena", batch)
    second = preview(app, year)
    # subtracting the two previews gives nothing: Steget is shown exactly as before
    pd.testing.assert_frame_equal(steget(second.rows), steget(first.rows))
    kvinnor = steget(second.rows)
    assert set(kvinnor[kvinnor["subgroup"] == "kvinnor"]["n"]) <= {"6", "0", "<NA>"}  # 0: q9, q10
    assert second.waiting == 5
    page = admin_client.get(f"/admin/publicera/{year}")
    assert page.status_code == 200
    assert f"5 enkäter som kommit in sedan en tidigare visad version av {year}" in page.text
    report = admin_client.get(f"/rapport/{year}/forhandsgranskning")
    assert report.status_code == 200
    assert "räknas inte in än" in report.text
    # publishing keeps the same figures (and counts as a shown version too)
    assert runner.invoke(args=["publish", "--year", str(year)]).exit_code == 0
    assert scalar(app, "SELECT COUNT(*) FROM shown_version WHERE kind = 'publication'") == 1
    rows = report_rows(runner, year, insats="Steget")
    q3 = [r for r in rows if r["question"] == "3" and r["subgroup"] == "kvinnor"]
    assert [r["n"] for r in q3] == ["6"]
    # five more women: enough has changed, all ten wait no longer
    import_lines(runner, tmp_path, "senare", [line(year, "Steget", "kvinna")] * 4)
    import_lines(runner, tmp_path, "sist", [line(year, "Steget", "man")])
    assert runner.invoke(args=["publish", "--year", str(year)]).exit_code == 0
    rows = report_rows(runner, year, insats="Steget")
    q3 = [r for r in rows if r["question"] == "3" and r["subgroup"] == "kvinnor"]
    assert [r["n"] for r in q3] == ["11"]


@pytest.fixture
def published_round(app, runner, tmp_path, make_round):
    """A closed round of Steget in a published year (this year) with imported answers."""
    year = clock.today().year
    r = make_round("deltagare_avslut", insats="Steget")
    import_lines(runner, tmp_path, "svar", base_lines(year))
    assert runner.invoke(args=["publish", "--year", str(year)]).exit_code == 0
    return year, r


def test_staff_cannot_reopen_or_type_into_a_published_year(
    app, client, make_user, runner, published_round
):
    year, r = published_round
    assert login(client, make_user("personal", insatser=["Steget"])).status_code == 302
    before = (count_rows(app, "response"), count_rows(app, "paper_typist"))
    url = f"/personal/omgang/{r.id}/papper"
    page = client.get(url, follow_redirects=True)
    assert f"Resultaten för {year} är publicerade: pappersenkäter för det året" in page.text
    assert "Ingenting har ändrats." in page.text
    posted = client.post(
        url,
        data={"csrf_token": csrf(client), "form_key": "x" * 24, "gender": "kvinna", "q1": "6"},
        follow_redirects=True,
    )
    assert "registreras av administratören" in posted.text
    reopened = client.post(
        f"/personal/omgang/{r.id}/oppna", data={"csrf_token": csrf(client)}, follow_redirects=True
    )
    assert "bara administratören kan öppna en mätomgång för det året igen" in reopened.text
    assert (count_rows(app, "response"), count_rows(app, "paper_typist")) == before
    state = scalar(app, "SELECT state FROM round WHERE id = :id", id=r.id)
    assert state == "closed"


def test_the_administrator_types_into_a_published_year_and_republishing_holds_the_rule(
    app, client, make_user, runner, tmp_path, published_round
):
    """Four forms typed by the administrator and one late woman from a file: five new in
    Steget's kvinnor, four known to the administrator. The group waits."""
    year, r = published_round
    first = report_rows(runner, year, insats="Steget")
    assert login(client, make_user("administratör")).status_code == 302
    url = f"/personal/omgang/{r.id}/papper"
    for _ in range(4):
        key = paper_key(client.get(url).text)
        form = {"csrf_token": csrf(client), "form_key": key, "gender": "kvinna"}
        form |= {"q1": "6", "q2": "6", "q3": "6", "q4": "6", "q5": "6", "q6": "6", "q7": "6"}
        form |= {"q8": "2"}
        assert client.post(url, data=form).status_code == 302
    import_lines(runner, tmp_path, "sen", [line(year, "Steget", "kvinna", q3=1)])
    assert scalar(app, "SELECT SUM(count) FROM paper_typist") == 4
    assert runner.invoke(args=["publish", "--year", str(year)]).exit_code == 0
    assert report_rows(runner, year, insats="Steget") == first  # nothing to subtract
    note = scalar(app, "SELECT method_note FROM publication WHERE version = 2")
    assert f"5 enkäter som kommit in sedan en tidigare visad version av {year}" in note
    with app.app_context():
        kinds = db.session().execute(text("SELECT kind FROM shown_version ORDER BY seq")).all()
    assert [k for (k,) in kinds] == ["publication", "publication"]


def test_a_renamed_insats_is_the_same_group_in_the_next_version(app, runner, tmp_path):
    """Shown versions follow a rename as publications do: nothing waits, nothing reappears
    under the old name."""
    from sqlmodel import select

    from surveys.models import Intervention
    from surveys.services.rounds import rename_intervention

    year = clock.today().year - 1
    lines = base_lines(year) + [line(year, "Steget", "annat")] * 2
    import_lines(runner, tmp_path, "svar", lines)
    preview(app, year)
    with app.app_context():
        session = db.session()
        steget = session.exec(select(Intervention).where(Intervention.name == "Steget")).one()
        rename_intervention(session, steget, "Steget vidare")
        session.commit()
        body = session.execute(text("SELECT counts FROM shown_version")).scalar_one()
    assert "Steget vidare" in bytes(body).decode("utf-8")
    second = preview(app, year)
    assert second.waiting == 0
    assert "Steget" not in set(second.rows["scope"])
    assert "Steget vidare" in set(second.rows["scope"])
