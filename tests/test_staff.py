"""Staff and administration: mail with a real SMTP server, paper entry, rounds, audit log."""

from __future__ import annotations

import html
import re
import socket
from datetime import date

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from surveys import db
from surveys.models import Round
from surveys.services import rounds as ops
from tests.conftest import count_rows, form_token, login, release_all


class Inbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8")))
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture
def staff_client(client, make_user):
    assert login(client, make_user("personal", insatser=["Steget"])).status_code == 302
    return client


def csrf(client):
    return form_token(client.get("/logga-in").text)


def test_send_links_by_mail_and_keep_no_address(app, staff_client, make_round, smtp_server):
    port, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_SENDER="enkat@sof.invalid")
    r = make_round("remittent", insats="Steget", mode="single_use")
    addresses = ["anna@exempel.se", "bo.berg@kommun.se", "Cecilia@region.se"]
    response = staff_client.post(
        f"/personal/omgang/{r.id}/skicka",
        data={
            "csrf_token": csrf(staff_client),
            "addresses": "\n".join(addresses) + ", anna@exempel.se",
        },
    )
    assert response.status_code == 302
    assert sorted(to[0].lower() for to, _ in inbox.messages) == sorted(a.lower() for a in addresses)
    links = [re.search(r"http://localhost/t/\S+", body).group(0) for _, body in inbox.messages]
    assert len(set(links)) == 3
    # each link works once
    path = links[0].removeprefix("http://localhost")
    assert staff_client.get(path).status_code == 200
    with app.app_context():
        session = db.session()
        dump = "\n".join(
            str(row)
            for table in ("mail_batch", "audit_entry", "link_token")
            for row in session.execute(text(f"SELECT * FROM {table}")).all()
        )
        assert session.execute(text("SELECT count FROM mail_batch")).scalar_one() == 3
    for address in addresses:
        assert address.lower() not in dump.lower()
    page = staff_client.get(f"/personal/omgang/{r.id}").text
    assert "3 skickade med e-post" in page


def test_invalid_addresses_are_listed_and_nothing_is_sent(
    app, staff_client, make_round, smtp_server
):
    port, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    r = make_round("remittent", insats="Steget", mode="single_use")
    response = staff_client.post(
        f"/personal/omgang/{r.id}/skicka",
        data={"csrf_token": csrf(staff_client), "addresses": "ok@exempel.se\ninte-en-adress\nx@y"},
    )
    assert response.status_code == 400
    assert "inte-en-adress" in response.text and "x@y" in response.text
    assert inbox.messages == [] and count_rows(app, "link_token") == 0


def test_smtp_down_stores_nothing(app, staff_client, make_round):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=closed_port)
    r = make_round("remittent", insats="Steget", mode="single_use")
    response = staff_client.post(
        f"/personal/omgang/{r.id}/skicka",
        data={"csrf_token": csrf(staff_client), "addresses": "ok@exempel.se"},
    )
    assert response.status_code == 503 and "Det gick inte att skicka" in response.text
    assert count_rows(app, "link_token") == 0 and count_rows(app, "mail_batch") == 0


def test_development_mail_goes_to_a_folder(app, staff_client, make_round, tmp_path):
    app.config.update(MAIL_SERVER="", MAIL_FOLDER=str(tmp_path / "mail"))
    r = make_round("remittent", insats="Steget", mode="single_use")
    staff_client.post(
        f"/personal/omgang/{r.id}/skicka",
        data={"csrf_token": csrf(staff_client), "addresses": "a@exempel.se b@exempel.se"},
    )
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 2


def test_paper_entry_validates_per_field_and_stays_anonymous(app, staff_client, make_round):
    r = make_round("deltagare_avslut", insats="Steget")
    url = f"/personal/omgang/{r.id}/papper"
    bad = staff_client.post(
        url, data={"csrf_token": csrf(staff_client), "q1": "8", "q2": "x", "q8": "2", "q9": "5"}
    )
    assert bad.status_code == 400
    page = html.unescape(bad.text)
    assert "Fråga 1: '8' är inget giltigt svar" in page
    assert "Fråga 2: 'x'" in page
    assert "Fråga 9 besvaras bara om fråga 8 är Ja" in page
    assert count_rows(app, "response") == 0
    good = staff_client.post(
        url,
        data={"csrf_token": csrf(staff_client), "gender": "man", "q1": "6", "q8": "1", "q9": "4"},
    )
    assert good.status_code == 302
    release_all(app)
    with app.app_context():
        rows = db.session().execute(text("SELECT gender, round_id FROM response")).all()
        audit = (
            db.session()
            .execute(
                text("SELECT detail FROM audit_entry WHERE action = 'pappersenkät.registrera'")
            )
            .scalar_one()
        )
    assert rows == [("man", r.id)]
    assert audit == r.id  # who registered a paper form, never its answers


def test_response_overview_counts_without_showing_answers(app, staff_client, make_round):
    r = make_round("deltagare_avslut", insats="Steget", expected=4)
    for _ in range(3):
        page = staff_client.get(f"/s/{r.code}")
        staff_client.post(f"/s/{r.code}", data={"csrf_token": form_token(page.text), "q1": "6"})
    overview = staff_client.get(f"/personal/omgang/{r.id}").text
    assert "<strong>3</strong> besvarade av 4 förväntade – svarsfrekvens 75 %" in overview
    iso = date.today().isocalendar()
    assert f"{iso.year} v. {iso.week:02d}" in overview
    assert "Alltid" not in overview
    home = staff_client.get("/personal").text
    assert "3 / 4 (75 %)" in home


def test_closed_round_cannot_be_reopened_after_its_year(app, make_round):
    r = make_round("styrelse", insats=None, year=date.today().year - 1, open_=False)
    with app.app_context():
        session = db.session()
        round_ = session.get(Round, r.id)
        ops.open_round(session, round_, today=date(round_.year, 5, 1))
        ops.close_round(session, round_)
        with pytest.raises(ops.RoundStateError, match="kan inte öppnas igen"):
            ops.open_round(session, round_)
        ops.open_round(session, round_, today=date(round_.year, 12, 1))  # within its year
        with pytest.raises(ops.RoundStateError, match="redan öppen"):
            ops.open_round(session, round_)


def test_staff_state_change_gives_swedish_message(app, staff_client, make_round):
    r = make_round("deltagare_avslut", insats="Steget")
    staff_client.post(f"/personal/omgang/{r.id}/stang", data={"csrf_token": csrf(staff_client)})
    again = staff_client.post(
        f"/personal/omgang/{r.id}/stang",
        data={"csrf_token": csrf(staff_client)},
        follow_redirects=True,
    )
    assert "Mätomgången är redan stängd." in again.text


def test_start_round_form_errors(app, staff_client):
    response = staff_client.post(
        "/personal/omgang/ny",
        follow_redirects=True,
        data={
            "csrf_token": csrf(staff_client),
            "questionnaire": "okand",
            "year": "tjugo",
            "mode": "x",
            "expected": "-1",
            "insats": "",
        },
    )
    assert response.status_code == 403  # staff cannot start a förbund-wide round


def test_admin_pages_and_audit_log(app, client, make_user):
    login(client, make_user("administratör"))
    token = csrf(client)
    client.post("/admin/insatser", data={"csrf_token": token, "name": "Nya vägar"})
    client.post("/admin/grans", data={"csrf_token": token, "min_cell": "0"})
    page = client.post(
        "/admin/grans", data={"csrf_token": token, "min_cell": "7"}, follow_redirects=True
    )
    assert "färre än 7 svar" in page.text
    client.post(
        "/admin/anvandare",
        data={
            "csrf_token": token,
            "email": "p@example.invalid",
            "password": "kort",
            "role": "personal",
        },
    )
    log = client.get("/admin/logg").text
    assert "insats.skapa" in log and "Nya vägar" in log and "gräns.ändra" in log
    assert count_rows(app, "app_user") == 1  # the refused user was not created
    instrument = client.get("/admin/instrument").text
    assert "(ej bekräftad)" in instrument and "jämförbar från 2021" in instrument


def test_admin_upload_validates_like_the_cli(app, client, make_user):
    import io

    login(client, make_user("administratör"))
    bad = io.BytesIO(b"year,questionnaire,question,subgroup,positive\n2023,okand,1,samtliga,90\n")
    page = client.post(
        "/admin/import/riket",
        data={"csrf_token": csrf(client), "file": (bad, "riket.csv")},
        follow_redirects=True,
    )
    assert "Rad 2, kolumn questionnaire" in page.text and "Ingenting har importerats" in page.text
    assert count_rows(app, "national_figure") == 0


def test_qr_poster_and_slips(app, staff_client, make_round):
    r = make_round("deltagare_avslut", insats="Steget")
    svg = staff_client.get(f"/personal/omgang/{r.id}/qr.svg")
    assert svg.data.lstrip().startswith(b"<?xml") or b"<svg" in svg.data[:200]
    poster = staff_client.get(f"/personal/omgang/{r.id}/affisch").text
    assert "Svara på enkäten" in poster and f"http://localhost/s/{r.code}" in poster
    slips = staff_client.post(
        f"/personal/omgang/{r.id}/lappar", data={"csrf_token": csrf(staff_client), "count": "4"}
    )
    assert slips.text.count('class="slip"') == 4
    assert count_rows(app, "link_token") == 4
