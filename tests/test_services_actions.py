"""Application services with an actor (issue 20): each action checks who may do it
(a Swedish refusal, nothing written), writes its own audit entry with the same details
whether the page or the command line called it, and only flushes; the request's, the
CLI command's or ``db.own_transaction``'s boundary commits."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from surveys import clock, db
from surveys.models import (
    AuditEntry,
    BackgroundJob,
    ImportBatch,
    Intervention,
    Publication,
    Response,
    Role,
    Round,
    Setting,
    User,
)
from surveys.names import InvalidName
from surveys.services import imports, locks, maintenance, publications, rounds, settings, users
from surveys.services.actor import ADMIN_ONLY, CLI, Actor, Refused
from surveys.services.catalogue import instrument_from_db, load_instrument_file
from tests import seedrows
from tests.conftest import count_rows, form_token, login
from tests.factories import import_seed

PUBLISHED = re.compile(r"2023 version \d; \d+ rader, \d+ dolda; \d+ omgångar stängda")

THIS_YEAR = clock.today().year
HISTORY = (
    "year,questionnaire,question,subgroup,n,negative,neutral,positive,clearly_positive,"
    "response_rate\n2019,Deltagare avslut,1,Samtliga,120,4,6,90,70,95\n"
)


def _audit(app, action: str) -> list[str]:
    """The entries for one action, oldest first (ids are random, so order by time)."""
    with app.app_context():
        entries = db.session().exec(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.at)
        )
        return [f"{e.user_email}|{e.detail}" for e in entries]


def _new_round_form(token: str, insats_id: str, *, expected: str = "") -> dict:
    """The staff page's "new round" form: this year's exit questionnaire by open link."""
    return {
        "csrf_token": token,
        "questionnaire": "deltagare_avslut",
        "year": THIS_YEAR,
        "insats": insats_id,
        "mode": "open_link",
        "expected": expected,
    }


def _staff(app, *insatser: str) -> Actor:
    with app.app_context():
        session = db.session()
        ids = [rounds.intervention_by_name(session, n, create=True).id for n in insatser]
        session.commit()
    return Actor(
        email="personal@example.invalid", role=Role.staff.value, interventions=frozenset(ids)
    )


# --- permission: a staff actor is refused an administrator's action --------------------


def test_a_staff_actor_is_refused_the_administrators_actions_and_nothing_is_written(app):
    staff = _staff(app, "Steget")
    with app.app_context():
        session = db.session()
        with pytest.raises(Refused, match="bara administratören"):
            rounds.create_insats(session, staff, "Ny insats")
        with pytest.raises(Refused, match="bara administratören"):
            users.add_user(
                session, staff, email="ny@example.invalid", password="ett-langt-losenord"
            )
        with pytest.raises(Refused, match="bara administratören"):
            settings.change_threshold(session, staff, 7)
        with pytest.raises(Refused, match="bara administratören"):
            publications.set_protect_other(session, staff, False)
        with pytest.raises(Refused, match="bara administratören"):
            imports.import_figures(
                session,
                staff,
                instrument_from_db(session),
                "history",
                data=HISTORY.encode(),
                filename="historik.csv",
            )
        session.commit()  # whatever the refused calls had left would be stored now
    with app.app_context():
        session = db.session()
        assert rounds.intervention_by_name(session, "Ny insats") is None
        assert session.exec(select(User)).all() == []
        assert settings.get(session, settings.MIN_CELL) == ""
        assert publications.protect_other(session)  # still the default
        assert session.exec(select(AuditEntry)).all() == []


def test_staff_may_not_close_another_insats_round(app, make_round):
    other = make_round(insats="Annan")
    staff = _staff(app, "Steget")
    with app.app_context():
        session = db.session()
        round_ = session.get(Round, other.id)
        with pytest.raises(Refused, match="dina egna insatser"):
            rounds.change_state(session, staff, round_, "stang")
        session.commit()
    with app.app_context():
        assert db.session().get(Round, other.id).state == "open"
    assert _audit(app, "omgång.stang") == []


def test_staff_may_not_reopen_a_round_of_a_published_year(app, runner, tmp_path, make_round):
    import_seed(runner, tmp_path)  # 2023 published
    draft = make_round(insats="Steget", year=2023, open_=False)
    staff = _staff(app, "Steget")
    with app.app_context():
        session = db.session()
        round_ = session.get(Round, draft.id)
        with pytest.raises(rounds.RoundStateError, match="bara administratören"):
            rounds.change_state(session, staff, round_, "oppna")
        assert round_.state == "draft"
        rounds.change_state(session, CLI, round_, "oppna")  # the administrator may
        assert round_.state == "open"


# --- one audit entry, the same details from the page and the command line --------------


def test_starting_a_round_is_audited_alike_from_the_page_and_the_cli(
    app, client, runner, make_user
):
    with app.app_context():
        steget = rounds.intervention_by_name(db.session(), "Steget", create=True).id
        db.session().commit()
    login(client, make_user("administratör", email="chef@example.invalid"))
    page = client.post(
        "/personal/omgang/ny",
        data=_new_round_form(form_token(client.get("/logga-in").text), steget),
    )
    assert page.status_code == 302
    done = runner.invoke(
        args=[
            "rounds",
            "create",
            "--questionnaire",
            "deltagare_avslut",
            "--year",
            str(THIS_YEAR),
            "--insats",
            "steget",  # found without regard to case
            "--yes",
        ]
    )
    assert done.exit_code == 0, done.output
    detail = f"Deltagare – avslutsenkät {THIS_YEAR} – Steget (Öppen länk)"
    assert _audit(app, "omgång.skapa") == [
        f"chef@example.invalid|{detail}",
        f"kommandoraden|{detail}",
    ]


def test_history_imported_from_the_cli_is_audited_as_from_the_page(
    app, admin_client, runner, tmp_path
):
    path = tmp_path / "historik.csv"
    path.write_text(HISTORY, encoding="utf-8")
    done = runner.invoke(args=["import", "history", str(path)])
    assert done.exit_code == 0, done.output
    page = admin_client.post(
        "/admin/importer/historik",
        data={
            "csrf_token": form_token(admin_client.get("/admin/importer").text),
            "file": (path.open("rb"), "historik.csv"),
        },
        content_type="multipart/form-data",
    )
    assert page.status_code == 302
    details = [entry.split("|")[1] for entry in _audit(app, "import.historik")]
    assert details == ["1 rader från historik.csv", "1 rader från historik.csv"]


def test_a_cli_user_change_names_the_insatser_as_the_page_does(app, runner):
    with app.app_context():
        rounds.intervention_by_name(db.session(), "Steget", create=True)
        db.session().commit()
    created = runner.invoke(
        args=["users", "create", "--email", "p@example.invalid", "--role", "personal",
              "--insats", "Steget", "--password", "ett-langt-losenord"]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    edited = runner.invoke(args=["users", "edit", "p@example.invalid", "--name", "Pia"])
    assert edited.exit_code == 0, edited.output
    assert _audit(app, "användare.skapa") == ["kommandoraden|p@example.invalid (Personal)"]
    assert _audit(app, "användare.ändra") == ["kommandoraden|p@example.invalid: Personal, Steget"]


# --- an insats: one rule set however it is made ----------------------------------------


def test_a_name_used_in_a_publication_is_refused_for_a_new_insats_every_way(app, runner, tmp_path):
    import_seed(runner, tmp_path)  # publishes 2023 with Steget's rows
    with app.app_context():
        session = db.session()
        # the publication names an insats that is no longer there (a former insats)
        for table in ("publication_row", "publication_group"):
            session.execute(text(f"UPDATE {table} SET scope = 'Gamla' WHERE scope = 'Steget'"))
        session.commit()
    done = runner.invoke(
        args=["rounds", "create", "--questionnaire", "deltagare_avslut",
              "--year", str(THIS_YEAR), "--insats", "Gamla"]
    )  # fmt: skip
    assert done.exit_code == 1
    assert "finns redan i en publicering" in done.output
    answers = tmp_path / "svar.csv"
    answers.write_text(seedrows.csv_text().replace("Steget", "Gamla"), encoding="utf-8")
    done = runner.invoke(args=["import", "answers", str(answers)])
    assert done.exit_code == 1
    assert "finns redan i en publicering" in done.output
    with app.app_context():
        session = db.session()
        with pytest.raises(InvalidName, match="finns redan i en publicering"):
            rounds.create_insats(session, CLI, "Gamla")
        with pytest.raises(InvalidName, match="Det finns redan en insats"):
            rounds.create_insats(session, CLI, "STEGET")  # another spelling of a taken name
        steget = rounds.intervention_by_name(session, "Steget")
        with pytest.raises(InvalidName, match="finns redan i en publicering"):
            rounds.rename_insats(session, CLI, steget, "Gamla")
        rounds.rename_insats(session, CLI, steget, "Steget vidare")
        session.commit()
    with app.app_context():
        names = [i.name for i in db.session().exec(select(Intervention))]
    assert names == ["Steget vidare"]
    # only the seed's import created an insats (audited as the page's); "Gamla" never
    assert _audit(app, "insats.skapa") == ["kommandoraden|Steget"]
    assert _audit(app, "insats.byt_namn") == ["kommandoraden|Steget → Steget vidare"]


# --- the one named helper for a transaction of its own -----------------------------------


def test_own_transaction_commits_on_success_and_rolls_back_on_error(app):
    with app.app_context(), db.own_transaction() as session:
        session.add(Intervention(name="Sparad"))

    def fails() -> None:
        with db.own_transaction(db.session()) as session:
            session.add(Intervention(name="Bortkastad"))
            session.flush()
            raise RuntimeError

    with app.app_context(), pytest.raises(RuntimeError):
        fails()
    with app.app_context():
        names = [i.name for i in db.session().exec(select(Intervention))]
    assert names == ["Sparad"]


def test_after_commit_runs_done_on_commit_and_undone_otherwise(app, caplog):
    """``db.after_commit``: ``done`` after the outer commit only (a savepoint's commit
    or rollback decides nothing), ``undone`` after a rollback or a close; each once, and
    a failing one is logged, not raised into the caller whose rows are stored."""
    ran: list[str] = []

    def note(word: str):
        return lambda: ran.append(word)

    with app.app_context():
        session = db.session()
        db.after_commit(session, note("kvar"), undone=note("borta"))
        with session.begin_nested():
            session.add(Intervention(name="Inne"))
        nested = session.begin_nested()
        nested.rollback()
        assert ran == []
        session.commit()
        assert ran == ["kvar"]
        session.commit()  # another transaction: nothing runs twice
        assert ran == ["kvar"]
        db.after_commit(session, note("kvar 2"), undone=note("borta 2"))
        session.rollback()
        assert ran == ["kvar", "borta 2"]
        db.after_commit(session, note("kvar 3"), undone=note("borta 3"))
        session.close()
        assert ran == ["kvar", "borta 2", "borta 3"]

        def fails() -> None:
            raise OSError("disken är full")

        session = db.session()
        db.after_commit(session, fails)
        db.after_commit(session, note("klart"))  # says what `fails` did not do: not run
        session.add(Intervention(name="Sparad ändå"))
        session.commit()  # no OSError here: the row is stored, the log says what failed
        assert rounds.intervention_by_name(session, "Sparad ändå") is not None
        assert ran == ["kvar", "borta 2", "borta 3"]
    assert "Efterarbetet till en transaktion misslyckades" in caplog.text
    assert "disken är full" in caplog.text


def test_a_refused_cli_command_writes_nothing_it_flushed(app, runner):
    done = runner.invoke(
        args=["rounds", "create", "--questionnaire", "finns_inte",
              "--year", str(THIS_YEAR), "--insats", "Ny insats"]
    )  # fmt: skip
    assert done.exit_code == 1
    assert "Okänd enkät" in done.output
    with app.app_context():
        # the insats was created (and flushed) before the round was refused: rolled back
        assert rounds.intervention_by_name(db.session(), "Ny insats") is None
    assert _audit(app, "insats.skapa") == []


def test_a_services_refusal_is_a_swedish_403_page_and_nothing_is_stored(app, client):
    def view():  # a web adapter whose service refuses after it had flushed something
        db.session().add(Intervention(name="Halvvägs"))
        db.session().flush()
        raise Refused(ADMIN_ONLY)

    app.add_url_rule("/prov/vagrad", view_func=view)
    page = client.get("/prov/vagrad")
    assert page.status_code == 403
    assert ADMIN_ONLY in html.unescape(page.text)
    with app.app_context():
        assert db.session().exec(select(Intervention)).all() == []


# --- settings: the service checks its own input ------------------------------------------


def test_the_settings_services_refuse_values_out_of_range_on_their_own(app):
    with app.app_context():
        session = db.session()
        for value in (0, -3, 101, True):
            with pytest.raises(settings.SettingError, match="heltal mellan 1 och 100"):
                settings.change_threshold(session, CLI, value)
        for name in ("", "   ", "x" * 201):
            with pytest.raises(settings.SettingError, match="förbundets namn|högst 200 tecken"):
                settings.change_forbund_name(session, CLI, name)
        session.commit()  # whatever the refused calls had left would be stored now
    with app.app_context():
        session = db.session()
        assert settings.get(session, settings.MIN_CELL) == ""
        assert settings.get(session, settings.FORBUND_NAME) == ""
        assert session.exec(select(AuditEntry)).all() == []
        # the ends of the range are allowed
        settings.change_threshold(session, CLI, 1)
        settings.change_threshold(session, CLI, 100)
        assert settings.change_forbund_name(session, CLI, f" {'x' * 200} ") == "x" * 200
        session.commit()
    assert _audit(app, "gräns.ändra") == ["kommandoraden|1", "kommandoraden|100"]


# --- the övriga setting: refused while publishing, and when it is the same ---------------

BUSY = "En publicering pågår. Inställningen är inte ändrad"


def _protect_other_stored(app) -> str | None:
    with app.app_context():
        row = db.session().get(Setting, publications.PROTECT_OTHER_KEY)
        return None if row is None else row.value


def test_the_overiga_setting_service_refuses_while_publishing_and_when_unchanged(app):
    with app.app_context():
        session = db.session()
        with pytest.raises(publications.SettingUnchanged, match="Inställningen är oförändrad"):
            publications.set_protect_other(session, CLI, True)  # protected already (default)
        held = locks.take(session, 2024)  # another process publishing 2024
        try:
            with pytest.raises(publications.SettingUnchanged, match=BUSY):
                publications.set_protect_other(session, CLI, False)
        finally:
            held.release()
        job = BackgroundJob(
            kind="publish", year=2024, requested_by="chef@example.invalid",
            requested_at=clock.utcnow(), min_cell=5,
        )  # fmt: skip
        session.add(job)  # a publishing job waiting for a worker
        session.flush()
        with pytest.raises(publications.SettingUnchanged, match=BUSY):
            publications.set_protect_other(session, CLI, False)
        session.delete(job)
        session.commit()
    assert _protect_other_stored(app) is None
    assert _audit(app, "inställning.skydda_övriga") == []
    with app.app_context():
        publications.set_protect_other(db.session(), CLI, False)  # free, and a change
        db.session().commit()
    assert _protect_other_stored(app) == "0"
    assert _audit(app, "inställning.skydda_övriga") == ["kommandoraden|av"]


def test_the_overiga_setting_page_shows_the_services_refusals(app, admin_client):
    token = form_token(admin_client.get("/admin/publicera").text)
    same = admin_client.post(
        "/admin/publicera/installning",
        data={"csrf_token": token, "protect": "y"},  # protected already (default)
        follow_redirects=True,
    )
    assert "Inställningen är oförändrad." in html.unescape(same.text)
    with app.app_context():
        held = locks.take(db.session(), 2024)
    try:
        busy = admin_client.post(
            "/admin/publicera/installning", data={"csrf_token": token}, follow_redirects=True
        )
    finally:
        held.release()
    assert BUSY in html.unescape(busy.text)
    assert _protect_other_stored(app) is None
    assert _audit(app, "inställning.skydda_övriga") == []


# --- publishing: the actor checked and audited by the service ----------------------------


def test_publishing_is_refused_to_staff_and_audited_alike_from_the_page_and_the_cli(
    app, admin_client, runner, tmp_path
):
    import_seed(runner, tmp_path, publish=False)  # 2023's answers
    staff = _staff(app, "Steget")
    with app.app_context():
        session = db.session()
        with pytest.raises(Refused, match="bara administratören"):
            publications.publish(session, staff, instrument_from_db(session), year=2023, min_cell=5)
        assert publications.latest(session, 2023) is None
    assert _audit(app, "publicering.publicera") == []
    token = form_token(admin_client.get("/admin/publicera").text)
    page = admin_client.post("/admin/publicera/2023", data={"csrf_token": token, "confirm": "y"})
    assert page.status_code == 302  # the job, done here at once by the worker's code path
    done = runner.invoke(args=["publish", "--year", "2023"])
    assert done.exit_code == 0, done.output
    entries = [entry.split("|") for entry in _audit(app, "publicering.publicera")]
    assert [who for who, _ in entries] == ["administratör-0@example.invalid", "kommandoraden"]
    assert all(PUBLISHED.fullmatch(detail) for _, detail in entries), entries
    with app.app_context():
        by = [p.published_by for p in db.session().exec(select(Publication))]
    assert sorted(by) == ["administratör-0@example.invalid", "kommandoraden"]


def test_publish_from_the_cli_refuses_the_old_by_option_and_publishes_nothing(
    app, runner, tmp_path
):
    import_seed(runner, tmp_path, publish=False)
    done = runner.invoke(args=["publish", "--year", "2023", "--by", "chef@example.invalid"])
    assert done.exit_code == 2
    assert "Valet --by finns inte längre" in done.output
    assert "Ingenting har publicerats" in done.output
    with app.app_context():
        assert publications.latest(db.session(), 2023) is None
    assert _audit(app, "publicering.publicera") == []


# --- purging answers and loading the instrument: the service's rule and audit entry --------


def test_purge_refuses_the_current_year_itself_and_audits_only_years_and_counts(
    app, runner, tmp_path
):
    import_seed(runner, tmp_path)  # 2023: 118 questionnaires, published
    staff = _staff(app, "Steget")
    with app.app_context():
        session = db.session()
        with pytest.raises(Refused, match="bara administratören"):
            maintenance.purge(session, staff, before=2024)
        with pytest.raises(maintenance.MaintenanceError, match="Innevarande års svar"):
            maintenance.purge(session, CLI, before=THIS_YEAR + 1)
        session.commit()
        assert session.exec(select(func.count()).select_from(Response)).one() == 118
    asked = runner.invoke(args=["purge", "--before", str(THIS_YEAR + 1)], input="j\n")
    assert asked.exit_code == 1
    assert "Fel: Innevarande års svar kan inte gallras." in asked.output
    assert "Fortsätta?" not in asked.output  # refused before the question, as before
    assert _audit(app, "svar.gallra") == []
    done = runner.invoke(args=["purge", "--before", "2024", "--yes"])
    assert done.exit_code == 0, done.output
    assert _audit(app, "svar.gallra") == ["kommandoraden|före 2024: 118 enkäter från 1 år (2023)"]


def test_loading_the_instrument_is_refused_to_staff_and_audited_with_counts(app, runner):
    staff = _staff(app, "Steget")
    with app.app_context():
        session = db.session()
        with pytest.raises(Refused, match="bara administratören"):
            load_instrument_file(session, staff)
        instrument = instrument_from_db(session)
        questions = sum(1 for _ in instrument.all_questions())
    assert _audit(app, "instrument.läs_in") == []
    done = runner.invoke(args=["instrument", "load"])
    assert done.exit_code == 0, done.output
    assert _audit(app, "instrument.läs_in") == [
        f"kommandoraden|nns.yaml version {instrument.version}: {questions} frågor, 0 ändringar"
    ]


# --- upload limits: the import service refuses, whoever read the bytes -------------------

RIKET = "year,questionnaire,question,subgroup,positive\n2023,deltagare_avslut,1,samtliga,91\n"


def _upload(admin_client, kind: str, files: dict) -> str:
    token = form_token(admin_client.get("/admin/importer").text)
    page = admin_client.post(
        f"/admin/importer/{kind}",
        data={"csrf_token": token, **files},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    return html.unescape(page.text)


def test_an_oversized_figures_file_or_signature_is_refused_alike_on_the_page_and_the_cli(
    app, admin_client, runner, tmp_path
):
    big = tmp_path / "historik.csv"
    big.write_bytes(HISTORY.encode() + b" " * imports.MAX_FILE)  # one byte too many
    done = runner.invoke(args=["import", "history", str(big)])
    assert done.exit_code == 1
    assert "Filen är för stor (högst 2 MB)." in done.output
    assert "Fel: Ingenting har importerats." in done.output
    page = _upload(admin_client, "historik", {"file": (big.open("rb"), "historik.csv")})
    assert "Filen är för stor (högst 2 MB)." in page
    riket = tmp_path / "riket.csv"
    riket.write_text(RIKET, encoding="utf-8")
    signature = tmp_path / "riket.csv.sig"  # beside the file: the CLI reads it
    signature.write_bytes(b"x" * (imports.MAX_SIGNATURE + 1))
    done = runner.invoke(args=["import", "national", str(riket)])
    assert done.exit_code == 1
    assert "Signaturfilen är för stor (högst 4096 byte)." in done.output
    page = _upload(
        admin_client,
        "riket",
        {"file": (riket.open("rb"), "riket.csv"), "signature": (signature.open("rb"), "r.sig")},
    )
    assert "Signaturfilen är för stor (högst 4096 byte)." in page
    with app.app_context():
        session = db.session()
        assert session.exec(select(ImportBatch)).all() == []
        assert session.exec(select(AuditEntry).where(AuditEntry.action != "inloggning")).all() == []
    with app.app_context():  # the same files within the limits are taken
        session = db.session()
        instrument = instrument_from_db(session)
        data = HISTORY.encode()
        assert imports.import_figures(
            session, CLI, instrument, "history", data=data, filename="historik.csv"
        ) == 1  # fmt: skip
        signed = b"x" * imports.MAX_SIGNATURE  # no NNS key configured: not checked
        assert imports.import_figures(
            session, CLI, instrument, "national", data=RIKET.encode(), filename="riket.csv",
            signature=signed,
        ) == 1  # fmt: skip


# --- links: a closed round gets none, whoever asks -----------------------------------------


def test_the_link_services_refuse_a_closed_round_and_a_kiosk_link_for_another_mode(app, make_round):
    kiosk = make_round(insats="Steget", mode="kiosk")
    open_link = make_round(insats="Steget", mode="open_link")
    staff = _staff(app, "Steget")
    with app.app_context():
        session = db.session()
        with pytest.raises(Refused, match="besvaras inte på surfplattor"):
            rounds.issue_kiosk_link(session, staff, session.get(Round, open_link.id))
        for id_ in (kiosk.id, open_link.id):
            rounds.close_round(session, session.get(Round, id_))
        session.commit()
        for actor in (staff, CLI):
            closed = session.get(Round, kiosk.id)
            with pytest.raises(Refused, match="Mätomgången är stängd och tar inte emot svar"):
                rounds.make_links(session, actor, closed, count=3, action="länkar.skapa")
            with pytest.raises(Refused, match="Mätomgången är stängd och tar inte emot svar"):
                rounds.issue_kiosk_link(session, actor, closed)
        session.commit()  # whatever the refused calls had left would be stored now
    assert count_rows(app, "link_token") == 0
    assert count_rows(app, "kiosk_enrolment") == 0
    assert _audit(app, "länkar.skapa") == []
    assert _audit(app, "kiosk.ny_lank") == []


# --- a round's expected respondents: one limit, the service's ------------------------------


def test_the_expected_respondents_have_one_limit_on_the_page_the_cli_and_the_service(
    app, admin_client, runner
):
    with app.app_context():
        session = db.session()
        steget = rounds.intervention_by_name(session, "Steget", create=True).id
        session.commit()
        keys = instrument_from_db(session).questionnaire_keys
        for too_many in (-1, rounds.MAX_EXPECTED + 1):
            with pytest.raises(rounds.RoundRuleError, match="ett heltal 0–100 000"):
                rounds.start_round(
                    session, actor=CLI, questionnaire_keys=keys,
                    questionnaire="deltagare_avslut", year=THIS_YEAR,
                    intervention_id=steget, mode="open_link", expected=too_many,
                )  # fmt: skip
    create = ["rounds", "create", "--questionnaire", "deltagare_avslut",
              "--year", str(THIS_YEAR), "--insats", "Steget", "--yes"]  # fmt: skip
    done = runner.invoke(args=[*create, "--expected", str(rounds.MAX_EXPECTED + 1)])
    assert done.exit_code == 1
    assert done.output == "Fel: Förväntat antal svarande ska vara ett heltal 0–100 000.\n"
    page = admin_client.post(
        "/personal/omgang/ny",
        data=_new_round_form(
            form_token(admin_client.get("/personal").text),
            steget,
            expected=str(rounds.MAX_EXPECTED + 1),
        ),
    )
    assert page.status_code == 400
    assert "Förväntat antal svarande ska vara ett heltal 0–100 000." in html.unescape(page.text)
    with app.app_context():
        assert db.session().exec(select(Round)).all() == []
    assert _audit(app, "omgång.skapa") == []
    done = runner.invoke(args=[*create, "--expected", str(rounds.MAX_EXPECTED)])
    assert done.exit_code == 0, done.output  # the limit itself is allowed
    with app.app_context():
        assert [r.expected for r in db.session().exec(select(Round))] == [rounds.MAX_EXPECTED]
