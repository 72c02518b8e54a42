"""What an administrator or staff member types in the pages' forms: numbers, names and
long values refused in Swedish with nothing changed (found by a review that typed
them), never a 500 or WTForms' English."""

from __future__ import annotations

import pytest

from tests.conftest import count_rows, csrf, scalar

ENGLISH = ("Field cannot", "Not a valid", "This field", "characters.")


def _post(admin_client, path: str, data: dict) -> str:
    response = admin_client.post(
        path, data={"csrf_token": csrf(admin_client), **data}, follow_redirects=True
    )
    assert response.status_code in (200, 400, 404), response.status_code
    for english in ENGLISH:
        assert english not in response.text
    return response.text


@pytest.mark.parametrize(
    "typed",
    ["9" * 400, "9" * 30, "٧", "５", "²", "7.0", " "],
    ids=[
        "309-digits",
        "30-digits",
        "arabic-indic",
        "full-width",
        "superscript",
        "decimal",
        "blank",
    ],
)
def test_a_threshold_that_is_not_digits_0_to_9_is_refused_in_swedish(app, admin_client, typed):
    """400 digits overflowed WTForms' range check (a 500); other scripts' digits were
    taken as the number (Python's int reads "٧" as 7)."""
    page = _post(admin_client, "/admin/grans", {"min_cell": typed})
    assert "Gränsen ska vara ett heltal mellan 1 och 100." in page or "Ange gränsen." in page
    assert count_rows(app, "setting") == 0


def test_a_rounds_expected_count_of_400_digits_is_a_message_not_a_500(
    app, admin_client, make_round
):
    make_round("personal", insats="Steget")
    rounds = count_rows(app, "round")
    page = _post(
        admin_client,
        "/personal/omgang/ny",
        {"questionnaire": "personal", "year": "2026", "mode": "open_link", "expected": "9" * 400},
    )
    assert "Förväntat antal svarande ska vara ett heltal." in page
    assert count_rows(app, "round") == rounds


@pytest.mark.parametrize(
    "name",
    ["Förbundet\r\nBcc: x@example.invalid", "\u202eFörbundet", "Förbundet\x07\x1b[2J", "F" * 201],
    ids=["line-break", "bidi-override", "control", "too-long"],
)
def test_the_forbunds_name_is_held_to_the_names_rules(app, admin_client, name):
    """A line break reached every mail's subject (the send then failed with a 500 after
    the links were made); overrides and control characters reached the report."""
    page = _post(admin_client, "/admin/forbund", {"forbund_name": name})
    assert "Förbundets namn" in page
    assert count_rows(app, "setting") == 0
    assert scalar(app, "SELECT COUNT(*) FROM audit_entry WHERE action = 'förbund.namn'") == 0


def test_long_values_in_the_user_and_sign_in_forms_are_refused_in_swedish(app, admin_client):
    users = count_rows(app, "app_user")
    page = _post(
        admin_client,
        "/admin/anvandare",
        {"email": "a" * 300 + "@example.invalid", "password": "p" * 201, "role": "läsare"},
    )
    assert "Högst 254 tecken." in page
    assert "Högst 200 tecken." in page
    assert count_rows(app, "app_user") == users
    admin_client.post("/logga-ut", data={"csrf_token": csrf(admin_client)})
    signed_in = _post(admin_client, "/logga-in", {"email": "a" * 300, "password": "x"})
    assert "Högst 254 tecken." in signed_in


def test_a_mails_subject_is_one_line_whatever_a_stored_name_holds():
    """A name stored before names were checked still never breaks the subject header."""
    from surveys.services.mail import Letter

    letter = Letter(
        forbund="Förbundet\r\nBcc: x@example.invalid", questionnaire="Personal", intervention=None
    )
    assert letter.subject == "Förbundet Bcc: x@example.invalid: enkät – Personal"
