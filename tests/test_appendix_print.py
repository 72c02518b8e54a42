"""Printing the report in a real browser (A4 → PDF) keeps every chart (headless Chromium)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import CHROMIUM, PASSWORD, load_demo

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip("Chromium saknas (installeras av make test)", allow_module_level=True)


def test_printing_the_report_to_pdf_keeps_all_charts(app, runner, live_server, make_user):
    from playwright.sync_api import sync_playwright

    from surveys.reports import assets

    assets.clear_memory()  # other tests replace stored demo charts with stand-ins
    load_demo(runner)
    email = make_user("administratör")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(locale="sv-SE")
        page.set_default_timeout(30_000)
        page.goto(f"{live_server}/logga-in")
        page.get_by_label("E-postadress").fill(email)
        page.get_by_label("Lösenord").fill(PASSWORD)
        page.get_by_role("button", name="Logga in").click()
        page.wait_for_url("**/personal")
        page.goto(f"{live_server}/rapport/2024/utskrift")
        page.emulate_media(media="print")
        sizes = page.locator(".chart svg").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert len(sizes) == 15  # a trend per indicator; the bar chart is off in print
        assert min(sizes) > 100
        pdf = page.pdf(format="A4", print_background=True)
        browser.close()
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(p.extract_text() for p in reader.pages)
    assert abs(float(reader.pages[0].mediabox.width) - 595.3) < 1  # A4 (210 mm)
    # the printed file has every indicator's trend and table (the bar chart is off in print)
    assert text.count("Förbundets utveckling över tid") >= 15
    assert text.count("Resultat 2024") >= 15  # a table heading per indicator with figures
