"""Authorization matrix: every route × (not signed in, questionnaire-link holder,
staff of A, staff of B, reader, administrator). Select with ``pytest -k authz``."""

from __future__ import annotations

import pytest

from surveys import clock, db
from surveys.models import Round
from surveys.services import users
from surveys.services.rounds import intervention_by_name, new_kiosk_link
from tests import seedrows
from tests.conftest import database_snapshot, form_token, login

# The PostgreSQL pass leaves these out (see conftest): who may see a route is decided from the
# signed-in user's role in Python.
pytestmark = pytest.mark.one_database

PERSONAS = ["anon", "link_holder", "staff_a", "staff_b", "reader", "admin"]
LOGIN = 302  # redirected to /logga-in: a refusal, never counted as success
# route template → expected status per persona (in PERSONAS order)
MATRIX = [
    ("GET", "/s/{code_a}", [200, 200, 200, 200, 200, 200]),
    ("GET", "/k/{code_a}", [200, 200, 200, 200, 200, 200]),
    ("GET", "/tack", [200, 200, 200, 200, 200, 200]),
    ("GET", "/logga-in", [200, 200, 200, 200, 200, 200]),
    ("GET", "/", [200, 200, 302, 302, 302, 302]),
    ("GET", "/surfplatta/{kiosk_token}", [200, 200, 200, 200, 200, 200]),
    ("GET", "/personal", [LOGIN, LOGIN, 200, 200, 302, 200]),
    ("GET", "/personal/omgang/{round_a}", [LOGIN, LOGIN, 200, 403, 403, 200]),
    ("GET", "/personal/omgang/{round_a}/papper", [LOGIN, LOGIN, 200, 403, 403, 200]),
    ("GET", "/personal/omgang/{round_a}/qr.svg", [LOGIN, LOGIN, 200, 403, 403, 200]),
    ("GET", "/personal/omgang/{round_a}/qr.png", [LOGIN, LOGIN, 200, 403, 403, 200]),
    ("GET", "/personal/omgang/{round_a}/affisch", [LOGIN, LOGIN, 200, 403, 403, 200]),
    ("GET", "/personal/omgang/{round_a}/skicka", [LOGIN, LOGIN, 200, 403, 403, 200]),
    ("POST", "/personal/omgang/{round_a}/skicka", [LOGIN, LOGIN, 400, 403, 403, 400]),
    ("POST", "/personal/omgang/{round_a}/papper", [LOGIN, LOGIN, 302, 403, 403, 302]),
    ("POST", "/personal/omgang/{round_a}/lankar.csv", [LOGIN, LOGIN, 200, 403, 403, 200]),
    ("POST", "/personal/omgang/{round_a}/lappar", [LOGIN, LOGIN, 200, 403, 403, 200]),
    ("POST", "/personal/omgang/{round_a}/stang", [LOGIN, LOGIN, 302, 403, 403, 302]),
    ("POST", "/personal/omgang/{round_a}/oppna", [LOGIN, LOGIN, 302, 403, 403, 302]),
    ("POST", "/personal/omgang/ny", [LOGIN, LOGIN, 302, 403, 403, 302]),
    ("POST", "/personal/omgang/{round_a}/ta-bort", [LOGIN, LOGIN, 302, 403, 403, 302]),
    ("POST", "/personal/omgang/{round_k}/kiosk/ny", [LOGIN, LOGIN, 303, 403, 403, 303]),
    ("POST", "/personal/omgang/{round_k}/kiosk/aterkalla", [LOGIN, LOGIN, 302, 403, 403, 302]),
    ("GET", "/rapport", [LOGIN, LOGIN, 302, 302, 302, 302]),
    ("GET", "/rapport/2023", [LOGIN, LOGIN, 200, 404, 200, 200]),
    ("GET", "/rapport/2023?insats={insats_a}", [LOGIN, LOGIN, 200, 403, 200, 200]),
    ("GET", "/rapport/2023/utskrift?insats={insats_a}", [LOGIN, LOGIN, 200, 403, 200, 200]),
    ("GET", "/rapport/2023/rapport.csv?insats={insats_a}", [LOGIN, LOGIN, 200, 403, 200, 200]),
    ("GET", "/rapport/2023/rapport.xlsx?insats={insats_a}", [LOGIN, LOGIN, 200, 403, 200, 200]),
    ("GET", "/rapport/2023/diagram/1-ar.svg?insats={insats_a}", [LOGIN, LOGIN, 200, 403, 200, 200]),
    ("GET", "/admin", [LOGIN, LOGIN, 403, 403, 403, 200]),
    ("GET", "/admin/instrument", [LOGIN, LOGIN, 403, 403, 403, 200]),
    ("GET", "/admin/logg", [LOGIN, LOGIN, 403, 403, 403, 200]),
    ("POST", "/admin/insatser", [LOGIN, LOGIN, 403, 403, 403, 302]),
    ("POST", "/admin/anvandare", [LOGIN, LOGIN, 403, 403, 403, 302]),
    ("POST", "/admin/grans", [LOGIN, LOGIN, 403, 403, 403, 302]),
    ("POST", "/admin/forbund", [LOGIN, LOGIN, 403, 403, 403, 302]),
    ("POST", "/admin/insatser/{insats_a}", [LOGIN, LOGIN, 403, 403, 403, 302]),
    ("GET", "/admin/anvandare/{user_r}", [LOGIN, LOGIN, 403, 403, 403, 200]),
    ("POST", "/admin/anvandare/{user_r}", [LOGIN, LOGIN, 403, 403, 403, 302]),
    ("POST", "/admin/anvandare/{user_r}/losenord", [LOGIN, LOGIN, 403, 403, 403, 302]),
    ("POST", "/admin/anvandare/{user_r}/inaktivera", [LOGIN, LOGIN, 403, 403, 403, 302]),
    ("POST", "/admin/importer/historik", [LOGIN, LOGIN, 403, 403, 403, 302]),
    ("POST", "/logga-ut", [302, 302, 302, 302, 302, 302]),
]
FORMS = {
    "/personal/omgang/ny": {
        "questionnaire": "deltagare_avslut",
        "year": str(clock.today().year),
        "mode": "kiosk",
        "insats": "{insats_a}",
    },
    "/personal/omgang/{round_a}/papper": {"q1": "6", "form_key": "k" * 24},
    "/personal/omgang/{round_a}/stang": {"confirm": "y"},
    "/personal/omgang/{round_a}/ta-bort": {"confirm": "y"},
    "/admin/forbund": {"forbund_name": "Förbundet"},
    "/admin/insatser/{insats_a}": {"name": "Steget vidare"},
    "/admin/anvandare/{user_r}": {"name": "Rut", "role": "läsare"},
    "/admin/anvandare/{user_r}/losenord": {"password": "ett-nytt-langt-losenord"},
    "/personal/omgang/{round_a}/lankar.csv": {"count": "3"},
    "/personal/omgang/{round_a}/lappar": {"count": "2"},
    "/personal/omgang/{round_a}/skicka": {"addresses": "inte-en-adress"},
    "/admin/insatser": {"name": "Ny insats"},
    "/admin/grans": {"min_cell": "6"},
    "/admin/anvandare": {
        "email": "ny@example.invalid",
        "password": "ett-langt-losenord",
        "role": "läsare",
    },
}


@pytest.fixture
def world(app, runner, make_round, make_user, tmp_path):
    """A published 2023, rounds of two insatser, a kiosk link and one user per role: built
    once per test process on SQLite (``database_snapshot``), copied for every case."""
    return database_snapshot(
        app, "authz", lambda: _build_world(app, runner, make_round, make_user, tmp_path)
    )


def _build_world(app, runner, make_round, make_user, tmp_path) -> dict:
    path = tmp_path / "svar.csv"
    path.write_text(seedrows.csv_text(), encoding="utf-8")  # intervention "Steget"
    assert runner.invoke(args=["import", "answers", str(path)]).exit_code == 0
    # its charts and downloads drawn now, into the snapshot: each case reads them
    assert runner.invoke(args=["publish", "--year", "2023", "--diagram"]).exit_code == 0
    round_a = make_round("deltagare_avslut", insats="Steget")
    round_k = make_round("deltagare_pagaende", insats="Steget", mode="kiosk")
    make_round("deltagare_avslut", insats="Annan")
    emails = {
        "staff_a": make_user("personal", email="a@example.invalid", insatser=["Steget"]),
        "staff_b": make_user("personal", email="b@example.invalid", insatser=["Annan"]),
        "reader": make_user("läsare", email="r@example.invalid"),
        "admin": make_user("administratör", email="admin@example.invalid"),
    }
    with app.app_context():
        session = db.session()
        insats_a = intervention_by_name(session, "Steget").id
        kiosk_token = new_kiosk_link(session, session.get(Round, round_k.id))
        user_r = users.by_email(session, emails["reader"]).id
        session.commit()
    return {
        "code_a": round_a.code,
        "round_a": round_a.id,
        "round_k": round_k.id,
        "kiosk_token": kiosk_token,
        "insats_a": insats_a,
        "user_r": user_r,
        "emails": emails,
    }


def _request(client, world, persona, method, template):
    values = {k: v for k, v in world.items() if k != "emails"}
    if persona in world["emails"]:
        assert login(client, world["emails"][persona]).status_code == 302
    if persona == "link_holder":
        client.get(f"/s/{world['code_a']}")
    url = template.format(**values)
    if method == "GET":
        return client.get(url)
    data = {k: v.format(**values) for k, v in FORMS.get(template, {}).items()}
    data["csrf_token"] = form_token(client.get("/logga-in").text)
    if template == "/admin/importer/historik":
        import io

        data["file"] = (
            io.BytesIO(
                b"year,questionnaire,question,subgroup,n,negative,neutral,"
                b"positive,clearly_positive,response_rate\n"
                b"2019,styrelse,1,samtliga,8,0,25,75,38,100\n"
            ),
            "h.csv",
        )
    return client.post(url, data=data)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("method", "template", "expected"), MATRIX, ids=[f"{m} {t}" for m, t, _ in MATRIX]
)
def test_authz_matrix(client, world, persona, method, template, expected):
    response = _request(client, world, persona, method, template)
    want = expected[PERSONAS.index(persona)]
    assert response.status_code == want, (persona, method, template, response.status_code)
    signed_in = persona in world["emails"]
    if want == LOGIN and not signed_in:
        assert "/logga-in" in response.headers["Location"]  # a refusal
    elif want == 302 and template != "/logga-ut":
        # success is a redirect anywhere but the sign-in page
        assert "/logga-in" not in response.headers["Location"], (persona, template)
    elif (
        want == 200
        and signed_in
        and template.startswith(("/personal", "/admin", "/rapport"))
        and response.mimetype == "text/html"
    ):
        # success is the page itself, not a sign-in form in disguise
        assert 'autocomplete="current-password"' not in response.text, (persona, template)
    response.close()


def test_authz_staff_of_a_never_sees_rounds_of_b(client, world, app):
    login(client, world["emails"]["staff_a"])
    page = client.get("/personal").text
    assert "Steget" in page
    assert "Annan" not in page


def test_authz_staff_report_defaults_to_own_intervention(client, world):
    login(client, world["emails"]["staff_a"])
    page = client.get("/rapport/2023").text
    assert "Indikatorerna 2023 – Steget" in page
    assert "Hela förbundet" not in page
