"""axe-core (from npm, tests/js) on every respondent page, and the participant page's weight.

axe-core is installed with `npm ci --prefix tests/js` (make browsers); it is injected into
each page and must report no WCAG 2.1 A/AA violation.
"""

from __future__ import annotations

import pytest

from surveys import db
from surveys.models import Round
from surveys.services import rounds as ops
from tests.browsing import fill, sign_in, transferred, wait_for_sw
from tests.conftest import TABLET, axe_violations

pytestmark = pytest.mark.browser


@pytest.fixture
def axe_context(browser):
    # axe is injected as a script of its own: the page's CSP (script-src 'self') would block it
    context = browser.new_context(viewport=TABLET, locale="sv-SE", bypass_csp=True)
    yield context
    context.close()


def test_every_respondent_page_passes_axe(
    app,
    live_server,
    axe_context,
    make_round,
    fake_clock,
):
    app.config.update(KIOSK_THANKS_SECONDS=60, KIOSK_IDLE_SECONDS=1, KIOSK_COUNTDOWN_SECONDS=60)
    r = make_round("deltagare_avslut", mode="kiosk")
    closed = make_round("styrelse", insats=None)
    with app.app_context():
        s = db.session()
        ops.close_round(s, s.get(Round, closed.id))
        s.commit()
    page = axe_context.new_page()
    page.set_default_timeout(15_000)
    checked: dict[str, list] = {}

    page.goto(f"{live_server}/s/{r.code}")
    checked["formulär"] = axe_violations(page)
    page.goto(f"{live_server}/k/{r.code}")
    fill(page, "Ofta")
    page.get_by_role("alertdialog", name="Är du kvar?").wait_for()
    checked["är du kvar"] = axe_violations(page)
    page.get_by_role("button", name="Ja, jag är kvar").click()
    app.config["KIOSK_IDLE_SECONDS"] = 600
    page.goto(f"{live_server}/k/{r.code}")
    page.get_by_role("button", name="Skicka svaren").click()
    page.get_by_role("alertdialog").wait_for()
    checked["tomt formulär (fråga)"] = axe_violations(page)
    page.get_by_role("button", name="Svara på frågorna").click()
    fill(page, "Alltid")
    page.get_by_role("button", name="Skicka svaren").click()
    page.get_by_role("heading", name="Tack!").wait_for()
    checked["kiosk tack"] = axe_violations(page)
    page.goto(f"{live_server}/k/{r.code}/tack")
    checked["kiosk tack (sida)"] = axe_violations(page)
    page.goto(f"{live_server}/tack")
    checked["tack"] = axe_violations(page)
    page.goto(f"{live_server}/s/{closed.code}")
    checked["stängd"] = axe_violations(page)
    page.goto(f"{live_server}/s/finnsinte")
    checked["fel 404"] = axe_violations(page)
    single = make_round("personal", mode="single_use", insats="Steget")
    with app.app_context():
        s = db.session()
        token = ops.create_tokens(s, s.get(Round, single.id), count=1)[0]
        enrolled = ops.new_kiosk_link(s, s.get(Round, r.id))
        s.commit()
    page.goto(f"{live_server}/t/{token}")
    checked["engångslänk"] = axe_violations(page)
    page.goto(f"{live_server}/surfplatta/{enrolled}")
    checked["inskriven surfplatta"] = axe_violations(page)
    page.goto(f"{live_server}/surfplatta/{enrolled}/tack")
    checked["inskriven surfplatta tack"] = axe_violations(page)

    # the steps a browser without our script sees: step 2, the empty form, an error
    page.route("**/questionnaire.js*", lambda route: route.abort())
    page.goto(f"{live_server}/s/{r.code}")
    page.locator("#fraga-8").get_by_text("Ja", exact=True).click()
    page.get_by_role("button", name="Skicka svaren").click()
    page.locator("#fraga-9").wait_for()
    checked["steg 2"] = axe_violations(page)
    page.goto(f"{live_server}/s/{r.code}")
    page.get_by_role("button", name="Skicka svaren").click()
    page.get_by_role("button", name="Skicka ändå").wait_for()
    checked["tomt formulär (sida)"] = axe_violations(page)
    page.evaluate("document.querySelector('input[name=csrf_token]').value = 'x.y.z'")
    page.get_by_role("button", name="Skicka ändå").click()
    page.get_by_role("heading", name="Något blev fel i formuläret").wait_for()
    checked["fel 400"] = axe_violations(page)
    page.goto(f"{live_server}/s/{r.code}")
    page.locator("#fraga-1").get_by_text("Ofta", exact=True).click()
    fake_clock.advance(seconds=app.config["FORM_TOKEN_MAX_AGE"] + 1)  # open for 12 hours
    page.get_by_role("button", name="Skicka svaren").click()
    page.get_by_text("Sidan har varit öppen länge").wait_for()
    checked["gammalt formulär"] = axe_violations(page)

    # axe really looks: an image without a text alternative is reported
    page.evaluate("document.querySelector('main').append(document.createElement('img'))")
    assert "image-alt" in [v["id"] for v in axe_violations(page)]
    assert len(checked) == 15
    assert {name: found for name, found in checked.items() if found} == {}


def test_participant_page_weighs_under_50_kb_with_and_without_the_service_worker(
    app,
    live_server,
    browser,
    make_round,
):
    r = make_round("deltagare_avslut", mode="kiosk")
    figures = {}
    for name, url, workers in (
        ("open link, no service worker", f"/s/{r.code}", "block"),
        ("kiosk, first visit (service worker installs)", f"/k/{r.code}", "allow"),
    ):
        context = browser.new_context(viewport=TABLET, service_workers=workers)
        requests: list = []
        context.on("requestfinished", lambda request, seen=requests: seen.append(request))
        page = context.new_page()
        page.goto(live_server + url)
        page.get_by_role("button", name="Skicka svaren").wait_for()
        if workers == "allow":
            wait_for_sw(page)
        page.wait_for_timeout(500)
        figures[name] = transferred(requests)
        if workers == "allow":
            requests.clear()
            page.reload()  # the next visits, through the service worker
            page.get_by_role("button", name="Skicka svaren").wait_for()
            page.wait_for_timeout(500)
            figures["kiosk, later visit (through the service worker)"] = transferred(requests)
        context.close()
    for name, (size, parts) in figures.items():
        print(f"{name}: {size} bytes ({', '.join(parts)})")
    assert len(figures) == 3
    assert all(size < 50_000 for size, _ in figures.values()), figures


def test_the_staff_pages_issue_18_changed_pass_axe(
    app,
    live_server,
    axe_context,
    make_round,
    make_user,
):
    """The kiosk link shown once after POST-redirect-GET, a closed round's page (counts and
    results, no links) and paper entry asking before an all-blank questionnaire."""

    kiosk = make_round("deltagare_avslut", mode="kiosk", insats="Steget")
    closed = make_round("personal", insats="Steget")
    with app.app_context():
        s = db.session()
        ops.close_round(s, s.get(Round, closed.id))
        s.commit()
    page = axe_context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server, make_user("personal", insatser=["Steget"]))
    checked: dict[str, list] = {}
    page.goto(f"{live_server}/personal/omgang/{kiosk.id}")
    page.get_by_role("button", name="Skapa kiosklänk").click()
    page.locator("#kiosklank").wait_for()
    checked["kiosklänk"] = axe_violations(page)
    page.goto(f"{live_server}/personal/omgang/{closed.id}")
    page.locator("#resultat").wait_for()
    checked["stängd omgång"] = axe_violations(page)
    page.goto(f"{live_server}/personal/omgang/{kiosk.id}/papper")
    page.get_by_role("button", name="Spara enkäten").click()
    page.locator("#tom-enkat").wait_for()
    checked["tom pappersenkät"] = axe_violations(page)
    assert checked == {name: [] for name in checked}
