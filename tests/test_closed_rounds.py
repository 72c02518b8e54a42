"""Issue 18, point 11: a closed round's page shows its counts and results, not its links,
and every URL that makes links answers a closed round with a Swedish message."""

from __future__ import annotations

import re

import pytest

from surveys import db
from surveys.models import Round
from surveys.services import rounds as ops
from tests.conftest import count_rows, form_token, login

CLOSED = "Mätomgången är stängd och tar inte emot svar"


@pytest.fixture
def staff(client, make_user):
    assert login(client, make_user("personal", insatser=["Steget"])).status_code == 302
    return client


def close(app, round_id: str) -> None:
    with app.app_context():
        s = db.session()
        ops.close_round(s, s.get(Round, round_id))
        s.commit()


def test_a_closed_rounds_page_shows_counts_and_results_not_links(app, staff, make_round):
    r = make_round("deltagare_avslut", mode="kiosk", insats="Steget", expected=10)
    open_page = staff.get(f"/personal/omgang/{r.id}").text
    assert f"/s/{r.code}" in open_page  # while open: the link, QR code and poster
    token = form_token(staff.get(f"/s/{r.code}").text)
    staff.post(f"/s/{r.code}", data={"csrf_token": token, "q1": "6"})
    close(app, r.id)
    page = staff.get(f"/personal/omgang/{r.id}").text
    assert re.search(r"<strong>1</strong> besvarade av 10 förväntade – svarsfrekvens 10 %", page)
    assert "Engångslänkar: 0 skapade, 0 använda" in page
    assert 'id="resultat"' in page
    assert f"Resultaten för {r.year} visas när förbundschefen har publicerat året." in page
    for offered in (
        f"/s/{r.code}",  # the open link
        "qr.svg",
        "qr.png",
        "/affisch",
        "/lappar",
        "/lankar.csv",
        "/skicka",
        "/kiosk/ny",
        "Skapa kiosklänk",
        "Skicka länkar",
    ):
        assert offered not in page, offered


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "qr.svg"),
        ("get", "qr.png"),
        ("get", "affisch"),
        ("post", "lappar"),
        ("post", "lankar.csv"),
        ("get", "skicka"),
        ("post", "skicka"),
        ("post", "kiosk/ny"),
    ],
)
def test_link_urls_of_a_closed_round_answer_with_a_swedish_message(
    app, staff, make_round, method, path
):
    r = make_round("deltagare_avslut", mode="kiosk", insats="Steget")
    close(app, r.id)
    data = {
        "csrf_token": form_token(staff.get("/personal").text),
        "count": "3",
        "addresses": "a@example.se",
        "step": "send",
    }
    url = f"/personal/omgang/{r.id}/{path}"
    response = staff.get(url) if method == "get" else staff.post(url, data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/personal/omgang/{r.id}")
    assert response.mimetype == "text/html"  # no QR image, CSV or slips
    page = staff.get(response.headers["Location"]).text
    assert CLOSED in page
    assert count_rows(app, "link_token") == 0
    assert count_rows(app, "kiosk_enrolment") == 0
    assert "http://localhost/surfplatta/" not in page


def test_the_round_list_gives_no_link_for_a_closed_round(app, runner, make_round):
    r = make_round("deltagare_avslut", insats="Steget")
    assert f"/s/{r.code}" in runner.invoke(args=["rounds", "list"]).output
    close(app, r.id)
    listing = runner.invoke(args=["rounds", "list"]).output
    assert f"/s/{r.code}" not in listing
    assert "(stängd – ingen länk)" in listing
