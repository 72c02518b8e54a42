"""What the browser tests (headless Chromium through Playwright) share: screenshots,
signing in, answering the first question, waiting for the page's script or service
worker, and the bytes a page transferred. Fixtures (``browser``, ``live_server``) are
in ``conftest.py``; test modules import helpers from here, never from each other.
"""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError

from tests.conftest import PASSWORD

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


PHONE = {"width": 360, "height": 740}


def sign_in(page, base, email):
    page.goto(f"{base}/")
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()


def wait_until(page, script: str, seconds: float = 15) -> None:
    """Poll a JS expression (wait_for_function would need eval, which our CSP forbids)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if page.evaluate(script):
                return
        except PlaywrightError as exc:  # the page is navigating (a kiosk reset): ask again
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        time.sleep(0.1)


def run_clock_until(page, done, *, step_ms: int = 500, limit_ms: int = 90_000) -> None:
    """Move the page's installed clock (``page.clock.install()``) on in steps until
    ``done()`` holds: the page's timers (retries, countdowns) fire without the test
    waiting for them in real time. Between steps the page gets a moment of real time for
    what is not a timer (fetch, IndexedDB, navigation), and Playwright runs route handlers.
    """
    for _ in range(limit_ms // step_ms):
        if done():
            return
        _clock_step(page, step_ms)
    assert done(), f"not done within {limit_ms} ms of the page's clock"


def run_clock_for(page, total_ms: int, *, step_ms: int = 500) -> None:
    """Move the page's installed clock on by ``total_ms`` in the same steps as
    ``run_clock_until``: for checking that nothing more happens meanwhile."""
    for _ in range(total_ms // step_ms):
        _clock_step(page, step_ms)


def _clock_step(page, step_ms: int) -> None:
    """One step of the page's clock, then 50 ms of real time (see run_clock_until)."""
    try:
        page.clock.run_for(step_ms)
    except PlaywrightError as exc:  # the page is navigating (a kiosk reset): go on
        if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
            raise
    page.wait_for_timeout(50)


def has_heading(page, name: str) -> bool:
    """Whether the page shows a heading with exactly this text (False while it navigates)."""
    try:
        return page.get_by_role("heading", name=name).count() > 0
    except PlaywrightError:
        return False


def wait_for_sw(page) -> None:
    """The service worker controls the kiosk page (clients.claim on activation)."""
    wait_until(
        page,
        "async () => !!(navigator.serviceWorker && navigator.serviceWorker.controller"
        " && await caches.match(location.pathname))",
    )


def fill(page, q1: str = "Alltid", gender: str | None = "Kvinna") -> None:
    if gender:
        page.get_by_role("radio", name=gender).check()
    page.locator("#fraga-1").get_by_text(q1, exact=True).click()


def transferred(requests: list) -> tuple[int, list[str]]:
    """Bytes over the wire (headers and bodies); answers from the service worker's cache are
    not transferred, its own requests to the network are."""
    total, seen = 0, []
    for request in requests:
        response = request.response()
        if response is None or response.from_service_worker:
            continue
        sizes = request.sizes()
        body = max(sizes["responseBodySize"], 0)
        total += max(sizes["responseHeadersSize"], 0) + body
        seen.append(f"{request.url.rsplit('/', 1)[-1]}={body}")
    return total, seen
