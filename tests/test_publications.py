"""Publications (DESIGN.md principle 3): computed once, frozen, the only source of every report."""

from __future__ import annotations

import csv
import io

from sqlalchemy import event, inspect, text

from surveys import clock, db
from surveys.names import name_key
from surveys.services import locks
from tests import seedrows
from tests.conftest import (
    answer_open,
    close_as_staff,
    count_rows,
    form_token,
    login,
    paper_key,
    report_rows,
    scalar,
)


def import_seed(runner, tmp_path) -> None:
    path = tmp_path / "svar.csv"
    path.write_text(seedrows.csv_text(), encoding="utf-8")
    result = runner.invoke(args=["import", "answers", str(path)])
    assert result.exit_code == 0, result.output


def published_steget(app, runner, make_round):
    """Six personal questionnaires of this year for the insats Steget, published: the
    year, the round, the respondents' client and Steget's report rows."""
    year = clock.today().year
    r = make_round("personal", year=year, insats="Steget")
    client = app.test_client()
    answer_open_link(client, r, ["6", "5", "6", "4", "6", "6"])
    assert runner.invoke(args=["publish", "--year", str(year)]).exit_code == 0
    return year, r, client, report_rows(runner, year, insats="Steget")


def answer_open_link(client, round_, codes: list[str]) -> None:
    """One personal questionnaire per code (question 1) through the round's open link."""
    for code in codes:
        page = client.get(f"/s/{round_.code}")
        client.post(f"/s/{round_.code}", data={"csrf_token": form_token(page.text), "q1": code})


def rename_insats(admin_client, intervention_id: str, name: str):
    """Rename an insats on the administration page; the page shown after it."""
    page = admin_client.get("/admin/")
    return admin_client.post(
        f"/admin/insatser/{intervention_id}",
        data={"csrf_token": form_token(page.text), "name": name},
        follow_redirects=True,
    )


def test_report_of_an_unpublished_year_says_so_and_names_the_command(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    result = runner.invoke(args=["report", "--year", "2023"])
    assert result.exit_code != 0
    assert "År 2023 är inte publicerat" in result.output
    assert "surveys publish --year 2023" in result.output


def test_publish_stores_rows_groups_method_note_and_audit(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    result = runner.invoke(args=["publish", "--year", "2023"])
    assert result.exit_code == 0, result.output
    assert "2023 är publicerat (version 1)" in result.output
    rows = report_rows(runner, 2023)
    first = next(
        r
        for r in rows
        if r["indicator"] == "1" and r["question"] == "1" and r["subgroup"] == "samtliga"
    )
    # the 4 without a gender are too few to stand apart: left out of samtliga, and said so
    assert (first["n"], first["answered"], first["positive"], first["clearly_positive"]) == (
        "114",
        "110",
        "95",
        "84",
    )
    assert (first["suppressed"], first["left_out"]) == ("", "4")
    assert scalar(app, "SELECT count FROM publication_group WHERE scope = ''") == 118
    assert scalar(app, "SELECT min_cell FROM publication") == 5
    note = scalar(app, "SELECT method_note FROM publication")
    assert "färre än 5 svar" in note
    assert "annat kön" in note
    audit = scalar(app, "SELECT detail FROM audit_entry WHERE action = 'publicering.publicera'")
    assert audit.startswith("2023 version 1")
    by = "SELECT user_email FROM audit_entry WHERE action = 'publicering.publicera'"
    assert scalar(app, by) == "kommandoraden"


def test_publishing_a_year_without_answers_changes_nothing(app, runner):
    result = runner.invoke(args=["publish", "--year", "2019"])
    assert result.exit_code != 0
    assert "Det finns inga svar för 2019 att publicera" in result.output
    assert count_rows(app, "publication") == 0
    assert count_rows(app, "audit_entry") == 0


def test_a_year_being_published_is_refused(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    with app.app_context():
        held = locks.take(db.session(), 2023)  # as another process publishing the year
    try:
        result = runner.invoke(args=["publish", "--year", "2023"])
    finally:
        held.release()
    assert result.exit_code != 0
    assert "håller redan på att publiceras" in result.output
    assert count_rows(app, "publication") == 0
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0  # free again


def test_publishing_closes_the_years_open_rounds(app, runner, make_round):
    r = make_round("personal", year=clock.today().year, insats="Steget")
    client = app.test_client()
    page = client.get(f"/s/{r.code}")
    posted = client.post(f"/s/{r.code}", data={"csrf_token": form_token(page.text), "q1": "6"})
    assert posted.status_code == 303
    result = runner.invoke(args=["publish", "--year", str(r.year)])
    assert result.exit_code == 0, result.output
    assert scalar(app, "SELECT state FROM round WHERE id = :id", id=r.id) == "closed"
    # the waiting questionnaire was released into the answers before counting
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 0
    assert scalar(app, "SELECT count FROM publication_group WHERE scope = ''") == 1


def test_answers_after_publication_do_not_change_the_report(app, runner, make_round):
    """The live-report attack: download, a known person answers, download again."""
    year, r, client, before = published_steget(app, runner, make_round)
    # staff reopen the round and one more (known) person answers
    with app.app_context():
        session = db.session()
        session.execute(text("UPDATE round SET state = 'open' WHERE id = :id"), {"id": r.id})
        session.commit()
    page = client.get(f"/s/{r.code}")
    client.post(f"/s/{r.code}", data={"csrf_token": form_token(page.text), "q1": "1"})
    assert count_rows(app, "response") == 7
    assert report_rows(runner, year, insats="Steget") == before


def test_republication_is_a_new_version_and_small_changes_wait(app, runner, tmp_path):
    """Versions are tables too: two late forms of one insats and gender wait (the group
    is shown as before, the method note says so) until enough have come."""
    import_seed(runner, tmp_path)
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    first = report_rows(runner, 2023)
    line = "2023,deltagare_avslut,Steget,kvinna,1,,,,,,,2,,,\n"
    header = "year,questionnaire,insats,gender,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11\n"
    late = tmp_path / "sena.csv"
    late.write_text(header + line * 2, encoding="utf-8")  # two late paper forms
    assert runner.invoke(args=["import", "answers", str(late)]).exit_code == 0
    result = runner.invoke(args=["publish", "--year", "2023"])
    assert result.exit_code == 0
    assert "version 2" in result.output
    # nothing changes: subtracting version 1 from version 2 gives nothing
    assert report_rows(runner, 2023) == first
    note = scalar(app, "SELECT method_note FROM publication WHERE version = 2")
    assert "2 enkäter som kommit in sedan en tidigare visad version av 2023 räknas inte in än" in (
        note
    )
    assert scalar(app, "SELECT COUNT(*) FROM shown_version WHERE year = 2023") == 2
    # three more: five new in the group, shown now
    more = tmp_path / "senare.csv"
    more.write_text(header + line * 3, encoding="utf-8")
    assert runner.invoke(args=["import", "answers", str(more)]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    rows = report_rows(runner, 2023)
    changed = next(
        r
        for r in rows
        if r["indicator"] == "1" and r["question"] == "1" and r["subgroup"] == "samtliga"
    )
    assert changed["n"] == "119"  # 114 + 5; the 4 without a gender are left out
    assert changed["suppressed"] == ""
    note = scalar(app, "SELECT method_note FROM publication WHERE version = 3")
    assert "räknas inte in än" not in note
    assert count_rows(app, "publication") == 3


def test_readers_see_the_publication_and_the_admin_a_marked_preview(
    app, client, runner, tmp_path, make_user
):
    import_seed(runner, tmp_path)
    reader = make_user("läsare", email="lasare@example.invalid")
    admin = make_user("administratör", email="chef@example.invalid")
    assert login(client, reader).status_code == 302
    missing = client.get("/rapport/2023")
    assert missing.status_code == 404
    assert "Resultaten för 2023 är inte publicerade" in missing.text
    assert "Förhandsgranska" not in missing.text
    assert client.get("/rapport/2023/forhandsgranskning").status_code == 403
    client.get("/logga-ut")
    other = app.test_client()
    assert login(other, admin).status_code == 302
    offered = other.get("/rapport/2023")
    assert "/rapport/2023/forhandsgranskning" in offered.text
    preview = other.get("/rapport/2023/forhandsgranskning", follow_redirects=True)
    assert preview.status_code == 200
    assert "Förhandsgranskning – inte publicerad" in preview.text
    assert "96% (81%)" in preview.text
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    published = other.get("/rapport/2023")
    assert "96% (81%)" in published.text
    assert "Förhandsgranskning – inte publicerad" not in published.text


def test_admin_publishes_from_the_page_after_confirming(app, admin_client, runner, tmp_path):
    import_seed(runner, tmp_path)
    page = admin_client.get("/admin/publicera/2023", follow_redirects=True)
    assert page.status_code == 200
    assert "Förhandsgranskning – inte publicerad" in page.text
    unconfirmed = admin_client.post(
        "/admin/publicera/2023", data={"csrf_token": form_token(page.text)}
    )
    assert unconfirmed.status_code == 200
    assert count_rows(app, "publication") == 0
    done = admin_client.post(
        "/admin/publicera/2023", data={"csrf_token": form_token(page.text), "confirm": "y"}
    )
    assert done.status_code == 302
    assert "/admin/publicera/jobb/" in done.headers["Location"]
    result = admin_client.get(done.headers["Location"])
    assert "2023 är publicerat (version 1)." in result.text
    assert count_rows(app, "publication") == 1
    again = admin_client.get("/admin/publicera/2023", follow_redirects=True)
    assert "Publicera 2023 igen (version 2)" in again.text
    assert "Inga siffror ändras" in again.text


def test_the_publishing_page_works_out_the_changes_once_per_version_and_snapshot(
    app, admin_client, runner, tmp_path
):
    """Both sides of "Det här ändras" are fixed once written (a publication's rows, a
    finished preview's snapshot), so a worker reads the last version's rows once for a
    snapshot; a recount is a new snapshot and is compared again."""
    import_seed(runner, tmp_path)
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    late = tmp_path / "sena.csv"
    header = "year,questionnaire,insats,gender,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11\n"
    late.write_text(header + "2023,deltagare_avslut,Steget,kvinna,1,,,,,,,2,,,\n" * 5)
    assert runner.invoke(args=["import", "answers", str(late)]).exit_code == 0
    read: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if "publication_row" in statement:
            read.append(statement)

    engine = app.extensions["engine"]
    event.listen(engine, "before_cursor_execute", note)
    try:
        first = admin_client.get("/admin/publicera/2023", follow_redirects=True)
        assert "Det här ändras sedan version 1" in first.text
        assert "<td>Steget</td>" in first.text  # the five late forms of Steget
        assert read  # the last version's rows were read for the diff
        read.clear()
        again = admin_client.get("/admin/publicera/2023")
        assert again.text == first.text.replace(form_token(first.text), form_token(again.text))
        assert read == []  # the same version and snapshot: the kept diff
        recount = admin_client.get("/admin/publicera/2023?omrakna=1", follow_redirects=True)
        assert "Det här ändras sedan version 1" in recount.text
        assert read  # a new snapshot: compared again
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_protect_other_setting_is_audited_and_named_in_the_publication(
    app, admin_client, runner, tmp_path
):
    import_seed(runner, tmp_path)
    page = admin_client.get("/admin/publicera")
    assert "annat eller inget angivet kön" in page.text
    off = admin_client.post(
        "/admin/publicera/installning", data={"csrf_token": form_token(page.text)}
    )
    assert off.status_code == 302
    assert scalar(app, "SELECT value FROM setting WHERE key = 'protect_other'") == "0"
    assert (
        scalar(app, "SELECT detail FROM audit_entry WHERE action = 'inställning.skydda_övriga'")
        == "av"
    )
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    assert "som i NNS egna rapporter" in scalar(app, "SELECT method_note FROM publication")
    assert scalar(app, "SELECT protect_other FROM publication") in (False, 0)


def test_purge_keeps_every_published_row(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    refused = runner.invoke(args=["purge", "--before", "2024", "--yes"])
    assert refused.exit_code != 0
    assert "Publicera först 2023" in refused.output
    assert count_rows(app, "response") == 118
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    before = runner.invoke(args=["report", "--year", "2023", "--format", "csv"]).output
    pooled = [r for r in csv.DictReader(io.StringIO(before)) if r["question"] == ""]
    assert pooled, "the report has pooled rows"
    result = runner.invoke(args=["purge", "--before", "2024", "--yes"])
    assert result.exit_code == 0
    assert "118 enkäter" in result.output
    assert count_rows(app, "response") == 0
    after = runner.invoke(args=["report", "--year", "2023", "--format", "csv"]).output
    assert after == before  # the whole CSV, pooled rows included


def test_paper_forms_cannot_lift_a_hidden_cell_of_an_earlier_or_published_year(
    app, client, make_round, make_user, runner, tmp_path
):
    """The attack: type answers of one's own choosing into a closed round of an earlier
    year, lift a hidden kvinnor cell over the threshold, then subtract them."""
    this_year = clock.today().year
    last_year = make_round("deltagare_avslut", year=this_year - 1, insats="Steget")
    with app.app_context():
        session = db.session()
        session.execute(
            text("UPDATE round SET state = 'closed' WHERE id = :id"), {"id": last_year.id}
        )
        session.commit()
    staff = make_user("personal", email="p@example.invalid", insatser=["Steget"])
    assert login(client, staff).status_code == 302
    url = f"/personal/omgang/{last_year.id}/papper"
    refused = client.get(url, follow_redirects=True)
    assert f"bara registreras i öppna omgångar för {this_year}" in refused.text
    page = client.get("/logga-in")
    posted = client.post(
        url,
        data={
            "csrf_token": form_token(page.text),
            "form_key": "x" * 24,
            "q1": "6",
            "gender": "kvinna",
        },
    )
    assert posted.status_code == 302
    assert count_rows(app, "response") == 0
    # the administrator may complete the closed round while the year is unpublished ...
    admin_email = make_user("administratör", email="chef@example.invalid")
    admin = app.test_client()
    assert login(admin, admin_email).status_code == 302
    form = admin.get(url)
    assert form.status_code == 200
    stored = admin.post(
        url,
        data={
            "csrf_token": form_token(form.text),
            "form_key": paper_key(form.text),
            "q1": "6",
            "gender": "kvinna",
        },
    )
    assert stored.status_code == 302
    assert count_rows(app, "response") == 1
    # who typed it is counted apart from the answers (no response id), for the rule that
    # a reader's own forms do not count towards a cell's size
    assert scalar(app, "SELECT count FROM paper_typist") == 1
    assert scalar(app, "SELECT typed_by FROM paper_typist") == admin_email
    # once published, staff cannot add forms to the year; the administrator can (and
    # republishes): the frozen figures stay as they are until then
    assert runner.invoke(args=["publish", "--year", str(this_year - 1)]).exit_code == 0
    again = client.get(url, follow_redirects=True)
    assert f"Resultaten för {this_year - 1} är publicerade" in again.text
    assert count_rows(app, "response") == 1
    assert admin.get(url).status_code == 200


def test_renaming_an_insats_keeps_its_published_years_in_its_report(
    app, runner, make_round, admin_client
):
    """Publications name an insats's rows by its name: a rename must not hide them."""
    year, r, client, before = published_steget(app, runner, make_round)
    assert "6" in {row["n"] for row in before if row["subgroup"] == "samtliga"}

    renamed = rename_insats(admin_client, r.intervention_id, "Steget vidare")
    assert "Insatsen heter nu Steget vidare." in renamed.text
    after = report_rows(runner, year, insats="Steget vidare")
    assert after == before
    shown = admin_client.get(f"/rapport/{year}?insats={r.intervention_id}")
    assert "Steget vidare" in shown.text
    assert "(n=6)" in shown.text  # the published figures, not "not published"

    # a new insats cannot take the old name and with it the published rows
    page = admin_client.get("/admin/")
    admin_client.post(
        "/admin/insatser",
        data={"csrf_token": form_token(page.text), "name": "Nya steget"},
    )
    with app.app_context():
        other = (
            db.session()
            .execute(text("SELECT id FROM intervention WHERE name = 'Nya steget'"))
            .scalar_one()
        )
    refused = rename_insats(admin_client, other, "Steget vidare")
    assert "Det finns redan en insats med det namnet." in refused.text
    # rows left under a name no insats has (renamed before renames carried them along)
    with app.app_context():
        session = db.session()
        session.execute(
            text("UPDATE intervention SET name = 'Gammalt namn', name_key = :key WHERE id = :id"),
            {"id": r.intervention_id, "key": name_key("Gammalt namn")},
        )
        session.commit()
    refused = rename_insats(admin_client, other, "Steget vidare")
    assert "Namnet finns redan i en publicering" in refused.text
    shown = runner.invoke(args=["report", "--year", str(year), "--insats", "Nya steget"])
    assert "har inga resultat för Nya steget" in shown.output  # not the old insats's figures


def test_a_workers_kept_report_figures_follow_renames_and_new_publications(
    app, runner, make_round, admin_client
):
    """Readers' reports keep a published year's figures per worker (reports/data.py):
    a renamed insats's old name given to a new insats must not show the kept figures."""
    year, r, client, before = published_steget(app, runner, make_round)
    page = admin_client.get(f"/rapport/{year}?insats={r.intervention_id}")
    assert "(n=6)" in page.text  # read, and now kept by this worker
    assert app.extensions["published_figures"], "the figures were not kept"
    rename_insats(admin_client, r.intervention_id, "Steget vidare")
    page = admin_client.get("/admin/")
    created = admin_client.post(
        "/admin/insatser",
        data={"csrf_token": form_token(page.text), "name": "Steget"},
        follow_redirects=True,
    )
    assert created.status_code == 200
    with app.app_context():
        new_id = (
            db.session()
            .execute(text("SELECT id FROM intervention WHERE name = 'Steget'"))
            .scalar_one()
        )
    assert new_id != r.intervention_id
    shown = admin_client.get(f"/rapport/{year}?insats={new_id}")
    assert shown.status_code == 404  # nothing published for the new insats
    assert "(n=6)" not in shown.text
    renamed = admin_client.get(f"/rapport/{year}?insats={r.intervention_id}")
    assert "(n=6)" in renamed.text
    assert "Steget vidare" in renamed.text
    # a new version of the year: its figures, not the kept ones
    with app.app_context():
        session = db.session()
        session.execute(text("UPDATE round SET state = 'open' WHERE id = :id"), {"id": r.id})
        session.commit()
    answer_open_link(client, r, ["6", "5", "6", "4", "6"])
    assert runner.invoke(args=["publish", "--year", str(year)]).exit_code == 0
    again = admin_client.get(f"/rapport/{year}?insats={r.intervention_id}")
    assert "(n=11)" in again.text
    assert "(n=6)" not in again.text


def test_the_administrators_threshold_decides_what_a_publication_hides(
    app, runner, tmp_path, admin_client
):
    import_seed(runner, tmp_path)
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    at_five = report_rows(runner, 2023)
    shown_at_five = [r for r in at_five if r["suppressed"] == "" and r["answered"]]
    assert any(5 <= int(r["answered"]) < 60 for r in shown_at_five)

    page = admin_client.get("/admin/")
    refused = admin_client.post(
        "/admin/grans",
        data={"csrf_token": form_token(page.text), "min_cell": "0"},
        follow_redirects=True,
    )
    assert "Gränsen ska vara ett heltal mellan 1 och 100." in refused.text
    assert count_rows(app, "setting") == 0  # nothing stored
    changed = admin_client.post(
        "/admin/grans",
        data={"csrf_token": form_token(page.text), "min_cell": "60"},
        follow_redirects=True,
    )
    assert "Resultat med färre än 60 svar visas inte." in changed.text
    assert scalar(app, "SELECT detail FROM audit_entry WHERE action = 'gräns.ändra'") == "60"

    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    at_sixty = report_rows(runner, 2023)
    shown = [r for r in at_sixty if r["suppressed"] == "" and r["answered"]]
    assert shown, "the largest cells are still shown"
    assert all(int(r["answered"]) >= 60 for r in shown)
    hidden = sum(r["suppressed"] != "" for r in at_sixty)
    assert hidden > sum(r["suppressed"] != "" for r in at_five)


def test_an_unknown_insats_is_a_swedish_message_and_changes_nothing(
    app, runner, tmp_path, admin_client
):
    import_seed(runner, tmp_path)
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    publications = count_rows(app, "publication")
    result = runner.invoke(args=["report", "--year", "2023", "--insats", "Finns inte"])
    assert result.exit_code == 1
    assert "Okänd insats 'Finns inte'. Kända insatser: " in result.output
    assert "Traceback" not in result.output
    for url in ("/rapport/2023?insats=finns-inte", "/rapport/2023/forhandsgranskning?insats=x"):
        page = admin_client.get(url, follow_redirects=True)  # the preview's job first
        assert page.status_code == 404
        assert "Sidan finns inte" in page.text
    assert count_rows(app, "publication") == publications


def test_typed_forms_are_counted_apart_and_survive_the_close_that_rewrites_ids(
    app, client, make_round, make_user
):
    """paper_typist holds round, gender, typist and a count – no response id – so the
    close that writes the round's answers again under new ids leaves it as it was, and
    the disclosure control still reads who typed how many."""
    from surveys.services.publications import typed_counts

    r = make_round("deltagare_avslut", insats="Steget")
    staff = make_user("personal", email="p@example.invalid", insatser=["Steget"])
    assert login(client, staff).status_code == 302
    url = f"/personal/omgang/{r.id}/papper"
    for _ in range(2):
        form = client.get(url)
        data = {"csrf_token": form_token(form.text), "form_key": paper_key(form.text)}
        assert client.post(url, data={**data, "q1": "6", "gender": "kvinna"}).status_code == 302
    for code in (1, 2, 3, 4, 5, 6):
        answer_open(app, r, code)
    close_as_staff(app, r)
    assert count_rows(app, "response") == 8
    with app.app_context():
        session = db.session()
        columns = {c["name"] for c in inspect(session.get_bind()).get_columns("paper_typist")}
        stored = session.execute(text("SELECT round_id, gender, typed_by, count FROM paper_typist"))
        stored = stored.all()
        typed = typed_counts(session, r.year)
        session.rollback()
    assert columns == {"round_id", "gender", "typed_by", "count"}  # never a response id
    assert [tuple(row) for row in stored] == [(r.id, "kvinna", staff, 2)]
    assert typed.to_dict("records") == [
        {
            "year": r.year,
            "questionnaire": "deltagare_avslut",
            "intervention": "Steget",
            "gender": "kvinna",
            "typist": staff,
            "count": 2,
        }
    ]


def test_the_years_counts_come_in_the_order_of_their_content_whatever_the_ids(app):
    """Disclosure control picks among equally good cells to hide by the cells' order, so
    the same answers must give the counts in the same order, whatever order the database
    returns its groups in (a GROUP BY has none; on PostgreSQL it follows hashes of the
    random ids): by question number and insats name, not by version id or insats id."""
    from surveys.models import Intervention
    from surveys.services.publications import count_frames
    from tests.factories import response

    with app.app_context():
        s = db.session()
        s.add(Intervention(id="f" * 32, name="Alfa"))  # the ids sort against the names
        s.add(Intervention(id="0" * 32, name="Steget"))
        s.flush()
        answers = {f"deltagare_avslut.{q}.v1": code for q, code in ((1, 5), (2, 3), (10, 6))}
        for insats in ("Steget", "Alfa", None):
            for gender in ("man", "kvinna"):
                response(s, answers, year=2023, insats=insats, gender=gender)
        code_counts, pooled_sizes = count_frames(s, 2023)
        s.rollback()
    keys = ["year", "questionnaire", "question", "intervention", "gender", "code"]
    assert len(code_counts) == 18
    assert code_counts.equals(code_counts.sort_values(keys, ignore_index=True))
    pooled_keys = ["year", "indicator", "questionnaire", "intervention", "gender"]
    assert len(pooled_sizes) == 18
    assert pooled_sizes.equals(pooled_sizes.sort_values(pooled_keys, ignore_index=True))
