"""Issue 18 point 9: sign-in attempts counted atomically; a growing delay, not a lock.

- Attempts are counted *before* the password is checked, so of many wrong passwords
  arriving at once at most SIGNIN_LIMIT_ACCOUNT are checked (the old code read the
  count first and raised it after the check: 13 of 60 got past a limit of 10).
- Past the limit an account is slowed down, not locked: the next attempt is let
  through after 5 s, then 10 s, 20 s … (at most the window, 5 minutes), so its owner
  can always get in again; the per-address limit stays as it was.

The service's clock (surveys/clock.py) is moved instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from surveys import clock
from surveys.security import throttle
from tests.conftest import PASSWORD, form_token

WRONG = "Fel e-postadress eller lösenord."
START = datetime(2026, 1, 1, tzinfo=UTC)  # the start of a 300 s window


class Clock:
    def __init__(self) -> None:
        self.moment = START

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def frozen():
    source = Clock()
    with clock.use_source(source):
        yield source


def attempt(client, email: str, password: str, *, address: str | None = None):
    if address is not None:
        client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/logga-in")
    return client.post(
        "/logga-in",
        data={"csrf_token": form_token(page.text), "email": email, "password": password},
    )


def test_concurrent_wrong_passwords_check_at_most_the_limit(app, make_user, frozen):
    email = make_user("administratör")
    clients, tokens = [], []
    for _ in range(40):
        client = app.test_client()
        tokens.append(form_token(client.get("/logga-in").text))
        clients.append(client)
    start = threading.Barrier(len(clients))
    results: list[tuple[int, str]] = []

    def wrong(i: int) -> None:
        start.wait()
        response = clients[i].post(
            "/logga-in",
            data={"csrf_token": tokens[i], "email": email, "password": f"fel-{i}-losenord"},
        )
        results.append((response.status_code, response.text))

    threads = [threading.Thread(target=wrong, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = [status for status, text in results if WRONG in text]
    refused = [status for status, text in results if "För många" in text]
    assert len(results) == 40
    assert len(checked) == 10, len(checked)  # the limit, not one more
    assert set(checked) == {200}
    assert len(refused) == 30
    assert set(refused) == {429}


def test_the_account_is_slowed_down_not_locked(app, client, make_user, frozen):
    email = make_user("administratör")
    for i in range(10):
        assert WRONG in attempt(client, email, f"fel-{i}-losenord").text
    refused = attempt(client, email, PASSWORD)  # even the right password must wait 5 s
    assert refused.status_code == 429
    assert "Försök igen om 5 sekunder." in refused.text
    assert refused.headers["Retry-After"] == "5"
    # a guesser hammering from many addresses during the delay does not make it longer
    guesser = app.test_client()
    for i in range(50):
        refused = attempt(guesser, email, f"gissning-{i}", address=f"203.0.113.{i}")
        assert "Försök igen om 5 sekunder." in refused.text
    frozen.advance(4)
    assert "Försök igen om 1 sekunder." in attempt(client, email, "fel-igen").text
    frozen.advance(1)
    assert WRONG in attempt(client, email, "fel-efter-5-s").text  # one more guess, checked
    assert "Försök igen om 10 sekunder." in attempt(client, email, PASSWORD).text
    frozen.advance(10)
    assert WRONG in attempt(client, email, "fel-efter-10-s").text
    assert "Försök igen om 20 sekunder." in attempt(client, email, PASSWORD).text
    frozen.advance(20)
    # still inside the same 5-minute window: the owner gets in
    signed_in = attempt(client, email, PASSWORD)
    assert signed_in.status_code == 302
    # ... and a right password clears the account's count and delay
    client.post("/logga-ut", data={"csrf_token": form_token(client.get("/personal").text)})
    for i in range(10):
        assert WRONG in attempt(client, email, f"ny-fel-{i}").text


def test_the_delay_grows_to_the_window_and_no_further(app, client, make_user, frozen):
    with app.app_context():
        assert [throttle().delay(k) for k in range(1, 10)] == [
            5,
            10,
            20,
            40,
            80,
            160,
            300,
            300,
            300,
        ]
    email = make_user("läsare")
    for i in range(10):
        attempt(client, email, f"fel-{i}-losenord", address="198.51.100.1")
    waits = []
    for i in range(4):  # 5 + 10 + 20 + 40 s: still the first window
        refused = attempt(client, email, "fel", address=f"198.51.100.{2 + i}")
        wait = int(refused.headers["Retry-After"])
        waits.append(wait)
        frozen.advance(wait)
        assert WRONG in attempt(client, email, "fel").text
    assert waits == [5, 10, 20, 40]
    # the next window: ten attempts again, then the delay goes on from where it was
    frozen.advance(300)
    for i in range(10):
        assert WRONG in attempt(client, email, f"fel-{i}", address="198.51.100.50").text
    refused = attempt(client, email, PASSWORD, address="198.51.100.51")
    assert refused.headers["Retry-After"] == "160"  # strike 6, not 5 s again


def test_the_address_limit_stays(app, client, make_user, frozen):
    for i in range(30):
        assert WRONG in attempt(client, f"person{i}@example.invalid", "fel-losenord").text
    email = make_user("läsare")
    frozen.advance(120)
    refused = attempt(client, email, PASSWORD)  # the right password, from this address
    assert refused.status_code == 429
    assert "Vänta några minuter." in refused.text
    other = app.test_client()
    assert attempt(other, email, PASSWORD, address="198.51.100.7").status_code == 302
    frozen.advance(180)  # the next window
    assert attempt(client, email, PASSWORD).status_code == 302


def test_right_passwords_are_not_counted_against_the_address(app, make_user, frozen):
    email = make_user("läsare")
    for _ in range(40):  # a busy office behind one address
        client = app.test_client()
        assert attempt(client, email, PASSWORD).status_code == 302
