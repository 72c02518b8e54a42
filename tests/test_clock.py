"""One clock (surveys/clock.py) for everything that depends on the time (issue 20): a
form's age, the grace period of a closed round, the sign-in window and the jobs' leases
are all read from it, so tests move the clock (``fake_clock``) instead of sleeping."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from surveys import db
from surveys.security import throttle
from tests.conftest import count_rows, form_token

SURVEYS = Path(__file__).resolve().parent.parent / "surveys"
# Reading the wall clock anywhere but surveys/clock.py: time.monotonic() (durations, e.g.
# a cache's age) is fine, it says nothing about the date or time of day.
SYSTEM_CLOCK = {
    ("time", "time"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}


def test_no_module_reads_the_system_clock_but_the_clock_module():
    """Except where an outside party keeps time by it (a line marked "system clock:
    allowed" just above, e.g. a rate-limit storage's expiry)."""
    found = []
    for path in sorted(SURVEYS.rglob("*.py")):
        if path.name == "clock.py" and path.parent == SURVEYS:
            continue
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and "system clock: allowed" in lines[node.lineno - 2]:
                continue
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (node.func.value.id, node.func.attr) in SYSTEM_CLOCK
            ):
                found.append(f"{path.relative_to(SURVEYS.parent)}:{node.lineno}")
    assert found == []


def test_an_old_form_is_shown_again_by_the_clock_not_by_sleeping(
    app, client, make_round, fake_clock
):
    """FormToken.age_seconds and the token's signature read the service's clock: a form
    older than FORM_TOKEN_MAX_AGE (12 hours) is shown again, filled in, not stored."""
    r = make_round("deltagare_avslut")
    token = form_token(client.get(f"/s/{r.code}").text)
    data = {"csrf_token": token, "gender": "kvinna", "q1": "6", "q8": "2"}
    fake_clock.advance(seconds=app.config["FORM_TOKEN_MAX_AGE"] - 1)
    young = client.post(f"/s/{r.code}", data=data)
    assert young.status_code == 303  # 1 second to spare: stored
    assert count_rows(app, "response") == 1
    token = form_token(client.get(f"/s/{r.code}").text)
    fake_clock.advance(seconds=app.config["FORM_TOKEN_MAX_AGE"] + 1)
    old = client.post(f"/s/{r.code}", data=dict(data, csrf_token=token))
    assert old.status_code == 200
    assert "Sidan har varit öppen länge" in old.text
    assert re.search(r'name="q1" value="6"\s+checked', old.text)
    assert count_rows(app, "response") == 1
    # the fresh token it carries is new by the same clock: stored at once
    again = client.post(f"/s/{r.code}", data=dict(data, csrf_token=form_token(old.text)))
    assert again.status_code == 303
    assert count_rows(app, "response") == 2


def test_a_form_from_before_the_round_closed_counts_within_the_grace_period(
    app, client, make_round, fake_clock
):
    """A form rendered while the round was open is taken for CLOSED_GRACE_SECONDS after
    it was rendered (both instants from the one clock)."""
    from surveys.models import Round
    from surveys.services import rounds as ops

    r = make_round("deltagare_avslut")
    tokens = [form_token(client.get(f"/s/{r.code}").text) for _ in range(2)]
    with app.app_context():
        session = db.session()
        ops.close_round(session, session.get(Round, r.id))
        session.commit()
    grace = app.config["CLOSED_GRACE_SECONDS"] = 3600  # within the form's own 12 hours
    data = {"gender": "kvinna", "q1": "6", "q8": "2"}
    fake_clock.advance(seconds=grace - 5)
    within = client.post(f"/s/{r.code}", data=dict(data, csrf_token=tokens[0]))
    assert within.status_code == 303
    fake_clock.advance(seconds=10)
    after = client.post(f"/s/{r.code}", data=dict(data, csrf_token=tokens[1]))
    assert after.status_code != 303
    assert "Enkäten är stängd" in after.text
    assert count_rows(app, "response") == 1


def test_sign_in_failures_are_counted_per_window_of_the_clock(app, make_user, fake_clock):
    email = make_user("läsare")
    with app.test_request_context():
        limiter = throttle()
        limiter.begin(email, "198.51.100.7")  # each attempt is counted before the check
        limiter.begin(email, "198.51.100.7")
        assert limiter.failures(email, "198.51.100.7") == {"account": 2, "address": 2}
        fake_clock.advance(seconds=app.config["SIGNIN_WINDOW_SECONDS"])
        assert limiter.failures(email, "198.51.100.7") == {"account": 0, "address": 0}
