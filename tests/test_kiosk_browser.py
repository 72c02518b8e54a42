"""The kiosk in headless Chromium: the network drops, tablets go offline, respondents walk
away, press Back or leave a form open for days — nothing typed is lost, nobody sees another
respondent's answers (DESIGN.md principle 5). Tablet and phone viewports."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from surveys import db
from tests.conftest import count_rows
from tests.test_browser import TABLET, browser, live_server  # noqa: F401 - fixtures

PHONE = {"width": 390, "height": 844}
pytestmark = pytest.mark.browser


@pytest.fixture(params=[TABLET, PHONE], ids=["surfplatta", "telefon"])
def viewport(request):
    return request.param


@pytest.fixture
def context(browser, viewport):  # noqa: F811 - the fixture imported above
    context = browser.new_context(viewport=viewport, locale="sv-SE", has_touch=True)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def kiosk_app(app):
    """Seconds instead of minutes, so the tests do not wait for real kiosk timeouts."""
    app.config.update(KIOSK_THANKS_SECONDS=2, KIOSK_IDLE_SECONDS=2, KIOSK_COUNTDOWN_SECONDS=3)
    return app


def wait_for_rows(app, table: str, expected: int, seconds: float = 20) -> int:
    deadline = time.monotonic() + seconds
    while True:
        found = count_rows(app, table)
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def queue_length(page) -> int:
    return page.evaluate(
        """() => new Promise((resolve, reject) => {
            const req = indexedDB.open("enkat", 1);
            req.onupgradeneeded = () => { req.result.createObjectStore("ko", {keyPath: "id"});
                                          req.result.createObjectStore("meta"); };
            req.onsuccess = () => {
                const db = req.result;
                const count = db.transaction("ko").objectStore("ko").count();
                count.onsuccess = () => { db.close(); resolve(count.result); };
            };
            req.onerror = () => reject(req.error);
        })"""
    )


def wait_until(page, script: str, seconds: float = 15) -> None:
    """Poll a JS expression (wait_for_function would need eval, which our CSP forbids)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        time.sleep(0.1)


def wait_for_sw(page) -> None:
    """The service worker controls the kiosk page (clients.claim on activation)."""
    wait_until(
        page,
        "async () => !!(navigator.serviceWorker && navigator.serviceWorker.controller"
        " && await caches.match(location.pathname))",
    )


def answers_by_q1(app) -> list[int]:
    with app.app_context():
        rows = db.session().execute(
            text("SELECT code FROM answer WHERE question_version_id LIKE 'deltagare_avslut.1.%'")
        )
        return sorted(code for (code,) in rows)


def fill(page, q1: str = "Alltid", gender: str | None = "Kvinna") -> None:
    if gender:
        page.get_by_role("radio", name=gender).check()
    page.locator("#fraga-1").get_by_text(q1, exact=True).click()


def test_offline_at_submit_then_online_stored_once_tack_and_reset(
    kiosk_app,
    live_server,  # noqa: F811
    page,
    make_round,
):
    app = kiosk_app
    app.config["KIOSK_THANKS_SECONDS"] = 30  # read "Tack" before the reset
    r = make_round("deltagare_avslut", mode="kiosk")
    page.goto(f"{live_server}/k/{r.code}")
    entries = page.evaluate("history.length")
    fill(page, "Ofta")
    page.context.set_offline(True)
    page.get_by_role("button", name="Skicka svaren").click()
    page.get_by_text("Svaren skickas så snart surfplattan har nät igen.").wait_for()
    page.get_by_role("heading", name="Tack!").wait_for()
    assert "sparade på surfplattan och skickas så snart den har nät igen" in page.inner_text("main")
    assert page.locator("input").count() == 0  # nothing of the respondent left in the DOM
    assert queue_length(page) == 1 and count_rows(app, "response") == 0
    page.context.set_offline(False)  # the queue drains by itself, no reload
    assert wait_for_rows(app, "response", 1) == 1
    wait_until(page, "() => document.querySelector('#rubrik') !== null")
    deadline = time.monotonic() + 10
    while queue_length(page) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queue_length(page) == 0  # forgotten once acknowledged
    page.get_by_role("button", name="Jag behöver mer tid").click()
    assert int(page.locator("#sekunder").inner_text()) > 60
    page.get_by_role("button", name="Börja om nu").click()
    page.get_by_role("button", name="Skicka svaren").wait_for()
    assert page.locator("input:checked").count() == 0
    assert page.evaluate("history.length") == entries
    time.sleep(1)
    assert count_rows(app, "response") == 1 and answers_by_q1(app) == [4]


def test_several_questionnaires_queued_offline_all_stored_once_after_a_reload(
    kiosk_app,
    live_server,  # noqa: F811
    page,
    make_round,
):
    app = kiosk_app
    r = make_round("deltagare_avslut", mode="kiosk")
    page.goto(f"{live_server}/k/{r.code}")
    wait_for_sw(page)
    page.context.set_offline(True)
    for label in ("Alltid", "Ofta", "Sällan"):
        fill(page, label, gender=None)
        page.get_by_role("button", name="Skicka svaren").click()
        page.get_by_role("heading", name="Tack!").wait_for()
        # the kiosk resets by itself, offline: the service worker serves a fresh form
        page.get_by_role("button", name="Skicka svaren").wait_for()
        assert page.locator("input:checked").count() == 0
    assert queue_length(page) == 3
    response = page.reload()  # still offline: the queue survives a reload
    assert response is not None and response.from_service_worker
    assert queue_length(page) == 3 and count_rows(app, "response") == 0
    page.context.set_offline(False)
    assert wait_for_rows(app, "response", 3) == 3
    time.sleep(2)  # later retries must not store anything twice
    assert count_rows(app, "response") == 3
    assert answers_by_q1(app) == [2, 4, 6]
    assert queue_length(page) == 0


def test_service_worker_lets_a_kiosk_opened_once_start_offline(
    kiosk_app,
    live_server,  # noqa: F811
    context,
    make_round,
):
    app = kiosk_app
    r = make_round("deltagare_pagaende", mode="kiosk")
    first = context.new_page()
    first.goto(f"{live_server}/k/{r.code}")
    wait_for_sw(first)
    first.close()
    context.set_offline(True)
    page = context.new_page()
    response = page.goto(f"{live_server}/k/{r.code}")
    assert response is not None and response.from_service_worker
    fill(page, "Ibland", gender="Man")
    page.get_by_role("button", name="Skicka svaren").click()
    page.get_by_role("heading", name="Tack!").wait_for()
    assert count_rows(app, "response") == 0
    context.set_offline(False)
    assert wait_for_rows(app, "response", 1) == 1
    with app.app_context():
        gender = db.session().execute(text("SELECT gender FROM response")).scalar_one()
    assert gender == "man"


def test_idle_asks_are_you_there_then_clears_everything(
    kiosk_app,
    live_server,  # noqa: F811
    page,
    make_round,
):
    r = make_round("deltagare_avslut", mode="kiosk")
    page.goto(f"{live_server}/k/{r.code}")
    entries = page.evaluate("history.length")
    fill(page, "Ofta")
    dialog = page.get_by_role("alertdialog", name="Är du kvar?")
    dialog.wait_for(timeout=8_000)
    assert "sekunder" in dialog.inner_text()
    button = dialog.get_by_role("button", name="Ja, jag är kvar")
    assert button.bounding_box()["height"] >= 60  # a large button
    button.click()
    assert page.locator("input:checked").count() == 2  # still here: nothing cleared
    dialog.wait_for(timeout=8_000)  # idle again, and this time nobody answers
    wait_until(
        page,
        "() => document.querySelectorAll('input:checked').length === 0"
        " && !document.querySelector('.overlay')",
    )
    page.get_by_role("button", name="Skicka svaren").wait_for()
    assert page.evaluate("history.length") == entries
    page.go_back()  # nothing to go back to in the kiosk's history
    assert page.locator("input:checked").count() == 0
    assert count_rows(kiosk_app, "response") == 0
