"""Security headers on every response, production refuses placeholder secrets, sign-in."""

from __future__ import annotations

import pytest

from surveys import create_app
from surveys.config import ConfigError
from tests.conftest import login


@pytest.fixture
def some_responses(client, make_round):
    r = make_round("styrelse", insats=None)
    responses = [
        client.get(f"/s/{r.code}"),
        client.get("/logga-in"),
        client.get("/finns-inte"),
        client.get("/static/css/app.css"),
    ]
    yield responses
    for response in responses:
        response.close()


def test_content_security_policy_without_inline_scripts(some_responses):
    for response in some_responses:
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp


def test_nosniff(some_responses):
    assert all(r.headers["X-Content-Type-Options"] == "nosniff" for r in some_responses)


def test_no_referrer(some_responses):
    assert all(r.headers["Referrer-Policy"] == "no-referrer" for r in some_responses)


def test_framing_forbidden(some_responses):
    assert all(r.headers["X-Frame-Options"] == "DENY" for r in some_responses)


def test_hsts_only_in_production(some_responses, database_url):
    assert all("Strict-Transport-Security" not in r.headers for r in some_responses)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SURVEYS_ENV": "production",
            "SECRET_KEY": "x" * 40,
            "PUBLIC_URL": "https://enkat.example.se",
        }
    )
    response = app.test_client().get("/logga-in")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["engine"].dispose()


@pytest.mark.parametrize("secret", ["", "utveckling", "change-me", "kort"])
def test_production_refuses_placeholder_secret(secret, database_url):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(
            {"DATABASE_URL": database_url, "SURVEYS_ENV": "production", "SECRET_KEY": secret}
        )


def test_templates_load_nothing_from_the_internet():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for path in list((root / "templates").rglob("*.html")) + list(
        (root / "surveys" / "static").rglob("*.*")
    ):
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path


def test_wrong_password_gets_the_same_message_whether_or_not_the_account_exists(client, make_user):
    email = make_user("läsare")
    wrong = login(client, email, "fel-losenord-123")
    unknown = login(client, "finns-inte@example.invalid", "fel-losenord-123")
    assert wrong.status_code == unknown.status_code == 200
    assert "Fel e-postadress eller lösenord." in wrong.text
    assert "Fel e-postadress eller lösenord." in unknown.text


def test_sign_in_is_throttled_per_account(client, make_user):
    email = make_user("läsare")
    statuses = [login(client, email, f"fel-{i}-losenord").status_code for i in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[-1] == 429
    page = login(client, email, "fel-igen-losenord")
    assert "För många" in page.text


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    response = login(client, make_user("läsare"))
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_staff_form_without_csrf_is_refused(client, make_user):
    login(client, make_user("administratör"))
    response = client.post("/admin/insatser", data={"name": "Utan nyckel"})
    assert response.status_code == 400 and "säkerhetsnyckel" in response.text
