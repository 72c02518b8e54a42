"""Issue 18, points 1 and 2 over HTTP: a kiosk link replaced or revoked still takes the
forms tablets fetched with it (for the grace period), every refusal a tablet's queue drops
is counted for staff, the kiosk-link page is POST-redirect-GET, and the tablet counters
believe only signed, bounded, rate-limited reports that cannot overflow.

The Chromium test (a queued questionnaire stored after the link was rotated) is in
test_kiosk_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from surveys import clock, db
from surveys.models import Round
from surveys.services import kiosk as kiosk_ops
from surveys.services import rounds as ops
from tests.conftest import count_rows, form_token, login, round_row

BACKGROUND = {"X-Background": "1"}


def new_link(app, round_id: str, *, at: datetime | None = None) -> str:
    """Make (or replace) the round's kiosk link, as the round page does; ``at``: when."""
    with app.app_context():
        s = db.session()
        with clock.use_source(lambda: at or datetime.now(UTC)):
            token = ops.new_kiosk_link(s, s.get(Round, round_id))
        s.commit()
    return token


def later(seconds: float):
    """The service's clock moved forward (a tablet that comes back online later)."""
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return clock.use_source(lambda: moment)


def answers(token: str, q1: str = "6") -> dict[str, str]:
    return {"csrf_token": token, "q1": q1, "q8": "2", "device_key": "0123456789abcdef"}


# --- point 1: a new or revoked kiosk link loses nothing a tablet queued ------------------


def test_a_form_fetched_before_the_link_was_replaced_is_stored_within_the_grace(
    app, client, make_round
):
    r = make_round("deltagare_avslut", mode="kiosk")
    old = new_link(app, r.id, at=datetime.now(UTC) - timedelta(minutes=5))
    fetched = form_token(client.get(f"/surfplatta/{old}").text)  # the tablet's form (cached)
    new = new_link(app, r.id)  # staff make a new link while the tablet is offline
    assert client.get(f"/surfplatta/{old}").status_code == 404  # no new form from the old one
    assert client.get(f"/surfplatta/{new}").status_code == 200
    # the tablet comes back online and sends its queue to the address it knows
    stored = client.post(f"/surfplatta/{old}", data=answers(fetched), headers=BACKGROUND)
    assert stored.json == {"status": "stored"}
    again = client.post(f"/surfplatta/{old}", data=answers(fetched), headers=BACKGROUND)
    assert again.json == {"status": "stored"}  # a retry is stored once
    assert count_rows(app, "response") == 1
    assert round_row(app, r.id).tablet_refused == 0
    # its queue report still reaches the round through the old address
    report = {"waiting": "0", "reported": "1", "token": fetched}
    assert client.post(f"/surfplatta/{old}/ko", data=report).status_code == 200


def test_a_form_fetched_after_the_link_was_retired_is_not_taken_at_the_old_address(
    app, client, make_round
):
    r = make_round("deltagare_avslut", mode="kiosk")
    old = new_link(app, r.id)
    new_link(app, r.id, at=datetime.now(UTC) - timedelta(minutes=5))  # retired 5 min ago
    fresh = form_token(client.get(f"/k/{r.code}").text)  # rendered after the retirement
    refused = client.post(f"/surfplatta/{old}", data=answers(fresh), headers=BACKGROUND)
    assert refused.status_code == 404
    assert "gäller inte längre" in refused.json["message"]
    assert count_rows(app, "response") == 0
    assert round_row(app, r.id).tablet_refused == 1  # the tablet drops it: staff see it


def test_a_revoked_link_takes_queued_forms_for_the_grace_then_refuses_and_counts(
    app, client, make_round, make_user
):
    r = make_round("deltagare_avslut", mode="kiosk", insats="Steget")
    link = new_link(app, r.id, at=datetime.now(UTC) - timedelta(minutes=1))
    first = form_token(client.get(f"/surfplatta/{link}").text)
    second = form_token(client.get(f"/surfplatta/{link}").text)
    with app.app_context():
        s = db.session()
        assert ops.revoke_kiosk_link(s, s.get(Round, r.id))
        s.commit()
    ok = client.post(f"/surfplatta/{link}", data=answers(first), headers=BACKGROUND)
    assert ok.json == {"status": "stored"}
    grace = app.config["CLOSED_GRACE_SECONDS"]
    with later(grace + 60):  # the tablet was offline longer than the grace period
        late = client.post(f"/surfplatta/{link}", data=answers(second), headers=BACKGROUND)
        report = client.post(
            f"/surfplatta/{link}/ko", data={"waiting": "0", "reported": "1", "token": second}
        )
    assert late.status_code == 404
    assert late.json["status"] == "refused"  # JSON the queue understands: it drops the form
    assert report.status_code == 404  # the queue stops reporting to the gone address
    assert count_rows(app, "response") == 1
    assert round_row(app, r.id).tablet_refused == 1
    # a made-up form is not a tablet's: refused and not counted; a signed one at an
    # address the service never made is counted on the round it was signed for
    with later(grace + 60):
        forged = client.post(f"/surfplatta/{link}", data=answers("x.y.z"), headers=BACKGROUND)
    unknown = client.post("/surfplatta/finns-inte", data=answers(second), headers=BACKGROUND)
    assert forged.status_code == unknown.status_code == 404
    assert round_row(app, r.id).tablet_refused == 2
    login(client, make_user("personal", insatser=["Steget"]))
    page = client.get(f"/personal/omgang/{r.id}").text
    assert re.search(r"<strong>2</strong> skickade svar kunde inte tas emot", page)


def test_the_kiosk_link_page_is_post_redirect_get(app, client, make_round, make_user):
    r = make_round("deltagare_avslut", mode="kiosk", insats="Steget")
    login(client, make_user("personal", insatser=["Steget"]))
    page = client.get(f"/personal/omgang/{r.id}").text
    made = client.post(f"/personal/omgang/{r.id}/kiosk/ny", data={"csrf_token": form_token(page)})
    assert made.status_code == 303
    assert made.headers["Location"].endswith(f"/personal/omgang/{r.id}")
    shown = client.get(made.headers["Location"]).text
    link = re.search(r'id="kiosklank">http://localhost(/surfplatta/[^<]+)<', shown).group(1)
    with app.app_context():
        before = db.session().execute(text("SELECT token_hash FROM kiosk_enrolment")).scalar()
    reloaded = client.get(f"/personal/omgang/{r.id}").text  # the staff page reloaded
    assert 'id="kiosklank"' not in reloaded  # shown once
    assert "visas den bara när den skapas" in reloaded
    with app.app_context():
        after = db.session().execute(text("SELECT token_hash FROM kiosk_enrolment")).scalar()
    assert after == before  # no new link made by the reload
    assert app.test_client().get(link).status_code == 200  # the tablet's link still works


# --- point 2: the tablet counters ---------------------------------------------------


def test_forged_or_unsigned_queue_reports_change_nothing(app, client, make_round):
    r = make_round("deltagare_avslut", mode="kiosk")
    other = make_round("personal", mode="kiosk")
    other_token = form_token(client.get(f"/k/{other.code}").text)
    url = f"/k/{r.code}/ko"
    for forged in (
        {"waiting": "100000", "reported": "0", "storage_full": "1"},  # the curl
        {"waiting": "5", "reported": "0", "token": "x.y.z"},
        {"waiting": "5", "reported": "0", "token": other_token},  # another round's form
    ):
        response = client.post(url, data=forged)
        assert response.status_code == 403
        assert response.json["status"] == "refused"
    for _ in range(3):  # background posts with no form of the round: no refusal counted
        client.post(f"/k/{r.code}", data={"csrf_token": "a.b.c", "q1": "6"}, headers=BACKGROUND)
    row = round_row(app, r.id)
    assert (row.tablet_waiting, row.tablet_refused, row.tablet_storage_full) == (0, 0, False)


def test_huge_queue_reports_are_clamped_and_never_overflow(app, client, make_round, make_user):
    r = make_round("deltagare_avslut", mode="kiosk", insats="Steget")
    token = form_token(client.get(f"/k/{r.code}").text)
    url = f"/k/{r.code}/ko"
    huge = {"waiting": "99999999999999999999", "reported": "0", "token": token}
    assert client.post(url, data=huge).status_code == 200
    assert round_row(app, r.id).tablet_waiting == kiosk_ops.MAX_STEP  # one bounded step
    with app.app_context():  # a counter already near its ceiling (e.g. from before)
        db.session().execute(
            text("UPDATE round SET tablet_waiting = :n, tablet_refused = :n WHERE id = :id"),
            {"n": kiosk_ops.MAX_COUNT - 5, "id": r.id},
        )
        db.session().commit()
    assert client.post(url, data=huge).status_code == 200
    for _ in range(7):
        client.post(f"/k/{r.code}", data=answers(token, q1="9"), headers=BACKGROUND)
    row = round_row(app, r.id)
    assert row.tablet_waiting == kiosk_ops.MAX_COUNT
    assert row.tablet_refused == kiosk_ops.MAX_COUNT
    login(client, make_user("personal", insatser=["Steget"]))
    page = client.get(f"/personal/omgang/{r.id}")
    assert page.status_code == 200
    assert f"<strong>{kiosk_ops.MAX_COUNT}</strong> svar väntar" in page.text


def test_closed_and_single_use_rounds_refuse_queue_reports(app, client, make_round):
    r = make_round("deltagare_avslut", mode="kiosk")
    token = form_token(client.get(f"/k/{r.code}").text)
    url = f"/k/{r.code}/ko"
    assert (
        client.post(url, data={"waiting": "3", "reported": "0", "token": token}).status_code == 200
    )
    with app.app_context():
        s = db.session()
        ops.close_round(s, s.get(Round, r.id))
        s.commit()
    grow = client.post(url, data={"waiting": "9", "reported": "3", "token": token})
    assert grow.status_code == 410  # a closed round's queues only get shorter
    assert round_row(app, r.id).tablet_waiting == 3
    shrink = {"waiting": "1", "reported": "3", "token": token}
    assert client.post(url, data=shrink).status_code == 200  # draining within the grace
    assert round_row(app, r.id).tablet_waiting == 1
    with later(app.config["CLOSED_GRACE_SECONDS"] + 60):
        after = client.post(url, data={"waiting": "0", "reported": "1", "token": token})
    assert after.status_code == 410
    assert round_row(app, r.id).tablet_waiting == 1
    single = make_round("personal", mode="single_use")
    refused = client.post(f"/k/{single.code}/ko", data={"waiting": "5", "token": token})
    assert refused.status_code == 404
    assert round_row(app, single.id).tablet_waiting == 0


def test_an_open_link_form_cannot_report_a_tablet_queue(app, client, make_round):
    """Anyone with an open link has its form token: neither it nor a kiosk page of an
    open-link round moves a tablet counter; a kiosk round's own /s/ form does not either."""
    open_round = make_round("deltagare_avslut", mode="open_link")
    for page in (f"/s/{open_round.code}", f"/k/{open_round.code}"):
        token = form_token(client.get(page).text)
        report = {"waiting": "100", "reported": "0", "storage_full": "1", "token": token}
        assert client.post(f"/k/{open_round.code}/ko", data=report).status_code == 404
    kiosk = make_round("personal", mode="kiosk")
    link_token = form_token(client.get(f"/s/{kiosk.code}").text)
    forged = {"waiting": "100", "reported": "0", "token": link_token}
    assert client.post(f"/k/{kiosk.code}/ko", data=forged).status_code == 403
    tablet_token = form_token(client.get(f"/k/{kiosk.code}").text)
    real = {"waiting": "2", "reported": "0", "token": tablet_token}
    assert client.post(f"/k/{kiosk.code}/ko", data=real).status_code == 200
    assert (
        round_row(app, open_round.id).tablet_waiting,
        round_row(app, kiosk.id).tablet_waiting,
    ) == (
        0,
        2,
    )
    assert not round_row(app, open_round.id).tablet_storage_full


def test_queue_reports_and_counted_refusals_are_rate_limited(app, client, make_round):
    app.config.update(TABLET_REPORTS_PER_MINUTE=3, TABLET_REFUSALS_PER_MINUTE=2)
    r = make_round("deltagare_avslut", mode="kiosk")
    token = form_token(client.get(f"/k/{r.code}").text)
    url = f"/k/{r.code}/ko"
    statuses = [
        client.post(url, data={"waiting": "1", "reported": "0", "token": token}).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    assert round_row(app, r.id).tablet_waiting == 3
    for _ in range(4):
        client.post(f"/k/{r.code}", data=answers(token, q1="9"), headers=BACKGROUND)
    assert round_row(app, r.id).tablet_refused == 2


def test_the_tablet_limit_keeps_neither_address_nor_round_in_its_storage(app, make_round):
    """The limiter's storage (memory here, Redis in production) holds only HMACs: reading
    it does not tell which address reported for which round. Each address and round
    still has its own count."""
    app.config.update(TABLET_REPORTS_PER_MINUTE=2)
    r = make_round("deltagare_avslut", mode="kiosk")
    other = make_round("deltagare_avslut", mode="kiosk")

    def report(round_, address: str) -> int:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        token = form_token(client.get(f"/k/{round_.code}").text)
        data = {"waiting": "1", "reported": "0", "token": token}
        return client.post(f"/k/{round_.code}/ko", data=data).status_code

    first = [report(r, "198.51.100.23") for _ in range(3)]
    assert first == [200, 200, 429]
    assert report(r, "198.51.100.24") == 200  # another address: its own count
    assert report(other, "198.51.100.23") == 200  # another round: its own count
    storage = app.extensions["tablet_limiter"].storage
    keys = " ".join(storage.events)
    assert len(storage.events) == 3, keys
    for clear in ("198.51.100", r.id, other.id, r.code):
        assert clear not in keys
    assert keys.count("LIMITER/tablet/ko/") == 3


def test_an_empty_round_with_a_replaced_kiosk_link_can_still_be_removed(app, make_round):
    r = make_round("deltagare_avslut", mode="kiosk")
    new_link(app, r.id)
    new_link(app, r.id)  # the first one is now retired (kept for the grace period)
    with app.app_context():
        s = db.session()
        ops.delete_round(s, s.get(Round, r.id))
        s.commit()
    assert count_rows(app, "round") == 0
    assert count_rows(app, "kiosk_retired_link") == 0
