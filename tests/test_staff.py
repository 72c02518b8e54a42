"""Staff workflows: mail with a real SMTP server, paper entry, round rules, kiosk enrolment,
the round list and audit log in Swedish, public links, error pages."""

from __future__ import annotations

import html
import re
import socket
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from surveys import clock, db
from surveys.models import Role, Round
from surveys.services import rounds as ops
from surveys.services.actor import Actor, Refused
from surveys.services.catalogue import instrument_from_db
from surveys.services.submissions import Outcome
from surveys.services.validation import clean_submission
from tests.conftest import (
    answer_exit,
    count_rows,
    csrf,
    form_token,
    login,
    paper_key,
    release_all,
    scalar,
    second_waits_for_first,
    table_rows,
)

THIS_YEAR = clock.today().year


class Inbox:
    """aiosmtpd handler keeping every message; refuses addresses in ``refuse``."""

    def __init__(self, database_url: str | None = None):
        self.messages = []
        self.refuse: set[str] = set()
        self.database_url = database_url
        self.tokens_seen_while_sending: list[int] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's API
        if address.lower() in self.refuse:
            return "550 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        if self.database_url:
            # A separate connection sees the links only if they were committed before sending.
            engine = create_engine(self.database_url)
            with engine.connect() as conn:
                count = conn.execute(text("SELECT COUNT(*) FROM link_token")).scalar_one()
            engine.dispose()
            self.tokens_seen_while_sending.append(count)
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8")))
        return "250 OK"


@pytest.fixture
def smtp_server(database_url):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox(database_url)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture
def staff_client(client, make_user):
    assert login(client, make_user("personal", insatser=["Steget"])).status_code == 302
    return client


def send(client, round_id, addresses, step="send"):
    return client.post(
        f"/personal/omgang/{round_id}/skicka",
        data={"csrf_token": csrf(client), "addresses": addresses, "step": step},
    )


def set_forbund(app, name="Samordningsförbundet Norra Dalarna"):
    with app.app_context():
        from surveys.services.settings import FORBUND_NAME, put

        put(db.session(), FORBUND_NAME, name)
        db.session().commit()


# --- mail ---------------------------------------------------------------------------


def test_mail_preview_shows_subject_text_and_count_and_sends_nothing(
    app, staff_client, make_round, smtp_server
):
    port, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    set_forbund(app)
    r = make_round("remittent", insats="Steget", mode="single_use")
    page = send(staff_client, r.id, "anna@exempel.se\nbo@kommun.se, anna@exempel.se", "preview")
    text_ = html.unescape(page.text)
    assert page.status_code == 200
    assert re.search(r'id="mottagare"><strong>2</strong> mottagare', text_)
    assert "Samordningsförbundet Norra Dalarna: enkät – Remittenter" in text_
    assert "om Steget" in text_
    assert "Skicka 2 e-postmeddelanden" in text_
    assert inbox.messages == []
    assert count_rows(app, "link_token") == 0


def test_send_links_commits_first_names_forbund_and_insats_and_keeps_no_address(
    app, staff_client, make_round, smtp_server
):
    port, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_SENDER="enkat@sof.se")
    set_forbund(app)
    r = make_round("remittent", insats="Steget", mode="single_use")
    addresses = ["anna@exempel.se", "bo.berg@kommun.se", "Cecilia@region.se"]
    page = send(staff_client, r.id, "\n".join(addresses) + ", anna@exempel.se")
    assert page.status_code == 200
    assert "3 e-postmeddelanden är skickade" in page.text
    assert sorted(to[0].lower() for to, _ in inbox.messages) == sorted(a.lower() for a in addresses)
    # every link was committed before the first message left (no transaction held open)
    assert inbox.tokens_seen_while_sending == [3, 3, 3]
    body = inbox.messages[0][1]
    assert "From: Samordningsförbundet Norra Dalarna <enkat@sof.se>" in body or (
        "enkat@sof.se" in body and "=?utf-8?" in body
    )
    assert "Steget" in body
    links = [re.search(r"http://localhost/t/\S+", b).group(0) for _, b in inbox.messages]
    assert len(set(links)) == 3
    assert staff_client.get(links[0].removeprefix("http://localhost")).status_code == 200
    with app.app_context():
        session = db.session()
        dump = "\n".join(
            str(row)
            for table in ("mail_batch", "audit_entry", "link_token")
            for row in session.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
        )
        assert session.execute(text("SELECT count FROM mail_batch")).scalar_one() == 3
    for address in addresses:
        assert address.lower() not in dump.lower()
    assert "3 skickade med e-post" in staff_client.get(f"/personal/omgang/{r.id}").text


def test_a_refused_address_is_reported_and_its_link_revoked(
    app, staff_client, make_round, smtp_server
):
    port, inbox = smtp_server
    inbox.refuse = {"finns.inte@exempel.se"}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    r = make_round("remittent", insats="Steget", mode="single_use")
    page = send(staff_client, r.id, "anna@exempel.se finns.inte@exempel.se bo@exempel.se")
    assert "2 e-postmeddelanden är skickade" in page.text
    assert re.search(r'id="misslyckade"><li>finns.inte@exempel.se</li></ul>', page.text)
    assert count_rows(app, "link_token") == 2  # the refused address's link is gone
    with app.app_context():
        assert db.session().execute(text("SELECT count FROM mail_batch")).scalar_one() == 2


def test_invalid_addresses_are_listed_and_nothing_is_sent(
    app, staff_client, make_round, smtp_server
):
    port, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    r = make_round("remittent", insats="Steget", mode="single_use")
    response = send(staff_client, r.id, "ok@exempel.se\ninte-en-adress\nx@y")
    assert response.status_code == 400
    assert "<li>inte-en-adress</li>" in response.text
    assert "<li>x@y</li>" in response.text
    assert inbox.messages == []
    assert count_rows(app, "link_token") == 0


def test_smtp_down_revokes_the_links_and_says_so(app, staff_client, make_round):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=closed_port)
    r = make_round("remittent", insats="Steget", mode="single_use")
    response = send(staff_client, r.id, "ok@exempel.se")
    assert response.status_code == 503
    assert "0 e-postmeddelanden är skickade" in response.text
    assert "1 kunde inte skickas" in response.text
    assert count_rows(app, "link_token") == 0
    assert count_rows(app, "mail_batch") == 0
    with app.app_context():
        detail = (
            db.session()
            .execute(text("SELECT detail FROM audit_entry WHERE action = 'länkar.skicka'"))
            .scalar_one()
        )
    assert "0 skickade, 1 misslyckades" in detail


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (trusted only when SSL_CERT_FILE names it)."""
    import subprocess

    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted", "trusted"])
def test_tls_verifies_the_server_certificate(
    app, staff_client, make_round, certificate, monkeypatch, implicit, trusted
):
    import ssl

    key, cert = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if trusted:
        # ssl.create_default_context() reads the trust store named here (OpenSSL's default).
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    inbox = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tls = {"ssl_context": context} if implicit else {"tls_context": context}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    try:
        app.config.update(
            MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_STARTTLS=not implicit, MAIL_TLS=implicit
        )
        r = make_round("remittent", insats="Steget", mode="single_use")
        page = send(staff_client, r.id, "anna@exempel.se")
    finally:
        controller.stop()
    if trusted:
        assert len(inbox.messages) == 1
        assert "1 e-postmeddelande är skickat" in page.text
        assert count_rows(app, "link_token") == 1
    else:  # a certificate nobody vouches for gets no mail and no live link
        assert inbox.messages == []
        assert page.status_code == 503
        assert count_rows(app, "link_token") == 0


def test_development_mail_goes_to_a_folder_and_the_page_says_so(
    app, staff_client, make_round, tmp_path
):
    app.config.update(MAIL_SERVER="", MAIL_FOLDER=str(tmp_path / "mail"))
    r = make_round("remittent", insats="Steget", mode="single_use")
    form = staff_client.get(f"/personal/omgang/{r.id}/skicka").text
    assert "inget skickas" in form
    page = send(staff_client, r.id, "a@exempel.se b@exempel.se")
    assert "2 meddelanden sparades som filer" in page.text
    assert "inget skickades" in page.text
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 2


def test_production_without_mail_server_writes_no_files(app, staff_client, make_round, tmp_path):
    app.config.update(SURVEYS_ENV="production", MAIL_SERVER="", MAIL_FOLDER=str(tmp_path / "m"))
    r = make_round("remittent", insats="Steget", mode="single_use")
    page = send(staff_client, r.id, "a@exempel.se")
    app.config.update(SURVEYS_ENV="development")
    assert page.status_code == 302
    assert not (tmp_path / "m").exists()
    assert count_rows(app, "link_token") == 0


# --- paper entry --------------------------------------------------------------------


def test_paper_entry_keeps_every_field_after_an_error_and_stores_once(
    app, staff_client, make_round
):
    r = make_round("deltagare_avslut", insats="Steget")
    url = f"/personal/omgang/{r.id}/papper"
    key = paper_key(staff_client.get(url).text)
    data = {"csrf_token": csrf(staff_client), "form_key": key, "gender": "kvinna"}
    bad = staff_client.post(
        url, data=data | {"q1": "8", "q2": "x", "q3": "5", "q8": "2", "q9": "5"}
    )
    assert bad.status_code == 400
    page = html.unescape(bad.text)
    assert "Fråga 1: '8' är inget giltigt svar" in page
    assert "Fråga 2: 'x'" in page
    assert "Fråga 9 besvaras bara om fråga 8 är Ja" in page
    assert '<option value="kvinna" selected>' in bad.text  # Kön is kept
    assert re.search(r'id="q3" name="q3"[^>]*value="5"', bad.text)
    assert paper_key(bad.text) == key  # the same form, so a resend is still one form
    assert count_rows(app, "response") == 0
    good = data | {"q1": "6", "q3": "5", "q8": "1", "q9": "4"}
    assert staff_client.post(url, data=good).status_code == 302
    again = staff_client.post(url, data=good, follow_redirects=True)  # a double click
    assert "redan registrerad" in again.text
    release_all(app)
    with app.app_context():
        rows = db.session().execute(text("SELECT gender, round_id FROM response")).all()
        audit = (
            db.session()
            .execute(
                text("SELECT detail FROM audit_entry WHERE action = 'pappersenkät.registrera'")
            )
            .scalars()
            .all()
        )
    assert rows == [("kvinna", r.id)]
    assert audit == [f"Deltagare – avslutsenkät {r.year} – Steget"]  # the round by name, no answers


def _paper_state(app, round_id: str) -> tuple[int, list, list]:
    """(questionnaires waiting or released, paper audit entries, typist counts)."""
    with app.app_context():
        session = db.session()
        waiting = session.execute(
            text("SELECT (SELECT COUNT(*) FROM pending_response) + (SELECT COUNT(*) FROM response)")
        ).scalar_one()
        audit = session.execute(
            text(
                "SELECT user_email, detail FROM audit_entry "
                "WHERE action = 'pappersenkät.registrera'"
            )
        ).all()
        typed = session.execute(
            text("SELECT typed_by, gender, count FROM paper_typist WHERE round_id = :r"),
            {"r": round_id},
        ).all()
    return waiting, [tuple(a) for a in audit], [tuple(t) for t in typed]


def test_register_paper_refuses_another_insats_and_commits_only_a_stored_form(app, make_round):
    """rounds.register_paper: staff of another insats get Refused and nothing is stored;
    a stored form commits its audit entry and typist count with it (in submit's own
    transaction), a double click (duplicate) keeps nothing of its own."""
    r = make_round("deltagare_avslut", insats="Steget")
    with app.app_context():
        session = db.session()
        steget = ops.intervention_by_name(session, "Steget").id
        annan = ops.intervention_by_name(session, "Annan", create=True).id
        session.commit()
        qn = instrument_from_db(session).questionnaire("deltagare_avslut")
        answers = {q.number: "" for q in qn.questions_in(r.year)} | {1: "6"}
        clean = clean_submission(
            instrument_from_db(session),
            questionnaire=qn.key,
            year=r.year,
            answers=answers,
            gender="kvinna",
        )
        other = Actor("annan@example.invalid", Role.staff.value, frozenset({annan}))
        own = Actor("steget@example.invalid", Role.staff.value, frozenset({steget}))
        round_ = session.get(Round, r.id)
        with pytest.raises(Refused, match="dina egna insatser"):
            ops.register_paper(session, other, round_, clean, form_key="k" * 24)
        session.commit()  # whatever the refused call had left would be stored now
        assert _paper_state(app, r.id) == (0, [], [])
        stored = ops.register_paper(session, own, round_, clean, form_key="k" * 24)
        assert stored is Outcome.stored
        session.rollback()  # committed already, by submit's transaction
        again = ops.register_paper(session, own, round_, clean, form_key="k" * 24)
        assert again is Outcome.duplicate
        session.commit()  # nothing of the duplicate is left to commit
    label = f"Deltagare – avslutsenkät {r.year} – Steget"
    assert _paper_state(app, r.id) == (
        1,
        [("steget@example.invalid", label)],
        [("steget@example.invalid", "kvinna", 1)],
    )
    _close(app, r.id)
    with app.app_context():
        session = db.session()
        with pytest.raises(Refused, match="bara registreras i öppna omgångar"):
            ops.register_paper(session, own, session.get(Round, r.id), clean, form_key="n" * 24)
        session.commit()
    assert _paper_state(app, r.id)[:2] == (1, [("steget@example.invalid", label)])


def _close(app, round_id: str) -> None:
    with app.app_context():
        session = db.session()
        ops.close_round(session, session.get(Round, round_id))
        session.commit()


# --- rounds -------------------------------------------------------------------------


def start(client, **fields):
    data = {"csrf_token": csrf(client), "questionnaire": "deltagare_avslut", "year": THIS_YEAR}
    data |= {"mode": "open_link", "expected": ""} | fields
    return client.post("/personal/omgang/ny", data=data)


def insats_id(app, name):
    with app.app_context():
        intervention_id = ops.intervention_by_name(db.session(), name, create=True).id
        db.session().commit()
        return intervention_id


def test_start_round_form_errors_are_swedish_and_store_nothing(app, staff_client):
    steget = insats_id(app, "Steget")
    page = start(staff_client, insats=steget, year="tjugo", expected="-1", mode="x")
    assert page.status_code == 400
    text_ = html.unescape(page.text)
    assert "Ange året som ett heltal" in text_
    assert "Förväntat antal svarande ska vara ett heltal 0–100 000." in text_
    assert count_rows(app, "round") == 0
    assert count_rows(app, "audit_entry") == 1


def test_staff_start_rounds_only_for_this_year_and_their_own_questionnaires(app, staff_client):
    steget = insats_id(app, "Steget")
    last_year = start(staff_client, insats=steget, year=THIS_YEAR - 1)
    assert "Mätomgångar startas för innevarande år" in html.unescape(last_year.text)
    board = start(staff_client, insats=steget, questionnaire="styrelse")
    assert "startas av administratören" in html.unescape(board.text)
    assert "styrelse" not in re.search(
        r'<select id="questionnaire".*?</select>', board.text, re.S
    ).group(0)
    assert count_rows(app, "round") == 0
    ok = start(staff_client, insats=steget, expected="12")
    assert ok.status_code == 302
    with app.app_context():
        row = db.session().execute(text("SELECT year, state, expected FROM round")).one()
    assert tuple(row) == (THIS_YEAR, "open", 12)


def test_staff_starting_a_round_for_another_insats_is_refused_by_the_service_in_swedish(
    app, staff_client
):
    """The page no longer answers a bare 403 of its own before the service: the rounds
    service refuses (Refused) and the 403 page says why, in Swedish."""
    annan = insats_id(app, "Annan")
    page = start(staff_client, insats=annan)
    assert page.status_code == 403
    assert ops.NOT_OWN_INSATS in html.unescape(page.text)
    assert count_rows(app, "round") == 0
    with app.app_context():
        session = db.session()
        staff = Actor("p@example.invalid", Role.staff.value, frozenset())
        with pytest.raises(Refused, match="dina egna insatser"):
            ops.start_round(
                session, actor=staff, questionnaire_keys=["deltagare_avslut"],
                questionnaire="deltagare_avslut", year=THIS_YEAR, intervention_id=annan,
                mode="open_link",
            )  # fmt: skip
        assert count_rows(app, "audit_entry") == 1  # the sign-in only


def test_the_signed_in_user_asks_the_services_rule_what_she_manages(app, monkeypatch):
    """``SignedIn.can_manage`` and ``is_admin`` are the actor's (one rule, not a copy)."""
    from surveys.auth import SignedIn
    from surveys.models import User

    def signed_in(role: str, insatser: set[str]) -> SignedIn:
        return SignedIn(User(id="u1", email="x@example.invalid", role=role), insatser)

    cases = [
        (Role.admin.value, set(), None),
        (Role.admin.value, set(), "a"),
        (Role.staff.value, {"a"}, "a"),
        (Role.staff.value, {"a"}, "b"),
        (Role.staff.value, {"a"}, None),
        (Role.reader.value, {"a"}, "a"),
    ]
    for role, insatser, insats in cases:
        user = signed_in(role, insatser)
        assert user.actor == Actor("x@example.invalid", role, frozenset(insatser))
        assert user.can_manage(insats) == user.actor.can_manage(insats)
        assert user.is_admin == user.actor.is_admin
    asked = []
    monkeypatch.setattr(Actor, "can_manage", lambda self, i: asked.append(i) or False)
    assert not signed_in(Role.admin.value, set()).can_manage("a")
    assert asked == ["a"]


def test_admin_may_start_earlier_years_and_board_rounds(app, admin_client):
    page = start(admin_client, questionnaire="styrelse", insats="", year=THIS_YEAR - 1)
    assert page.status_code == 302
    future = start(admin_client, questionnaire="styrelse", insats="", year=THIS_YEAR + 1)
    assert "eller ett tidigare år" in html.unescape(future.text)
    assert count_rows(app, "round") == 1


def test_admin_round_for_an_unknown_insats_is_a_message_not_a_500(app, admin_client):
    page = start(admin_client, insats="finns-inte-0123456789abcdef012345")
    assert page.status_code == 400
    assert "Insatsen finns inte" in page.text
    assert count_rows(app, "round") == 0


def test_a_duplicate_round_warns_and_needs_confirmation(app, staff_client):
    steget = insats_id(app, "Steget")
    assert start(staff_client, insats=steget).status_code == 302
    warned = start(staff_client, insats=steget)
    assert warned.status_code == 409
    assert 'id="dubblett"' in warned.text
    assert "Ja, starta en till" in warned.text
    assert count_rows(app, "round") == 1
    assert start(staff_client, insats=steget, confirm="y").status_code == 302
    assert count_rows(app, "round") == 2
    other_mode = start(staff_client, insats=steget, mode="kiosk")
    assert other_mode.status_code == 302
    assert count_rows(app, "round") == 3


def test_a_double_click_on_starta_makes_one_round(app, staff_client):
    """Two "Starta" at the same moment both looked for a like round before either had
    made one, and two came out. Now the second waits for the first's commit
    (``locks.in_turn``) and is warned of the first, as a later click is."""
    steget = insats_id(app, "Steget")
    admin = Actor("admin@example.invalid", Role.admin.value, frozenset())
    asked = {
        "questionnaire_keys": ["deltagare_avslut"],
        "questionnaire": "deltagare_avslut",
        "year": THIS_YEAR,
        "intervention_id": steget,
        "mode": "open_link",
    }

    def second(session) -> str:
        try:
            ops.start_round(session, actor=admin, **asked)
        except ops.DuplicateRound as exc:
            session.rollback()
            return f"warned of {exc.existing.id}"
        session.commit()
        return "started"

    first, said = second_waits_for_first(
        app, lambda s: ops.start_round(s, actor=admin, **asked).id, second
    )
    assert said == f"warned of {first}"
    assert count_rows(app, "round") == 1


def test_round_page_offers_only_valid_transitions_and_stang_asks_first(
    app, staff_client, make_round
):
    r = make_round("deltagare_avslut", insats="Steget")
    page = staff_client.get(f"/personal/omgang/{r.id}").text
    assert ">Stäng</button>" in page
    assert ">Öppna</button>" not in page
    ask = staff_client.post(
        f"/personal/omgang/{r.id}/stang", data={"csrf_token": csrf(staff_client)}
    )
    assert "Vill du stänga mätomgången?" in ask.text
    assert _state(app, r.id) == "open"
    staff_client.post(
        f"/personal/omgang/{r.id}/stang", data={"csrf_token": csrf(staff_client), "confirm": "y"}
    )
    assert _state(app, r.id) == "closed"
    page = staff_client.get(f"/personal/omgang/{r.id}").text
    assert ">Öppna</button>" in page
    assert ">Stäng</button>" not in page


def _state(app, round_id):
    with app.app_context():
        return db.session().get(Round, round_id).state


def test_an_empty_round_can_be_removed_but_not_one_with_answers(app, staff_client, make_round):
    empty = make_round("deltagare_avslut", insats="Steget")
    used = make_round("personal", insats="Steget")
    form = staff_client.get(f"/s/{used.code}").text
    staff_client.post(f"/s/{used.code}", data={"csrf_token": form_token(form), "q1": "6"})
    assert "Ta bort" not in staff_client.get(f"/personal/omgang/{used.id}").text
    refused = staff_client.post(
        f"/personal/omgang/{used.id}/ta-bort",
        data={"csrf_token": csrf(staff_client), "confirm": "y"},
        follow_redirects=True,
    )
    assert "kan inte tas bort" in refused.text
    assert count_rows(app, "round") == 2
    ask = staff_client.post(
        f"/personal/omgang/{empty.id}/ta-bort", data={"csrf_token": csrf(staff_client)}
    )
    assert "Vill du ta bort mätomgången?" in ask.text
    assert count_rows(app, "round") == 2
    done = staff_client.post(
        f"/personal/omgang/{empty.id}/ta-bort",
        data={"csrf_token": csrf(staff_client), "confirm": "y"},
        follow_redirects=True,
    )
    assert f"Deltagare – avslutsenkät {THIS_YEAR} – Steget är borttagen" in done.text
    with app.app_context():
        assert db.session().get(Round, empty.id) is None


def test_closed_round_cannot_be_reopened_after_its_year(app, make_round):
    r = make_round("styrelse", insats=None, year=THIS_YEAR - 1, open_=False)
    with app.app_context():
        session = db.session()
        round_ = session.get(Round, r.id)
        ops.open_round(session, round_, today=date(round_.year, 5, 1))
        ops.close_round(session, round_)
        with pytest.raises(ops.RoundStateError, match="kan inte öppnas igen"):
            ops.open_round(session, round_)
        assert not ops.can_open(round_)
        ops.open_round(session, round_, today=date(round_.year, 12, 1))  # within its year
        with pytest.raises(ops.RoundStateError, match="redan öppen"):
            ops.open_round(session, round_)


def test_response_overview_counts_without_showing_answers(app, staff_client, make_round):
    r = make_round("deltagare_avslut", insats="Steget", expected=4)
    for _ in range(3):
        page = staff_client.get(f"/s/{r.code}")
        staff_client.post(f"/s/{r.code}", data={"csrf_token": form_token(page.text), "q1": "6"})
    overview = staff_client.get(f"/personal/omgang/{r.id}").text
    assert "<strong>3</strong> besvarade av 4 förväntade – svarsfrekvens 75 %" in overview
    iso = clock.today().isocalendar()
    assert f"{iso.year} v. {iso.week:02d}" in overview
    assert "Alltid" not in overview
    assert "3 / 4 (75 %)" in staff_client.get("/personal").text


def test_round_list_shows_swedish_names_not_keys(app, staff_client, make_round):
    make_round("remittent", insats="Steget", mode="kiosk")
    rows = table_rows(staff_client.get("/personal").text)
    assert rows[1][:5] == (
        "Remittenter",
        "Steget",
        str(THIS_YEAR),
        "Surfplatta (kioskläge)",
        "Öppen",
    )
    assert "remittent" not in "".join(rows[1])


def test_rounds_started_the_same_day_are_listed_by_questionnaire_and_insats(
    app, admin_client, make_round, runner
):
    """Rounds of one day have no time to order them by (and random ids): the staff page and
    `surveys rounds list` list them by questionnaire, then insats, whatever order they were
    started in."""
    make_round("personal", insats="Steget")
    make_round("deltagare_avslut", insats="Steget")
    make_round("deltagare_avslut", insats=None)
    make_round("deltagare_avslut", insats="Alfa")
    rows = table_rows(admin_client.get("/personal").text)
    assert [r[:2] for r in rows[1:]] == [
        ("Deltagare – avslutsenkät", "Hela förbundet"),
        ("Deltagare – avslutsenkät", "Alfa"),
        ("Deltagare – avslutsenkät", "Steget"),
        ("Personal i insatser", "Steget"),
    ]
    listing = runner.invoke(args=["rounds", "list"]).output.splitlines()
    found = [re.search(r"\((\w+)\)\s+(\w+)", line) for line in listing]
    listed = [m.groups() for m in found if m]
    assert listed == [
        ("deltagare_avslut", "Hela"),
        ("deltagare_avslut", "Alfa"),
        ("deltagare_avslut", "Steget"),
        ("personal", "Steget"),
    ]


def test_audit_log_is_swedish_with_names_and_stockholm_time(app, admin_client):
    steget = insats_id(app, "Steget")
    start(admin_client, insats=steget, questionnaire="remittent")
    with app.app_context():
        round_id = db.session().execute(text("SELECT id FROM round")).scalar_one()
    log = admin_client.get("/admin/logg").text
    rows = table_rows(log)
    now = datetime.now(UTC).astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d %H:")
    created = next(r for r in rows if r[2] == "Startade en mätomgång")
    assert created[0].startswith(now)
    assert created[1] == "administratör-0@example.invalid"
    assert created[3] == f"Remittenter {THIS_YEAR} – Steget (Öppen länk)"
    assert round_id not in log
    assert "omgång.skapa" not in log


# --- public links, CSV, start page, error pages --------------------------------------


def test_links_use_the_request_address_when_public_url_is_not_set(app, staff_client, make_round):
    app.config.update(PUBLIC_URL="")
    r = make_round("deltagare_avslut", insats="Steget")
    base = "http://localhost:18801"
    poster = staff_client.get(f"/personal/omgang/{r.id}/affisch", base_url=base).text
    assert f"{base}/s/{r.code}" in poster
    csv_ = staff_client.post(
        f"/personal/omgang/{r.id}/lankar.csv",
        data={"csrf_token": csrf(staff_client), "count": "2"},
        base_url=base,
    )
    body = csv_.data.decode("utf-8")
    assert body.startswith("\ufeffnr;lank\r\n1;" + base + "/t/")  # BOM + semicolons: Excel
    app.config.update(PUBLIC_URL="https://enkat.forbund.se")
    poster = staff_client.get(f"/personal/omgang/{r.id}/affisch", base_url=base).text
    assert f"https://enkat.forbund.se/s/{r.code}" in poster
    assert base not in poster


def test_start_page_explains_to_respondents_and_signs_staff_in(client, make_user):
    page = client.get("/")
    assert page.status_code == 200
    assert "Vill du svara på en enkät?" in page.text
    assert 'action="/logga-in"' in page.text
    email = make_user("personal", insatser=["Steget"])
    signed = client.post(
        "/logga-in",
        data={
            "csrf_token": form_token(page.text),
            "email": email,
            "password": "ett-langt-losenord",
        },
    )
    assert signed.headers["Location"].endswith("/personal")
    assert client.get("/").headers["Location"].endswith("/personal")


def test_error_pages_have_the_top_bar_and_a_way_back(app, client, staff_client, make_round):
    other = make_round("deltagare_avslut", insats="Annan")
    forbidden = staff_client.get(f"/personal/omgang/{other.id}")
    assert forbidden.status_code == 403
    assert "Ingen behörighet" in forbidden.text
    assert 'class="topbar"' in forbidden.text
    assert "Logga ut" in forbidden.text
    assert re.search(r'href="/personal" id="tillbaka">Till Insatser och enkäter', forbidden.text)
    missing = staff_client.get("/personal/omgang/finns-inte")
    assert missing.status_code == 404
    assert 'id="tillbaka"' in missing.text
    no_results = staff_client.get("/rapport/2019")
    assert "Inga publicerade resultat för 2019" in no_results.text
    assert 'id="tillbaka"' in no_results.text
    assert 'class="topbar"' in no_results.text
    # a respondent's wrong link: calm, no staff menu
    anon = app.test_client().get("/s/finns-inte")
    assert anon.status_code == 404
    assert 'class="topbar"' not in anon.text


# --- kiosk enrolment (HTTP; the Chromium test is in test_browser_staff.py) -------------


def test_kiosk_enrolment_link_opens_only_that_round_and_can_be_revoked(
    app, staff_client, make_round
):
    r = make_round("deltagare_pagaende", insats="Steget", mode="kiosk")
    page = staff_client.post(
        f"/personal/omgang/{r.id}/kiosk/ny",
        data={"csrf_token": csrf(staff_client)},
        follow_redirects=True,
    )
    link = re.search(r'id="kiosklank">(http://localhost/surfplatta/[^<]+)<', page.text).group(1)
    tablet = app.test_client()  # no staff session
    form = tablet.get(link.removeprefix("http://localhost"))
    assert form.status_code == 200
    assert "kiosk" in form.text
    assert 'class="topbar"' not in form.text
    path = link.removeprefix("http://localhost")
    stored = tablet.post(path, data={"csrf_token": form_token(form.text), "q1": "6"})
    assert stored.status_code == 303
    assert stored.headers["Location"].endswith(path + "/tack")
    assert count_rows(app, "response") == 1
    with app.app_context():
        token_hash = db.session().execute(text("SELECT token_hash FROM kiosk_enrolment")).scalar()
    assert link.rsplit("/", 1)[1] not in token_hash  # only the hash is kept
    staff_client.post(
        f"/personal/omgang/{r.id}/kiosk/aterkalla", data={"csrf_token": csrf(staff_client)}
    )
    assert tablet.get(path).status_code == 404
    assert tablet.get(path + "/tack").status_code == 404


def test_cli_and_demo_links_use_port_when_public_url_is_unset(app, client, runner, make_round):
    app.config.update(PUBLIC_URL="")
    app.config.update(PORT=18801)  # the PORT setting (read from the environment at start)
    result = runner.invoke(
        args=["rounds", "create", "--questionnaire", "personal", "--year", str(THIS_YEAR)]
        + ["--insats", "Steget"]
    )
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:18801/s/" in result.output
    r = make_round("remittent", insats="Steget")
    form = client.get(f"/s/{r.code}").text
    client.post(f"/s/{r.code}", data={"csrf_token": form_token(form), "q1": "6"})
    demo = runner.invoke(args=["demo"])  # data exists: prints the hint with working links
    assert f"http://127.0.0.1:18801/s/{r.code}" in demo.output
    again = runner.invoke(
        args=["rounds", "create", "--questionnaire", "personal", "--year", str(THIS_YEAR)]
        + ["--insats", "Steget"]
    )
    assert again.exit_code == 1
    assert "--yes" in again.output
    assert count_rows(app, "round") == 2


def test_closing_a_round_commits_its_audit_entry_with_the_closed_state(app, client, make_round):
    """The release of waiting answers commits the closed state inside the service: the
    entry saying who closed it is in that transaction, so a request that fails after it
    cannot leave a closed round that nobody closed."""
    from tests.factories import CHEF

    r = make_round("deltagare_avslut")
    answer_exit(client, f"/s/{r.code}")  # waits to be released (fewer than MIN_CELL)
    assert count_rows(app, "pending_response") == 1
    with app.app_context():
        session = db.session()
        ops.change_state(session, CHEF, session.get(Round, r.id), "stang")
        session.rollback()  # the request fails after the service returned
    assert scalar(app, "SELECT state FROM round WHERE id = :id", id=r.id) == "closed"
    assert count_rows(app, "pending_response") == 0
    entries = scalar(app, "SELECT COUNT(*) FROM audit_entry WHERE action = 'omgång.stang'")
    assert entries == 1
