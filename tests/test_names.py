"""Issue 18, point 10: insats names (one per name without regard to case or Unicode form,
no control or bidirectional characters), import cells taken as they are, and blank
questionnaires asked about (paper entry) or reported (answers import)."""

from __future__ import annotations

import re
import unicodedata

import pytest
from sqlalchemy import text

from surveys import db
from surveys.names import InvalidName, by_name, clean_insats_name, name_key, sort_key
from surveys.services import rounds as ops
from tests import seedrows
from tests.conftest import count_rows, form_token, login, release_all

HEADER = "year,questionnaire,insats,gender,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11\n"


def names(app) -> list[str]:
    with app.app_context():
        return sorted(db.session().execute(text("SELECT name FROM intervention")).scalars())


@pytest.fixture
def admin(client, make_user):
    assert login(client, make_user("administratör")).status_code == 302
    return client


def create(client, name: str):
    token = form_token(client.get("/admin").text)
    return client.post("/admin/insatser", data={"csrf_token": token, "name": name})


# --- names ----------------------------------------------------------------------------


def test_insats_names_are_unique_without_regard_to_case_or_unicode_form(app, admin):
    assert create(admin, "Steget vidare").status_code == 302
    composed, decomposed = "Ågången", unicodedata.normalize("NFD", "ågången")
    assert create(admin, composed).status_code == 302
    for same in ("steget vidare", "STEGET VIDARE", "  Steget Vidare ", decomposed):
        page = admin.post(
            "/admin/insatser",
            data={"csrf_token": form_token(admin.get("/admin").text), "name": same},
            follow_redirects=True,
        ).text
        assert "Det finns redan en insats med det namnet" in page, same
    assert names(app) == ["Steget vidare", "Ågången"]
    # renaming to another insats's name in other letters is refused; to one's own is fine
    with app.app_context():
        s = db.session()
        steget = ops.intervention_by_name(s, "STEGET VIDARE")
        assert steget is not None
        assert steget.name == "Steget vidare"
        with pytest.raises(ValueError, match="redan en insats"):
            ops.rename_intervention(s, steget, "ÅGÅNGEN")
        ops.rename_intervention(s, steget, "Steget Vidare")
        s.commit()
    assert names(app) == ["Steget Vidare", "Ågången"]


@pytest.mark.parametrize(
    "bad",
    [
        "Steget\u202evidare",  # right-to-left override
        "\u2067Steget\u2069",  # isolates
        "Steget\u200bvidare",  # zero-width space
        "Steget\u200evidare",  # left-to-right mark
        "Steget\tvidare",
        "Steget\x07",
        "\ufeffSteget",
        "=HYPERLINK(1)",
        "+46 insats",
    ],
)
def test_control_bidirectional_and_formula_names_are_refused_in_swedish(app, admin, bad):
    page = admin.post(
        "/admin/insatser",
        data={"csrf_token": form_token(admin.get("/admin").text), "name": bad},
        follow_redirects=True,
    ).text
    assert "Insatsens namn" in page
    assert names(app) == []
    with pytest.raises(InvalidName, match="Insatsens namn"):
        clean_insats_name(bad)


def test_name_key_folds_case_and_unicode_form():
    assert name_key("Steget") == name_key("STEGET") == name_key(" steget ")
    assert name_key("Ågången") == name_key(unicodedata.normalize("NFD", "ÅGÅNGEN"))
    assert name_key("Straße") == name_key("STRASSE")
    assert name_key("Steget") != name_key("Steget 2")
    assert clean_insats_name(unicodedata.normalize("NFD", " Ågången ")) == "Ågången"


# --- import: cells as they are, names checked, blank rows reported ---------------------


def write(tmp_path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_an_imported_apostrophe_stays_and_case_variants_are_one_insats(app, runner, tmp_path):
    rows = (
        HEADER
        + "2024,personal,'=x,,6,,,,,,,,,,\n"
        + "2024,personal,Steget,,5,,,,,,,,,,\n"
        + "2024,personal,STEGET,,4,,,,,,,,,,\n"
    )
    result = runner.invoke(args=["import", "answers", write(tmp_path, "a.csv", rows)])
    assert result.exit_code == 0, result.output
    assert names(app) == ["'=x", "Steget"]  # taken as it is; STEGET is Steget
    exported = runner.invoke(args=["export", "answers"]).output
    assert ";'=x;" in exported  # and back out as it is (no formula: no guard added)


def test_an_imported_name_with_control_characters_is_refused_and_nothing_stored(
    app, runner, tmp_path
):
    rows = (
        HEADER + "2024,personal,Steget,,6,,,,,,,,,,\n" + "2024,personal,Ste\u202eget,,5,,,,,,,,,,\n"
    )
    result = runner.invoke(args=["import", "answers", write(tmp_path, "b.csv", rows)])
    assert result.exit_code != 0
    assert "Rad 3, kolumn insats: Insatsens namn innehåller osynliga tecken" in result.output
    assert "Traceback" not in result.output
    assert count_rows(app, "response") == 0
    assert names(app) == []


def test_the_answers_import_reports_blank_questionnaires(app, runner, tmp_path):
    rows = (
        HEADER
        + "2024,personal,Steget,,6,,,,,,,,,,\n"
        + "2024,personal,Steget,,,,,,,,,,,,\n"  # handed in empty
        + "2024,deltagare_avslut,Steget,kvinna,,,,,,,,,,,\n"  # only Kön
    )
    result = runner.invoke(args=["import", "answers", write(tmp_path, "c.csv", rows)])
    assert result.exit_code == 0, result.output
    assert "3 rader importerade" in result.output
    assert "2 av dem är helt tomma enkäter utan ett enda svar (rad 3, 4)" in result.output
    assert count_rows(app, "response") == 3  # imported, as an empty web form sent anyway


# --- paper entry asks before an all-blank questionnaire ---------------------------------


def test_paper_entry_asks_before_storing_an_all_blank_questionnaire(
    app, client, make_round, make_user
):
    r = make_round("deltagare_avslut", insats="Steget")
    login(client, make_user("personal", insatser=["Steget"]))
    url = f"/personal/omgang/{r.id}/papper"
    page = client.get(url).text
    key = re.search(r'name="form_key"[^>]*value="([^"]+)"', page).group(1)
    data = {"csrf_token": form_token(page), "form_key": key, "gender": "man"}
    asked = client.post(url, data=data | {"q1": "", "q2": " "})
    assert asked.status_code == 200
    assert "Du har inte fyllt i någon fråga. Vill du registrera enkäten ändå?" in asked.text
    assert '<option value="man" selected>' in asked.text  # Kön kept
    assert re.search(r'name="form_key"[^>]*value="' + re.escape(key), asked.text)
    assert count_rows(app, "response") == 0
    stored = client.post(url, data=data | {"confirm_empty": "1"})
    assert stored.status_code == 302
    again = client.post(url, data=data | {"confirm_empty": "1"}, follow_redirects=True)
    assert "redan registrerad" in again.text  # still one form
    release_all(app)
    assert count_rows(app, "response") == 1


# --- Swedish alphabetical order -------------------------------------------------------

# As a Swedish reader expects them; neither database's ORDER BY gives this order (SQLite
# puts capitals first and "Ä" before "Å", PostgreSQL's collations put "Å" among the a's).
SWEDISH_ORDER = ["aspen", "Backen", "Eken", "Élan", "Steget", "Åsen", "Ängen", "Öjen"]


def test_names_sort_in_swedish_alphabetical_order():
    shuffled = [SWEDISH_ORDER[i] for i in (6, 3, 0, 7, 5, 2, 4, 1)]
    assert sorted(shuffled, key=sort_key) == SWEDISH_ORDER
    assert by_name(reversed(SWEDISH_ORDER), str) == SWEDISH_ORDER
    # a decomposed "Å" (A + ring) is the same letter; "ø" and "æ" are read as "ö" and "ä"
    decomposed = unicodedata.normalize("NFD", "Åsen")
    assert sorted(["Ängen", decomposed, "Zeta"], key=sort_key) == ["Zeta", decomposed, "Ängen"]
    assert sorted(["Øster", "Ånge", "Ærø"], key=sort_key) == ["Ånge", "Ærø", "Øster"]


def _positions(page: str, names: list[str]) -> list[int]:
    return [page.index(f">{name}<") for name in names]


def test_insatser_are_listed_in_swedish_order_on_the_pages_and_in_the_cli(
    app, client, runner, make_user, tmp_path
):
    path = tmp_path / "svar.csv"
    path.write_text(seedrows.csv_text(), encoding="utf-8")  # answers of "Steget"
    assert runner.invoke(args=["import", "answers", str(path)]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    staff = make_user("personal", email="p@example.invalid", insatser=SWEDISH_ORDER[::-1])
    admin = make_user("administratör", email="a@example.invalid")

    assert login(client, admin).status_code == 302
    listed = _positions(client.get("/admin").text, SWEDISH_ORDER)
    assert listed == sorted(listed)  # the insatser on the administrator's page
    result = runner.invoke(args=["users", "list"])
    line = next(row for row in result.output.splitlines() if staff in row)
    assert ", ".join(SWEDISH_ORDER) in line  # a staff member's insatser in the CLI

    as_staff = app.test_client()
    assert login(as_staff, staff).status_code == 302
    new_round = _positions(as_staff.get("/personal").text, SWEDISH_ORDER)
    assert new_round == sorted(new_round)  # the start-a-round form's choices
    report = as_staff.get("/rapport/2023").text
    options = _positions(report, SWEDISH_ORDER)
    assert options == sorted(options)  # the report's choice of insats
    # the report opens with the first of them that has results (only Steget has answers)
    assert re.search(r'<option value="[^"]+" selected>Steget</option>', report)
    assert "Indikatorerna 2023 – Steget" in report
    latest = as_staff.get("/rapport")
    assert latest.status_code == 302
    steget = re.search(r'<option value="([^"]+)" selected>Steget', report).group(1)
    assert latest.headers["Location"].endswith(f"/rapport/2023?insats={steget}")
    # an insats of theirs without results leads to one that has them, not only back
    aspen = re.search(r'<option value="([^"]+)">aspen', report).group(1)
    empty = as_staff.get(f"/rapport/2023?insats={aspen}")
    assert empty.status_code == 404
    assert "Det finns inga publicerade resultat för 2023 för aspen." in empty.text
    assert f'href="/rapport/2023?insats={steget}"' in empty.text
    assert "Visa resultaten för Steget" in empty.text
    # the administrator is led to the whole förbund's results
    other = client.get(f"/rapport/2023?insats={aspen}").text
    assert 'href="/rapport/2023"' in other
    assert "Visa resultaten för hela förbundet" in other


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("a\x00b.csv", "ab.csv"),
        ("\u202ecsv.exe.csv", "csv.exe.csv"),
        ("=cmd|x.csv", "cmd|x.csv"),
        ("../../etc/historik.csv", "historik.csv"),
        ("C:\\Users\\Eva\\historik.xlsx", "historik.xlsx"),
        ("x" * 500 + ".xlsx", "x" * 114 + "….xlsx"),
        ("\u200b", "fil"),
    ],
)
def test_an_uploaded_files_name_is_kept_cleaned_short_and_with_its_extension(sent, kept):
    from surveys.names import MAX_FILE_LABEL, file_label

    assert file_label(sent) == kept
    assert len(file_label(sent)) <= MAX_FILE_LABEL


def test_the_imports_list_and_the_log_keep_an_uploads_name_cleaned(app, runner, tmp_path):
    """The name a browser sends is the sender's text: before, control characters, a
    direction override and a formula sign were stored and shown as sent."""
    from surveys.services import imports
    from surveys.services.actor import CLI
    from surveys.services.catalogue import instrument_from_db

    history = (
        b"year,questionnaire,question,subgroup,n,negative,neutral,positive,"
        b"clearly_positive,response_rate\n2019,deltagare_avslut,1,samtliga,120,4,6,90,70,95\n"
    )
    with app.app_context():
        session = db.session()
        imports.import_figures(
            session,
            CLI,
            instrument_from_db(session),
            "history",
            data=history,
            filename="=\u202ehist\x1b[31m.csv",
        )
        session.commit()
        stored = session.execute(text("SELECT filename FROM import_batch")).scalar_one()
        logged = session.execute(
            text("SELECT detail FROM audit_entry WHERE action = 'import.historik'")
        ).scalar_one()
    assert stored == "hist[31m.csv"
    assert logged == "1 rader från hist[31m.csv"
