"""Headless Chromium (Debian's, driven by Playwright) on a tablet-sized viewport."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from surveys import db
from tests.browsing import shot
from tests.conftest import CHROMIUM, PASSWORD, TABLET, count_rows, release_all

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip("Chromium saknas (installeras av make test)", allow_module_level=True)


def test_exit_questionnaire_on_a_tablet_with_the_8_to_9_10_condition(
    app, live_server, tablet, make_round
):
    r = make_round("deltagare_avslut")
    tablet.goto(f"{live_server}/s/{r.code}")
    assert tablet.locator("#fraga-9").is_hidden()
    assert tablet.locator("#fraga-10").is_hidden()
    tablet.get_by_role("radio", name="Kvinna").check()
    q1 = tablet.locator("#fraga-1")
    q1.get_by_text("Alltid").click()
    box = q1.locator("label.option").first.bounding_box()
    assert box["height"] >= 48
    assert box["width"] >= 48
    tablet.locator("#fraga-2").get_by_text("Vet ej / Ej aktuellt").click()
    tablet.locator("#fraga-8").get_by_text("Ja", exact=True).click()
    assert tablet.locator("#fraga-9").is_visible()
    assert tablet.locator("#fraga-10").is_visible()
    tablet.locator("#fraga-9").get_by_text("För det mesta").click()
    tablet.locator("#fraga-8").get_by_text("Nej", exact=True).click()
    assert tablet.locator("#fraga-9").is_hidden()  # hidden again, and cleared
    assert not tablet.locator("#fraga-9 input:checked").count()
    tablet.locator("#fraga-8").get_by_text("Ja", exact=True).click()
    tablet.locator("#fraga-9").get_by_text("Ofta").click()
    tablet.locator("#fraga-10").get_by_text("Alltid").click()
    shot(tablet, "avslutsenkat-surfplatta")
    tablet.get_by_role("button", name="Skicka svaren").click()
    tablet.get_by_role("heading", name="Tack!").wait_for()
    release_all(app)  # as closing the round does
    with app.app_context():
        s = db.session()
        answers = dict(s.execute(text("SELECT question_version_id, code FROM answer")).all())
        response = s.execute(text("SELECT * FROM response")).mappings().one()
    assert answers["deltagare_avslut.1.v1"] == 6
    assert answers["deltagare_avslut.2.v1"] == 0
    assert answers["deltagare_avslut.8.v1"] == 1
    assert answers["deltagare_avslut.9.v1"] == 4
    assert answers["deltagare_avslut.10.v1"] == 6
    assert set(response.keys()) == {
        "id",
        "round_id",
        "questionnaire_key",
        "year",
        "intervention_id",
        "gender",
    }  # no date: DESIGN.md principle 1
    assert response["gender"] == "kvinna"


def test_questionnaire_without_javascript_uses_a_second_step(app, browser, live_server, make_round):
    r = make_round("deltagare_avslut")
    context = browser.new_context(viewport=TABLET, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/s/{r.code}")
    page.locator("#fraga-8").get_by_text("Ja", exact=True).click()
    page.get_by_role("button", name="Skicka svaren").click()
    page.locator("#fraga-9").get_by_text("Alltid").click()
    page.get_by_role("button", name="Skicka svaren").click()
    page.get_by_role("heading", name="Tack!").wait_for()
    context.close()
    assert count_rows(app, "response") == 1


def test_kiosk_resets_and_keeps_nothing_of_the_previous_respondent(
    app, live_server, tablet, make_round
):
    app.config["KIOSK_THANKS_SECONDS"] = 3
    r = make_round("deltagare_pagaende", mode="kiosk")
    tablet.goto(f"{live_server}/k/{r.code}")
    entries = tablet.evaluate("history.length")
    tablet.get_by_role("radio", name="Man").check()
    tablet.locator("#fraga-1").get_by_text("Ibland").click()
    tablet.get_by_role("button", name="Skicka svaren").click()
    tablet.get_by_role("heading", name="Tack!").wait_for()
    assert "Dina svar är sparade." in tablet.locator("main").inner_text()
    assert tablet.locator("form, input").count() == 0  # the answers left the DOM
    assert "3 sekunder" in tablet.locator("#reset-info").inner_text()
    tablet.get_by_role("button", name="Börja om nu").click()
    tablet.get_by_role("button", name="Skicka svaren").wait_for()
    assert tablet.locator("input:checked").count() == 0
    assert tablet.evaluate("history.length") == entries  # location.replace: no new entry
    # and by itself after the countdown
    tablet.locator("#fraga-1").get_by_text("Alltid").click()
    tablet.get_by_role("button", name="Skicka svaren").click()
    tablet.get_by_role("heading", name="Tack!").wait_for()
    tablet.get_by_role("button", name="Skicka svaren").wait_for(timeout=15_000)
    assert tablet.url.endswith(f"/k/{r.code}")
    assert tablet.locator("input:checked").count() == 0
    assert tablet.evaluate("history.length") == entries
    assert tablet.context.cookies() == []
    assert count_rows(app, "response") == 2


def test_keyboard_only_answering(app, live_server, tablet, make_round):
    r = make_round("styrelse", insats=None)
    tablet.goto(f"{live_server}/s/{r.code}")
    tablet.keyboard.press("Tab")  # skip link
    tablet.keyboard.press("Tab")  # first radio of question 1
    tablet.keyboard.press("Space")
    focused = tablet.evaluate("document.activeElement.name")
    assert focused == "q1"
    tablet.locator("button[type=submit]").focus()
    tablet.keyboard.press("Enter")
    tablet.get_by_role("heading", name="Tack!").wait_for()
    assert count_rows(app, "answer") == 5


def test_staff_signs_in_starts_kiosk_and_a_participant_answers(app, live_server, tablet, make_user):
    app.config.update(PUBLIC_URL="")  # links from the request's address
    email = make_user("personal", insatser=["Steget"])
    page = tablet
    page.goto(f"{live_server}/logga-in")
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.get_by_role("heading", name="Insatser och enkäter").wait_for()
    page.get_by_label("Enkät", exact=True).select_option("deltagare_avslut")
    page.get_by_label("Hur enkäten besvaras").select_option("kiosk")
    page.get_by_role("button", name="Starta").click()
    # the tablet is enrolled with the round's kiosk link (no staff session stays on it)
    page.get_by_role("button", name="Skapa kiosklänk").click()
    page.goto(page.locator("#kiosklank").get_attribute("href"))
    page.locator("#fraga-1").get_by_text("Alltid").click()
    page.get_by_role("button", name="Skicka svaren").click()
    page.get_by_role("heading", name="Tack!").wait_for()
    assert count_rows(app, "response") == 1
