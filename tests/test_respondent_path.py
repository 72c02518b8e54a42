"""The lean respondent path (issue 20): what its per-worker caches may and may not do.

Two application instances share one database, as two gunicorn workers or two machines
behind a load balancer do. Staff change a round through one; the other, whose caches
have already served the round's form, must honour the change on its very next GET and
POST (the round is read fresh per request: services/respondent.py). A counter of SQL
statements bounds what a tablet's GET and POST cost (a regression guard: it fails if
someone adds round trips to the hot path).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, text

from surveys import create_app
from surveys.services import respondent
from tests.conftest import LIGHT_HASHING, SECRET, count_rows, form_token

ANSWERS = {f"q{n}": "4" for n in range(1, 8)} | {"q8": "2", "gender": "kvinna"}


@pytest.fixture
def other(app: Flask) -> Iterator[Flask]:
    """A second instance of the service on the same database and instance folder."""
    second = create_app(
        {
            "DATABASE_URL": app.config["DATABASE_URL"],
            "INSTANCE_DIR": app.config["INSTANCE_DIR"],
            "SECRET_KEY": SECRET,
            "TESTING": True,
            "PUBLIC_URL": "http://localhost",
            "MIN_CELL": 5,
            "CLOSED_GRACE_SECONDS": 0,  # a closed round takes nothing (no grace)
            **LIGHT_HASHING,
        }
    )
    yield second
    second.extensions["engine"].dispose()


def _elsewhere(app: Flask, sql: str, **params) -> None:
    """A change committed by another process (its own engine: none of this process's ORM
    events fire, as none would in another worker or on another machine)."""
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def _post(client, code: str, token: str):
    return client.post(f"/s/{code}", data={**ANSWERS, "csrf_token": token})


def test_a_round_closed_in_another_instance_is_closed_at_once_in_this_one(app, other, make_round):
    r = make_round()
    client = other.test_client()
    first = client.get(f"/s/{r.code}")  # this instance's caches now hold the open round
    assert first.status_code == 200
    token = form_token(first.text)
    _elsewhere(app, "UPDATE round SET state = 'closed' WHERE id = :id", id=r.id)
    closed = client.get(f"/s/{r.code}")
    assert closed.status_code == 403
    assert "Enkäten är stängd" in closed.text
    refused = _post(client, r.code, token)
    assert refused.status_code == 403
    assert count_rows(other, "pending_response") == 0
    assert count_rows(other, "submission_key") == 0


def test_a_round_reopened_in_another_instance_takes_answers_at_once(app, other, make_round):
    """A form rendered by the first instance right after the round was opened again is
    stored by the second, whose caches last saw the round closed (never dropped)."""
    r = make_round()
    _elsewhere(app, "UPDATE round SET state = 'closed' WHERE id = :id", id=r.id)
    client = other.test_client()
    assert client.get(f"/s/{r.code}").status_code == 403  # seen closed here
    _elsewhere(app, "UPDATE round SET state = 'open' WHERE id = :id", id=r.id)
    token = form_token(app.test_client().get(f"/s/{r.code}").text)
    stored = _post(client, r.code, token)
    assert stored.status_code == 303
    assert count_rows(other, "pending_response") == 1
    assert client.get(f"/s/{r.code}").status_code == 200


def test_settings_and_names_changed_in_another_instance_show_at_once(app, other, make_round):
    """The cached first step of the form is rendered again when the round's kiosk idle
    time or its insats's name changes in another instance."""
    r = make_round(insats="Steget")
    client = other.test_client()
    before = client.get(f"/k/{r.code}").text
    assert 'data-idle="' in before
    assert "Steget" in before
    _elsewhere(app, "UPDATE round SET kiosk_idle_seconds = 77 WHERE id = :id", id=r.id)
    _elsewhere(app, "UPDATE intervention SET name = 'Ny' WHERE id = :id", id=r.intervention_id)
    after = client.get(f"/k/{r.code}").text
    assert 'data-idle="77"' in after
    assert re.search(r'class="org">Ny<', after)
    assert "Steget" not in after


def test_the_catalogue_is_compared_with_the_database_within_its_ttl(
    app, other, make_round, monkeypatch
):
    """The instrument is the one thing kept per worker; another instance's change to it
    reaches this one after at most TTL_SECONDS (the cache's clock is moved, no sleep)."""
    r = make_round()
    now = [1000.0]
    monkeypatch.setattr(respondent, "monotonic", lambda: now[0])
    client = other.test_client()
    assert client.get(f"/s/{r.code}").status_code == 200
    with other.app_context():
        cached = respondent.instrument()
    seen: list[str] = []

    def watch(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    event.listen(other.extensions["engine"], "before_cursor_execute", watch)
    try:
        client.get(f"/s/{r.code}")
        assert not any("instrument_info" in sql for sql in seen)  # trusted within the TTL
        now[0] += respondent.TTL_SECONDS + 0.1
        client.get(f"/s/{r.code}")
        assert any("instrument_info" in sql for sql in seen)  # compared again after it
    finally:
        event.remove(other.extensions["engine"], "before_cursor_execute", watch)
    with other.app_context():
        assert respondent.instrument() is cached  # the same catalogue: kept


def _driver_log(app: Flask) -> tuple[list[str], list[int]]:
    """Every statement SQLite runs for the app (its own trace, so raw driver statements
    count too: BEGIN and COMMIT included), and every connection taken from the pool."""
    engine = app.extensions["engine"]
    engine.dispose()  # new connections, each with the trace set
    statements: list[str] = []
    checkouts: list[int] = []

    def trace(sql: str) -> None:
        if not sql.startswith("PRAGMA"):  # connection setup and the WAL cleanup thread
            statements.append(sql)

    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda conn, _record: conn.set_trace_callback(trace))
    event.listen(engine, "checkout", lambda *_args: checkouts.append(1))
    return statements, checkouts


def test_a_tablets_get_and_post_cost_at_most_a_few_statements(app, make_round):
    """Upper bounds per request once the worker is warm (a regression guard): GET one
    SELECT (the round as stored now) on one pooled connection; POST that and the
    questionnaire's own transaction (BEGIN, key, round state, sealed row, weekly
    counter, COMMIT) on a second, no ORM session. The statements are counted on SQLite."""
    r = make_round()
    client = app.test_client()
    statements, checkouts = _driver_log(app)
    token = form_token(client.get(f"/s/{r.code}").text)
    _post(client, r.code, token)  # warm: the instrument, the form, the round's key
    statements.clear()
    checkouts.clear()
    page = client.get(f"/s/{r.code}")
    get_statements, get_checkouts = list(statements), len(checkouts)
    statements.clear()
    checkouts.clear()
    posted = _post(client, r.code, form_token(page.text))
    assert page.status_code == 200
    assert posted.status_code == 303
    assert get_checkouts == 1
    assert len(checkouts) == 2
    if app.extensions["engine"].dialect.name == "sqlite":
        assert len(get_statements) == 1, get_statements
        assert len(statements) <= 7, statements
    assert count_rows(app, "pending_response") == 2


def test_offered_languages_are_compared_after_the_ttl_and_an_unchanged_form_is_not_rendered_again(
    app, other, runner, tmp_path, make_round, monkeypatch
):
    """The offered translations are read again after TTL_SECONDS: unchanged, the worker
    keeps the same answer and its rendered form (no template rendered); changed in
    another instance (here: a text edited, so the approval no longer holds), the next
    GET after the TTL shows the Swedish form without the language."""
    from flask import template_rendered

    from surveys.services import translations
    from tests.translation_fixture import load_fixture_translation

    r = make_round("deltagare_avslut")
    load_fixture_translation(runner, tmp_path, "ar")
    now = [1000.0]
    monkeypatch.setattr(translations, "monotonic", lambda: now[0])
    client = other.test_client()
    assert "العربية" in client.get(f"/s/{r.code}").text  # the picker offers it
    rendered: list[str] = []

    def note(_app, **sent) -> None:
        rendered.append(sent["template"].name)

    template_rendered.connect(note, other)
    try:
        now[0] += translations.TTL_SECONDS + 0.1
        page = client.get(f"/s/{r.code}").text
        assert "العربية" in page
        assert rendered == []  # read again, the same: the form rendered before is used
        _elsewhere(
            app,
            "UPDATE translation_text SET text = 'Ändrad' WHERE language = 'ar' AND key = "
            "(SELECT min(key) FROM translation_text WHERE language = 'ar')",
        )
        assert "العربية" in client.get(f"/s/{r.code}").text  # within the TTL: as it was
        now[0] += translations.TTL_SECONDS + 0.1
        changed = client.get(f"/s/{r.code}").text
        assert "العربية" not in changed  # no longer approved as it is: not offered
        assert rendered == ["questionnaire/form.html"]
    finally:
        template_rendered.disconnect(note, other)


def test_the_forms_address_follows_the_script_root_it_was_asked_through(app, make_round):
    """The form's and "Tack"'s URLs are built once per worker and code, kept apart by the
    script root (a service mounted under a prefix by its proxy)."""
    r = make_round()
    client = app.test_client()
    plain = client.get(f"/s/{r.code}").text
    mounted = client.get(f"/s/{r.code}", base_url="http://localhost/enkat").text
    again = client.get(f"/s/{r.code}").text
    assert f'action="/s/{r.code}"' in plain
    assert f'action="/enkat/s/{r.code}"' in mounted
    assert f'action="/s/{r.code}"' in again
    token = form_token(mounted)
    posted = client.post(
        f"/s/{r.code}", data={**ANSWERS, "csrf_token": token}, base_url="http://localhost/enkat"
    )
    assert posted.status_code == 303
    assert posted.headers["Location"] == "/enkat/tack"
    kiosk = client.get(f"/k/{r.code}", base_url="http://localhost/enkat").text
    assert f'action="/enkat/k/{r.code}"' in kiosk


def test_form_tokens_are_not_compressed_and_older_compressed_ones_are_still_taken(app, make_round):
    """A form token is signed JSON in base64 without zlib (its set-up cost more than the
    rest of a GET); a token of a form rendered before, compressed by itsdangerous's
    default, is read as before and the form it came with is stored."""
    from itsdangerous import URLSafeTimedSerializer

    from surveys.questionnaire import forms

    r = make_round()
    client = app.test_client()
    token = form_token(client.get(f"/s/{r.code}").text)
    assert not token.startswith(".")  # "." marks a compressed payload
    older = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt="questionnaire-form", signer=forms.ClockSigner
    ).dumps({"r": r.id, "k": "K" * 22})
    assert older.startswith(".")
    with app.test_request_context():
        read = forms.read_form_token(older, r.id)
        assert read is not None
        assert read.key == "K" * 22
        assert forms.read_form_token(token, r.id) is not None
        assert forms.read_form_token(older, "another round") is None
    stock = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="questionnaire-form")
    assert stock.loads(token)["r"] == r.id  # signed as itsdangerous signs (key kept, not changed)
    assert _post(client, r.code, older).status_code == 303
    assert count_rows(app, "pending_response") == 1


def test_a_tablets_get_and_post_make_no_orm_session_even_when_a_batch_is_released(
    app, make_round, monkeypatch
):
    """Once the worker is warm, a form GET and a complete POST (the fifth one releasing
    the round's batch too) never make the request's ORM session: every statement runs
    on a driver connection (services/submissions.py, services/respondent.py)."""
    from surveys import db

    r = make_round()
    client = app.test_client()
    assert _post(client, r.code, form_token(client.get(f"/s/{r.code}").text)).status_code == 303
    made: list[int] = []
    real = db.session

    def counted():
        made.append(1)
        return real()

    monkeypatch.setattr(db, "session", counted)
    for _ in range(4):  # the fifth waiting questionnaire releases the batch
        posted = _post(client, r.code, form_token(client.get(f"/s/{r.code}").text))
        assert posted.status_code == 303
    assert made == []
    assert count_rows(app, "response") == 5
    assert count_rows(app, "pending_response") == 0


def test_a_recording_added_or_removed_shows_on_the_next_form(app, runner, tmp_path, make_round):
    """The recordings' listing and the rendered form are kept per worker; a recording
    loaded after the form was served is on the very next GET, and gone once removed."""
    import wave

    app.config["INSTANCE_DIR"] = str(tmp_path / "instance")
    version = "deltagare_avslut.1.v1"
    r = make_round("deltagare_avslut")
    client = app.test_client()
    assert "data-audio=" not in client.get(f"/s/{r.code}").text
    recording = tmp_path / "fraga1.wav"
    with wave.open(str(recording), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x10" * 800)
    result = runner.invoke(args=["audio", "load", str(recording), "--version", version])
    assert result.exit_code == 0, result.output
    assert f'data-audio="/s/ljud/{version}"' in client.get(f"/s/{r.code}").text
    (tmp_path / "instance" / "ljud" / f"{version}.wav").unlink()
    assert "data-audio=" not in client.get(f"/s/{r.code}").text
