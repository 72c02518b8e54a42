"""Kiosk and offline-queue contracts over HTTP: background submissions (JSON), old forms,
rounds closed mid-form, empty forms, resubmitted steps and the counts staff see."""

from __future__ import annotations

import re

from sqlalchemy import text

from surveys import db
from surveys.models import Round
from surveys.services import rounds as ops
from tests.conftest import count_rows, form_token, login, round_row, scalar

BACKGROUND = {"X-Background": "1"}


def test_background_submission_is_json_and_stored_once(app, client, make_round):
    r = make_round("deltagare_avslut", mode="kiosk")
    data = {"csrf_token": form_token(client.get(f"/k/{r.code}").text), "q1": "6", "q8": "2"}
    data["device_key"] = "0123456789abcdef"
    first = client.post(f"/k/{r.code}", data=data, headers=BACKGROUND)
    again = client.post(f"/k/{r.code}", data=data, headers=BACKGROUND)  # a retry
    assert first.json == {"status": "stored"}
    assert again.json == {"status": "stored"}
    assert count_rows(app, "response") == 1
    # the same cached page (same token) shown offline to the next respondent: another key
    other = dict(data, device_key="fedcba9876543210", q1="1")
    assert client.post(f"/k/{r.code}", data=other, headers=BACKGROUND).json["status"] == "stored"
    assert count_rows(app, "response") == 2


def test_a_refused_background_submission_is_counted_for_staff(app, client, make_round):
    r = make_round("deltagare_avslut", mode="kiosk")
    tampered = {"csrf_token": "abc.def.ghi", "q1": "6"}
    response = client.post(f"/k/{r.code}", data=tampered, headers=BACKGROUND)
    assert response.status_code == 400
    assert response.json["status"] == "refused"
    bad_code = {"csrf_token": form_token(client.get(f"/k/{r.code}").text), "q1": "9"}
    assert client.post(f"/k/{r.code}", data=bad_code, headers=BACKGROUND).status_code == 400
    bad_key = dict(bad_code, q1="6", device_key="not-hex!")
    assert client.post(f"/k/{r.code}", data=bad_key, headers=BACKGROUND).status_code == 400
    # a token the service never signed is no tablet's form: refused, but not counted
    assert round_row(app, r.id).tablet_refused == 2
    assert count_rows(app, "response") == 0
    # a round that no longer exists: refused (the tablet drops it), nothing to count on
    gone = client.post("/k/finnsinte", data=tampered, headers=BACKGROUND)
    assert gone.status_code == 404


def test_tablets_report_queue_lengths_as_one_counter(app, client, make_round):
    r = make_round("deltagare_avslut", mode="kiosk")
    url = f"/k/{r.code}/ko"
    signed = {"token": form_token(client.get(f"/k/{r.code}").text)}  # from the tablet's form
    assert client.post(url, data={"waiting": "3", "reported": "0", **signed}).status_code == 200
    assert client.post(url, data={"waiting": "2", "reported": "0", **signed}).status_code == 200
    assert round_row(app, r.id).tablet_waiting == 5  # two tablets add up
    client.post(url, data={"waiting": "0", "reported": "3", **signed})  # the first one drained
    assert round_row(app, r.id).tablet_waiting == 2
    client.post(url, data={"waiting": "0", "reported": "9", **signed})  # never below zero
    assert round_row(app, r.id).tablet_waiting == 0
    client.post(url, data={"waiting": "1", "reported": "0", "storage_full": "1", **signed})
    row = round_row(app, r.id)
    assert row.tablet_storage_full
    assert row.tablet_waiting == 1
    for bad in ({"waiting": "-1"}, {"waiting": "x"}, {"waiting": "1", "reported": "ett"}, {}):
        response = client.post(url, data={**bad, **signed})
        assert response.status_code == 400
        assert "Ogiltiga" in response.json["message"]
    assert round_row(app, r.id).tablet_waiting == 1  # bad input changed nothing
    assert client.post("/k/finnsinte/ko", data={"waiting": "1"}).status_code == 404
    assert client.get(url).status_code == 405


def test_staff_see_the_tablet_counts_and_set_the_idle_time(app, client, make_round, make_user):
    r = make_round("deltagare_avslut", mode="kiosk", insats="Steget")
    token = form_token(client.get(f"/k/{r.code}").text)
    report = {"waiting": "4", "reported": "0", "storage_full": "1", "token": token}
    client.post(f"/k/{r.code}/ko", data=report)
    client.post(f"/k/{r.code}", data={"csrf_token": token, "q1": "9"}, headers=BACKGROUND)
    assert login(client, make_user("personal", insatser=["Steget"])).status_code == 302
    page = client.get(f"/personal/omgang/{r.id}").text
    assert re.search(r"<strong>4</strong> svar väntar på surfplattor", page)
    assert re.search(r"<strong>1</strong> skickade svar kunde inte tas emot", page)
    assert "fullt lagringsutrymme" in page
    url = f"/personal/omgang/{r.id}/surfplatta"
    csrf = form_token(page)
    for bad in ("5", "abc", "", "99999", "60.0", "60,000"):  # a form's number is exact
        response = client.post(url, data={"csrf_token": csrf, "idle_seconds": bad})
        assert response.status_code == 302
        assert "Ange antal sekunder" in client.get(f"/personal/omgang/{r.id}").text
    assert round_row(app, r.id).kiosk_idle_seconds is None  # nothing changed
    client.post(url, data={"csrf_token": csrf, "idle_seconds": "45", "clear_full": "1"})
    row = round_row(app, r.id)
    assert row.kiosk_idle_seconds == 45
    assert not row.tablet_storage_full
    assert 'data-idle="45"' in client.get(f"/k/{r.code}").text
    with app.app_context():
        actions = db.session().execute(text("SELECT action FROM audit_entry")).scalars().all()
    assert "omgång.surfplatta" in actions


def test_the_idle_field_shows_what_the_tablets_use_and_the_settings_range(
    app, client, make_round, make_user
):
    """A round without its own idle time uses the setting: the field shows that figure
    (not a fixed 120), so saving only the storage warning keeps what tablets do."""
    app.config["KIOSK_IDLE_SECONDS"] = 300
    r = make_round("deltagare_avslut", mode="kiosk", insats="Steget")
    assert 'data-idle="300"' in client.get(f"/k/{r.code}").text
    assert login(client, make_user("personal", insatser=["Steget"])).status_code == 302
    page = client.get(f"/personal/omgang/{r.id}").text
    assert 'name="idle_seconds" inputmode="numeric" value="300"' in page
    assert "sekunder utan tryck (30–3600)" in page
    client.post(
        f"/personal/omgang/{r.id}/surfplatta",
        data={"csrf_token": form_token(page), "idle_seconds": "300"},
    )
    assert round_row(app, r.id).kiosk_idle_seconds == 300
    assert 'data-idle="300"' in client.get(f"/k/{r.code}").text


def test_other_staff_cannot_change_a_rounds_tablet_settings(app, client, make_round, make_user):
    r = make_round("deltagare_avslut", mode="kiosk", insats="Steget")
    login(client, make_user("personal", insatser=["Annan insats"]))
    csrf = form_token(client.get("/personal").text)
    response = client.post(
        f"/personal/omgang/{r.id}/surfplatta", data={"csrf_token": csrf, "idle_seconds": "60"}
    )
    assert response.status_code == 403
    assert round_row(app, r.id).kiosk_idle_seconds is None


def test_an_empty_form_asks_before_it_is_stored(app, client, make_round):
    r = make_round("deltagare_avslut")
    token = form_token(client.get(f"/s/{r.code}").text)
    page = client.post(f"/s/{r.code}", data={"csrf_token": token, "gender": "man"})
    assert page.status_code == 200
    assert "Du har inte svarat på någon fråga. Vill du skicka ändå?" in page.text
    assert count_rows(app, "response") == 0
    assert 'name="confirm_empty" value="1"' in page.text
    assert "Svara på frågorna" in page.text
    background = client.post(f"/s/{r.code}", data={"csrf_token": token}, headers=BACKGROUND)
    assert background.json == {"status": "confirm_empty"}
    assert count_rows(app, "response") == 0
    sent = client.post(
        f"/s/{r.code}", data={"csrf_token": token, "gender": "man", "confirm_empty": "1"}
    )
    assert sent.status_code == 303
    assert count_rows(app, "response") == 1


def test_a_resubmitted_step_of_a_stored_form_starts_a_fresh_questionnaire(app, client, make_round):
    """Without JavaScript: Back after "Tack" re-posts step 1 of the previous respondent."""
    r = make_round("deltagare_avslut", mode="kiosk")
    token = form_token(client.get(f"/k/{r.code}").text)
    step1 = {"csrf_token": token, "gender": "kvinna", "q1": "6", "q8": "1"}
    step2 = client.post(f"/k/{r.code}", data=step1)
    assert step2.status_code == 200
    assert 'name="q9"' in step2.text
    done = client.post(f"/k/{r.code}", data=dict(step1, q9="4", conditional_shown="1"))
    assert done.status_code == 303
    assert count_rows(app, "response") == 1
    again = client.post(f"/k/{r.code}", data=step1)  # the next person confirms resubmission
    assert again.status_code == 303
    assert again.headers["Location"] == f"/k/{r.code}"
    fresh = client.get(again.headers["Location"]).text
    assert "checked" not in fresh
    assert "Du svarade" not in fresh
    assert form_token(fresh) != token
    empty_again = client.post(f"/k/{r.code}", data={"csrf_token": token})
    assert empty_again.status_code == 303
    assert count_rows(app, "response") == 1


def test_an_old_form_is_shown_again_filled_in_and_stored_once(app, client, make_round, fake_clock):
    r = make_round("deltagare_avslut")
    token = form_token(client.get(f"/s/{r.code}").text)
    fake_clock.advance(seconds=app.config["FORM_TOKEN_MAX_AGE"] + 1)  # open for 12 hours
    data = {"csrf_token": token, "gender": "kvinna", "q1": "6", "q8": "1", "q9": "4"}
    data["conditional_shown"] = "1"
    page = client.post(f"/s/{r.code}", data=data)
    assert page.status_code == 200
    assert "Sidan har varit öppen länge" in page.text
    assert count_rows(app, "response") == 0
    for name, value in (("gender", "kvinna"), ("q1", "6"), ("q8", "1"), ("q9", "4")):
        assert re.search(rf'name="{name}" value="{value}"\s+checked', page.text), name
    assert 'id="fraga-9" hidden' not in page.text  # 9 stays visible: 8 is Ja
    fresh = form_token(page.text)
    assert fresh != token
    # the same old form sent twice (double tap, two tabs) gets the same fresh key
    assert form_token(client.post(f"/s/{r.code}", data=data).text) != token
    background = client.post(f"/s/{r.code}", data=data, headers=BACKGROUND).json
    assert background["status"] == "renew"
    assert client.post(f"/s/{r.code}", data=dict(data, csrf_token=fresh)).status_code == 303
    renewed = dict(data, csrf_token=background["token"])
    assert client.post(f"/s/{r.code}", data=renewed, headers=BACKGROUND).json == {
        "status": "stored"
    }
    assert count_rows(app, "response") == 1
    # the old form once more, after it was stored: "Tack", nothing new
    assert client.post(f"/s/{r.code}", data=data).status_code == 303
    assert count_rows(app, "response") == 1


def test_late_forms_are_counted_in_the_audit_log_without_a_time_of_answering(
    app, client, make_round
):
    r = make_round("deltagare_avslut")
    tokens = [form_token(client.get(f"/s/{r.code}").text) for _ in range(2)]
    with app.app_context():
        s = db.session()
        ops.close_round(s, s.get(Round, r.id))
        s.commit()
    for token in tokens:
        response = client.post(
            f"/s/{r.code}", data={"csrf_token": token, "q1": "5"}, headers=BACKGROUND
        )
        assert response.json == {"status": "stored"}
    with app.app_context():
        rows = db.session().execute(text("SELECT user_email, action, detail FROM audit_entry"))
        rows = rows.all()
    assert len(rows) == 1
    who, action, detail = rows[0]
    assert action == "omgång.sena_svar"
    assert detail.endswith(  # as staff name the round, its id telling it from a namesake
        f"{r.year} – Insats A [{r.id}]: 2 svar togs emot efter stängning (inom respittiden)"
    )
    assert "@" not in who
    assert count_rows(app, "response") == 2


def test_a_late_form_is_logged_at_the_time_staff_closed_the_round(
    app, client, make_round, fake_clock
):
    """The entry's time is the closing's (from its ``omgång.stang`` entry), not the
    respondent's: the late form comes ten minutes after staff closed the round."""
    from tests.factories import CHEF

    r = make_round("deltagare_avslut")
    token = form_token(client.get(f"/s/{r.code}").text)
    with app.app_context():
        s = db.session()
        ops.change_state(s, CHEF, s.get(Round, r.id), "stang")
        s.commit()
    fake_clock.advance(seconds=600)
    posted = client.post(f"/s/{r.code}", data={"csrf_token": token, "q1": "5"}, headers=BACKGROUND)
    assert posted.json == {"status": "stored"}
    with app.app_context():
        rows = db.session().execute(
            text("SELECT action, at, detail FROM audit_entry ORDER BY action")
        )
        (late, late_at, detail), (closed, closed_at, label) = rows.all()
    assert (late, closed) == ("omgång.sena_svar", "omgång.stang")
    assert late_at == closed_at
    assert detail.startswith(f"{label} [{r.id}]: 1 svar")


def test_late_forms_of_two_rounds_with_one_name_are_counted_apart_at_their_own_closing(
    app, client, make_round, fake_clock
):
    """A round started again after closing has the same name (questionnaire, year,
    insats), and an insats's name may hold ": ". Each round keeps its own count, logged
    at its own closing; neither breaks the other's entry."""
    from tests.factories import CHEF

    first = make_round("deltagare_avslut", insats="Steget")
    second = make_round("deltagare_avslut", insats="Steget")
    third = make_round("deltagare_avslut", insats="Steget: vidare")
    rounds = (first, second, third)
    tokens = {r.id: [form_token(client.get(f"/s/{r.code}").text) for _ in "ab"] for r in rounds}
    closed = {}
    for r in rounds:
        with app.app_context():
            s = db.session()
            ops.change_state(s, CHEF, s.get(Round, r.id), "stang")
            s.commit()
        closed[r.id] = scalar(app, "SELECT closed_at FROM round WHERE id = :id", id=r.id)
        fake_clock.advance(seconds=600)  # each closed ten minutes after the one before
    for r in (third, first, second, first):
        token = tokens[r.id].pop()  # a form of its own each time
        posted = client.post(
            f"/s/{r.code}", data={"csrf_token": token, "q1": "5"}, headers=BACKGROUND
        )
        assert posted.json == {"status": "stored"}
    with app.app_context():
        rows = db.session().execute(
            text("SELECT at, detail FROM audit_entry WHERE action = 'omgång.sena_svar'")
        )
        late = {detail.split("[")[-1].split("]")[0]: (at, detail) for at, detail in rows}
    assert set(late) == {r.id for r in rounds}
    for r, count in ((first, 2), (second, 1), (third, 1)):
        at, detail = late[r.id]
        assert at == closed[r.id]
        assert detail.endswith(
            f"[{r.id}]: {count} svar togs emot efter stängning (inom respittiden)"
        )
    assert len(set(closed.values())) == 3


def test_a_late_entry_written_before_the_round_was_named_in_it_is_counted_on(
    app, client, make_round
):
    """An entry from before (it began with the round's id) goes on counting, in the
    entry as written now, instead of a second entry for the same round."""
    r = make_round("deltagare_avslut")
    token = form_token(client.get(f"/s/{r.code}").text)
    with app.app_context():
        s = db.session()
        ops.close_round(s, s.get(Round, r.id))
        s.execute(
            text(
                "INSERT INTO audit_entry (id, at, user_email, action, detail) VALUES "
                "('gammal', '2026-01-01 10:00:00', '(enkäten)', 'omgång.sena_svar', :d)"
            ),
            {"d": f"{r.id} 3 svar togs emot efter stängning (inom respittiden)"},
        )
        s.commit()
    posted = client.post(f"/s/{r.code}", data={"csrf_token": token, "q1": "5"}, headers=BACKGROUND)
    assert posted.json == {"status": "stored"}
    with app.app_context():
        rows = db.session().execute(text("SELECT id, detail FROM audit_entry")).all()
    assert len(rows) == 1
    assert rows[0][0] == "gammal"
    assert rows[0][1].endswith(f"[{r.id}]: 4 svar togs emot efter stängning (inom respittiden)")


def test_a_draft_round_never_takes_a_late_form(app, client, make_round):
    r = make_round("deltagare_avslut")
    token = form_token(client.get(f"/s/{r.code}").text)
    with app.app_context():
        s = db.session()
        s.get(Round, r.id).state = "draft"
        s.commit()
    response = client.post(f"/s/{r.code}", data={"csrf_token": token, "q1": "5"})
    assert response.status_code == 403
    assert count_rows(app, "response") == 0


def test_service_worker_is_served_for_the_kiosk_scope(client):
    response = client.get("/k/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/k/"
    assert b'addEventListener("fetch"' in response.data
    assert b"POST" not in response.data  # answers never pass through it


def test_refusals_on_an_open_link_are_not_counted_as_tablet_drops(app, client, make_round):
    r = make_round("deltagare_avslut", mode="kiosk")
    response = client.post(f"/s/{r.code}", data={"csrf_token": "x.y.z"}, headers=BACKGROUND)
    assert response.status_code == 400
    assert response.json["status"] == "refused"
    assert round_row(app, r.id).tablet_refused == 0


def test_each_question_says_how_far_there_is_left(client, make_round):
    r = make_round("deltagare_avslut")
    html = client.get(f"/s/{r.code}").text
    labels = re.findall(r'<span class="number">(Fråga \d+ av \d+)</span>', html)
    assert labels == [f"Fråga {n} av 10" for n in range(1, 11)]
