"""Staff workflows in headless Chromium: tablet enrolment without a staff session, paper
entry that keeps Kön after an error, and staff pages that fit a 360 px phone."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from surveys import db
from tests.browsing import PHONE, shot, sign_in
from tests.conftest import TABLET, count_rows, release_all

pytestmark = pytest.mark.browser


def test_tablet_enrolment_answers_in_kiosk_mode_and_revocation_stops_it(
    app,
    browser,
    live_server,
    make_user,
    make_round,
):
    app.config.update(PUBLIC_URL="")  # links from the request's address
    r = make_round("deltagare_pagaende", insats="Steget", mode="kiosk")
    staff_context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="sv-SE")
    staff = staff_context.new_page()
    staff.set_default_timeout(10_000)
    sign_in(staff, live_server, make_user("personal", insatser=["Steget"]))
    staff.goto(f"{live_server}/personal/omgang/{r.id}")
    staff.get_by_role("button", name="Skapa kiosklänk").click()
    link = staff.locator("#kiosklank").get_attribute("href")
    assert link.startswith(f"{live_server}/surfplatta/")  # the request's address, not port 8000
    assert staff.locator("img[alt='QR-kod till kiosklänken']").count() == 1

    tablet_context = browser.new_context(viewport=TABLET, locale="sv-SE", has_touch=True)
    tablet = tablet_context.new_page()
    tablet.set_default_timeout(10_000)
    tablet.goto(link)
    assert tablet.locator(".topbar").count() == 0  # the questionnaire and nothing else
    tablet.get_by_role("radio", name="Kvinna").check()
    tablet.locator("#fraga-1").get_by_text("Ibland").click()
    tablet.get_by_role("button", name="Skicka svaren").click()
    tablet.get_by_role("heading", name="Tack!").wait_for()
    shot(tablet, "kiosk-anslutning-tack")
    tablet.locator("#borja-om").click()  # the kiosk's in-page "Tack" (a button with JS)
    tablet.get_by_role("button", name="Skicka svaren").wait_for()
    assert tablet.url == link
    assert tablet.context.cookies() == []  # no staff session (no cookie at all) on the tablet
    release_all(app)  # as closing the round does
    with app.app_context():
        rows = db.session().execute(text("SELECT gender, round_id FROM response")).all()
    assert rows == [("kvinna", r.id)]

    staff.get_by_role("button", name="Återkalla kiosklänken").click()
    staff.get_by_text("Kiosklänken är återkallad").wait_for()
    tablet.reload()
    assert tablet.get_by_role("heading", name="Sidan finns inte").is_visible()
    assert count_rows(app, "response") == 1
    staff_context.close()
    tablet_context.close()


def test_paper_entry_with_an_error_keeps_kon(
    app,
    browser,
    live_server,
    make_user,
    make_round,
):
    r = make_round("deltagare_avslut", insats="Steget")
    context = browser.new_context(viewport={"width": 1000, "height": 900}, locale="sv-SE")
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, live_server, make_user("personal", insatser=["Steget"]))
    page.goto(f"{live_server}/personal/omgang/{r.id}/papper")
    page.get_by_label("Kön").select_option("man")
    page.locator("#q1").fill("9")  # not a code of the scale
    page.locator("#q2").fill("4")
    page.get_by_role("button", name="Spara enkäten").click()
    page.get_by_text("Rätta det markerade").wait_for()
    assert page.get_by_label("Kön").input_value() == "man"  # kept after the error
    assert page.locator("#q2").input_value() == "4"
    assert count_rows(app, "response") == 0
    page.locator("#q1").fill("6")
    page.get_by_role("button", name="Spara enkäten").click()
    page.get_by_text("Pappersenkäten är registrerad").wait_for()
    release_all(app)
    with app.app_context():
        rows = db.session().execute(text("SELECT gender FROM response")).scalars().all()
    assert rows == ["man"]
    context.close()


def test_staff_home_and_report_do_not_scroll_sideways_on_a_phone(
    app,
    browser,
    live_server,
    make_user,
    make_round,
    runner,
    tmp_path,
):
    from tests import seedrows

    path = tmp_path / "svar.csv"
    path.write_text(seedrows.csv_text(), encoding="utf-8")
    assert runner.invoke(args=["import", "answers", str(path)]).exit_code == 0
    rounds = [
        make_round(questionnaire, insats="Steget", mode="kiosk", expected=40)
        for questionnaire in ("deltagare_avslut", "remittent", "personal")
    ]
    context = browser.new_context(viewport=PHONE, locale="sv-SE", has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server, make_user("administratör"))
    round_page = f"/personal/omgang/{rounds[0].id}"
    for url in ("/personal", round_page, "/rapport/2023", "/admin", "/admin/logg"):
        page.goto(live_server + url)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= page.evaluate("innerWidth"), (url, width)
    shot(page, "logg-360px")
    context.close()
