"""The report page in headless Chromium on a phone: axe-core finds nothing, every chart has
its place reserved before it loads (no layout shift), loads only when scrolled to, and shows."""

from __future__ import annotations

import pytest

from tests.browsing import PHONE, sign_in
from tests.conftest import axe_violations, load_demo

pytestmark = pytest.mark.browser
YEAR = 2024  # the demo's latest year
CHARTS = ".chart img"


def _boxes(page) -> list[dict]:
    return page.locator(CHARTS).evaluate_all(
        """els => els.map(e => ({w: e.getBoundingClientRect().width,
                                 h: e.getBoundingClientRect().height,
                                 ratio: e.width / e.height,
                                 loaded: e.complete && e.naturalWidth > 0}))"""
    )


def test_report_page_passes_axe_and_charts_keep_their_place_until_they_load(
    app,
    browser,
    live_server,
    runner,
    make_user,
):
    load_demo(runner)
    # axe is injected as a script of its own: the page's CSP (script-src 'self') would block it
    context = browser.new_context(viewport=PHONE, locale="sv-SE", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server, make_user("administratör"))
    page.wait_for_url("**/personal")
    page.goto(f"{live_server}/rapport/{YEAR}")
    page.wait_for_load_state("load")
    page.evaluate(
        """() => { window.shifts = 0; new PerformanceObserver(list => {
             for (const e of list.getEntries()) if (!e.hadRecentInput) window.shifts += e.value;
           }).observe({type: "layout-shift", buffered: true}); }"""
    )

    boxes = _boxes(page)
    assert len(boxes) == 30
    # lazy: the charts far below the first screen are not fetched with the page
    assert not any(b["loaded"] for b in boxes[-10:])
    # sized: each unloaded image already takes its final shape, scaled to the phone's width
    for box in boxes:
        assert box["h"] > 50
        assert box["w"] <= PHONE["width"]
        assert abs(box["h"] - box["w"] / box["ratio"]) <= 1  # within a rounded pixel

    page.locator(CHARTS).last.scroll_into_view_if_needed()
    for index in range(len(boxes)):
        page.locator(CHARTS).nth(index).scroll_into_view_if_needed()
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].every(e => e.complete && e.naturalWidth > 0)",
        arg=CHARTS,
    )
    after = _boxes(page)
    assert all(b["loaded"] for b in after)
    assert [(round(b["w"]), round(b["h"])) for b in after] == [
        (round(b["w"]), round(b["h"])) for b in boxes
    ]
    assert page.evaluate("window.shifts") < 0.01

    assert axe_violations(page) == []
    # axe really looks: a chart without its text alternative is reported
    page.evaluate(f"document.querySelector('{CHARTS}').removeAttribute('alt')")
    assert "image-alt" in [v["id"] for v in axe_violations(page)]
    context.close()
