"""Settings read once from the environment, one range each, and used where they matter
(issue 20): password hashing given as settings (no test switch in the code), the kiosk's
timings, the development port and the suppression threshold's one range."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from surveys import create_app, db
from surveys.auth import check_password, hash_password
from surveys.config import ConfigError, Settings, load_config, read_settings, setting_range
from surveys.links import public_base
from surveys.models import Round, User
from surveys.services import rounds as ops
from surveys.services import settings
from tests.conftest import SECRET, form_token

STRONG = "Qm7xLp2Vz9Rt4Wn8Kc3Hd6Jf1Bs5Gy0Ae"  # a production key: varied, 33 characters
PRODUCTION = {
    "SURVEYS_ENV": "production",
    "SECRET_KEY": STRONG,
    "PUBLIC_URL": "https://enkat.example.se",
    "DATABASE_URL": "sqlite:////nonexistent/never-opened.sqlite",
}


def test_password_hashing_follows_the_settings_and_production_refuses_light_hashing(
    app, database_url
):
    with app.app_context():  # the tests' light settings
        light = hash_password("ett-langt-losenord")
    assert light.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    default = create_app({"DATABASE_URL": database_url, "SECRET_KEY": SECRET})
    with default.app_context():  # nothing set: the library's recommendation (RFC 9106)
        strong = hash_password("ett-langt-losenord")
        assert strong.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        # a hash carries its parameters: either is checked under any setting
        user = User(email="x@example.invalid", password_hash=light, role="läsare")
        assert check_password(user, "ett-langt-losenord")
        assert not check_password(user, "fel")
    default.extensions["engine"].dispose()
    assert load_config(env=PRODUCTION)["ARGON2_MEMORY_KIB"] == 65_536
    for name, value in (("ARGON2_TIME_COST", "1"), ("ARGON2_MEMORY_KIB", "1024")):
        with pytest.raises(ConfigError, match=f"{name} är lägre än vad som krävs i produktion"):
            load_config(env={**PRODUCTION, name: value})
    with pytest.raises(ConfigError, match="ARGON2_PARALLELISM ska vara mellan 1 och 64"):
        load_config(env={"ARGON2_PARALLELISM": "0"})


def test_kiosk_timings_are_settings_every_kiosk_page_reads(database_url, make_round):
    config = load_config(env={"KIOSK_THANKS_SECONDS": "7", "KIOSK_COUNTDOWN_SECONDS": "9"})
    assert (config["KIOSK_THANKS_SECONDS"], config["KIOSK_COUNTDOWN_SECONDS"]) == (7, 9)
    assert load_config(env={})["KIOSK_THANKS_SECONDS"] == 15
    with pytest.raises(ConfigError, match="KIOSK_THANKS_SECONDS ska vara mellan 1 och 600"):
        load_config(env={"KIOSK_THANKS_SECONDS": "0"})
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET,
            "KIOSK_THANKS_SECONDS": 7,
            "KIOSK_COUNTDOWN_SECONDS": 9,
        }
    )
    r = make_round("deltagare_avslut", mode="kiosk")
    client = app.test_client()
    form = client.get(f"/k/{r.code}").text
    assert 'data-countdown="9" data-thanks-seconds="7"' in form
    assert 'data-seconds="7"' in client.get(f"/k/{r.code}/tack").text
    # a tablet enrolled with the round page's link: the same setting, not a constant
    with app.app_context():
        session = db.session()
        token = ops.new_kiosk_link(session, session.get(Round, r.id))
        session.commit()
    enrolled = client.get(f"/surfplatta/{token}/tack").text
    assert 'data-seconds="7"' in enrolled
    assert 'content="7;url=' in enrolled
    app.extensions["engine"].dispose()


def test_links_outside_a_request_use_the_port_setting(database_url):
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": SECRET, "PORT": 8123})
    with app.app_context():
        assert public_base() == "http://127.0.0.1:8123"
    app.extensions["engine"].dispose()
    assert load_config(env={"PORT": "9000"})["PORT"] == 9000
    with pytest.raises(ConfigError, match="PORT ska vara ett heltal"):
        load_config(env={"PORT": "åttatusen"})


def test_the_threshold_has_one_range_everywhere(app, admin_client):
    with pytest.raises(ConfigError, match="MIN_CELL ska vara mellan 1 och 100"):
        load_config(env={"MIN_CELL": "101"})
    page = admin_client.get("/admin")
    refused = admin_client.post(
        "/admin/grans",
        data={"csrf_token": form_token(page.text), "min_cell": "101"},
        follow_redirects=True,
    )
    assert "Gränsen ska vara ett heltal mellan 1 och 100." in refused.text
    app.config["MIN_CELL"] = 7  # the environment's, when the administrator set none
    with app.app_context():
        session = db.session()
        assert settings.threshold(session) == 7
        settings.put(session, settings.MIN_CELL, "100")
        assert settings.threshold(session) == 100
        settings.put(session, settings.MIN_CELL, "150")  # stored by hand: out of range
        assert settings.threshold(session) == 7
        session.rollback()


def test_a_threshold_handed_to_a_service_is_checked_in_the_same_range(app, runner, tmp_path):
    """A job's or a caller's threshold outside 1–100 is refused in Swedish by the service
    itself, nothing queued or published (the page and the CLI read it in range anyway)."""
    from surveys.national.publish import NationalPublishError
    from surveys.national.publish import publish_year as publish_national
    from surveys.services import jobs
    from surveys.services.catalogue import instrument_from_db
    from surveys.services.publications import PublishError, publish
    from tests.conftest import count_rows
    from tests.factories import CHEF, import_seed

    import_seed(runner, tmp_path, publish=False)
    with app.app_context():
        session = db.session()
        instrument = instrument_from_db(session)
        for bad in (0, 101, True, "5"):
            with pytest.raises(PublishError, match="Gränsen ska vara ett heltal mellan 1 och 100"):
                publish(session, CHEF, instrument, year=2023, min_cell=bad)  # type: ignore[arg-type]
            with pytest.raises(jobs.JobError, match="mellan 1 och 100. Ingenting har ändrats."):
                jobs.request_publish(session, CHEF, year=2023, min_cell=bad)  # type: ignore[arg-type]
            with pytest.raises(NationalPublishError, match="mellan 1 och 100"):
                publish_national(session, CHEF, instrument, year=2023, min_cell=bad)  # type: ignore[arg-type]
        session.commit()
    assert count_rows(app, "publication") == 0
    assert count_rows(app, "background_job") == 0


def test_every_whole_number_setting_has_one_declared_range_and_a_swedish_message():
    """The range is declared once, beside the setting; the start refuses a value outside
    it, or one that is no number, naming the setting and the range in Swedish."""
    whole = [name for name, field in Settings.model_fields.items() if field.annotation is int]
    assert len(whole) >= 15
    for name in whole:
        low, high = setting_range(name)
        assert getattr(read_settings({name: str(low)}), name) == low
        assert getattr(read_settings({name: f" {high} "}), name) == high
        for outside in (low - 1, high + 1):
            with pytest.raises(ConfigError, match=f"^{name} ska vara mellan {low} och {high} "):
                read_settings({name: str(outside)})
        with pytest.raises(ConfigError, match=f"^{name} ska vara ett heltal .nu 'tre'"):
            read_settings({name: "tre"})
    assert setting_range("MIN_CELL") == (1, 100)  # the admin page's range too


def test_on_off_settings_take_swedish_and_english_words_and_refuse_others():
    assert read_settings({"MAIL_TLS": "ja", "MAIL_STARTTLS": "nej"}).MAIL_TLS is True
    assert read_settings({"MAIL_STARTTLS": "1"}).MAIL_STARTTLS is True
    assert read_settings({"MAIL_STARTTLS": ""}).MAIL_STARTTLS is False
    with pytest.raises(ConfigError, match="^MAIL_STARTTLS ska vara 1 eller 0 .nu 'kanske'"):
        read_settings({"MAIL_STARTTLS": "kanske"})
    settings = read_settings({"SURVEYS_MODE": " National ", "UNRELATED": "x"})
    assert settings.SURVEYS_MODE == "national"  # an unrelated variable is not a setting
    with pytest.raises(ValidationError):  # read once: a setting is not changed afterwards
        settings.MIN_CELL = 3  # type: ignore[misc]


def test_sqlite_durability_is_a_setting_the_engine_uses(tmp_path):
    """SQLITE_SYNCHRONOUS is read once with the other settings (no longer from the
    environment at each connection) and refused at start when it is not a safe level."""
    with pytest.raises(
        ConfigError, match="^SQLITE_SYNCHRONOUS ska vara FULL, EXTRA eller NORMAL .nu 'OFF'"
    ):
        read_settings({"SQLITE_SYNCHRONOUS": "off"})
    assert read_settings({}).SQLITE_SYNCHRONOUS == "FULL"
    levels = {"NORMAL": 1, "FULL": 2, "EXTRA": 3}  # what PRAGMA synchronous answers
    for name, level in levels.items():
        (tmp_path / f"{name}.sqlite").touch()  # the engine opens a file, never makes one
        url = f"sqlite:///{tmp_path / f'{name}.sqlite'}"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "SQLITE_SYNCHRONOUS": name})
        with app.extensions["engine"].connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == level
        app.extensions["engine"].dispose()
    (tmp_path / "env.sqlite").touch()
    lowered = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'env.sqlite'}",
            "SECRET_KEY": SECRET,
            **read_settings({"SQLITE_SYNCHRONOUS": " normal "}).model_dump(
                include={"SQLITE_SYNCHRONOUS"}
            ),
        }
    )
    with lowered.extensions["engine"].connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    lowered.extensions["engine"].dispose()


def test_nns_public_key_is_a_setting_and_the_administrators_key_comes_first(app):
    from surveys.national.riket_file import NNS_PUBLIC_KEY, configured_key

    app.config["NNS_PUBLIC_KEY"] = " från-miljön "
    assert read_settings({"NNS_PUBLIC_KEY": " k "}).NNS_PUBLIC_KEY == "k"
    with app.app_context():
        session = db.session()
        assert configured_key(session) == "från-miljön"
        settings.put(session, NNS_PUBLIC_KEY, "administratörens")
        assert configured_key(session) == "administratörens"
        session.rollback()


def test_settings_given_to_create_app_are_checked_as_the_environment_is(database_url):
    """``create_app``'s overrides that are settings go through the same model (one range
    each); Flask's own keys (TESTING) are taken as they are."""
    for given, message in (
        ({"MIN_CELL": 0}, "MIN_CELL ska vara mellan 1 och 100 (nu 0)."),
        ({"KIOSK_IDLE_SECONDS": 5}, "KIOSK_IDLE_SECONDS ska vara mellan 30 och 3600 (nu 5)."),
        ({"SURVEYS_ENV": "prod"}, "SURVEYS_ENV ska vara development eller production (nu 'prod')."),
        ({"SURVEYS_MODE": "riket"}, "SURVEYS_MODE ska vara forbund eller national (nu 'riket')."),
    ):
        with pytest.raises(ConfigError) as refused:
            create_app({"DATABASE_URL": database_url, "SECRET_KEY": SECRET, **given})
        assert str(refused.value) == message
    config = load_config({"MIN_CELL": "7", "TESTING": True}, env={})
    assert (config["MIN_CELL"], config["TESTING"]) == (7, True)  # "7" read as a number
