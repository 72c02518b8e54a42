"""Issue 18 point 7: flash messages are bounded; no response sets a cookie over 4 kB.

An import whose bad cells held long text used to put every cell into flash messages:
the session cookie grew to 1.9 MB (browsers drop cookies over 4 kB, so the messages
were lost too).
"""

from __future__ import annotations

import io

import pytest

from surveys.security import MAX_FLASH_CHARS, MAX_FLASHES
from tests.conftest import count_rows, form_token

# The PostgreSQL pass leaves these out (see conftest): the size of the session cookie.
pytestmark = pytest.mark.one_database

COOKIE_LIMIT = 4096
HEADER = "year,questionnaire,question,subgroup,n,negative,neutral,positive,clearly_positive,"
HEADER += "response_rate"


def _cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_an_import_with_many_long_bad_cells_keeps_the_cookie_small(app, admin_client):
    long = "x" * 20_000  # under 500 kB: the test client keeps it in memory
    lines = [HEADER] + [
        f"{long},Deltagare avslut,1,Samtliga,{long},4,6,90,70,95" for _ in range(10)
    ]
    data = "\n".join(lines).encode()
    assert len(data) > 300_000
    page = admin_client.get("/admin/importer")
    response = admin_client.post(
        "/admin/importer/historik",
        data={"csrf_token": form_token(page.text), "file": (io.BytesIO(data), "lang.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    cookies = _cookies(response)
    assert cookies, "the messages travel in the session cookie"
    for cookie in cookies:
        assert len(cookie) <= COOKIE_LIMIT, len(cookie)
    shown = admin_client.get(response.headers["Location"])
    for cookie in _cookies(shown):
        assert len(cookie) <= COOKIE_LIMIT, len(cookie)
    messages = shown.text.count('class="flash flash-error"')
    assert messages == MAX_FLASHES
    assert "Rad 2, kolumn year:" in shown.text  # the first errors, cut short
    assert "x" * MAX_FLASH_CHARS not in shown.text
    assert "meddelanden till." in shown.text
    assert "Ingenting har importerats." in shown.text  # the outcome is always kept
    assert count_rows(app, "history_figure") == 0


def test_short_messages_are_left_as_they_are(app, admin_client):
    bad = f"{HEADER}\n2019,Deltagare avslut,1,Samtliga,abc,4,6,90,70,95\n".encode()
    page = admin_client.get("/admin/importer")
    shown = admin_client.post(
        "/admin/importer/historik",
        data={"csrf_token": form_token(page.text), "file": (io.BytesIO(bad), "kort.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Rad 2, kolumn n: &#39;abc&#39; är inget antal." in shown.text
    assert "meddelanden till" not in shown.text
    assert "Ingenting har importerats." in shown.text
