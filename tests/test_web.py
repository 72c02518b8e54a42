"""Compression, long-lived caching of versioned static files and the favicon (surveys/web.py)."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest

from tests.factories import import_seed

STATIC = Path(__file__).resolve().parent.parent / "surveys" / "static"
GZIP = {"Accept-Encoding": "gzip, deflate, br"}
ASSET = re.compile(r'(?:href|src)="(/static/[^"?]+)\?v=([0-9a-f]{12})"')


def _gunzip(response) -> bytes:
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert int(response.headers["Content-Length"]) == len(response.data)
    return gzip.decompress(response.data)


def test_questionnaire_html_is_gzipped_only_for_clients_that_accept_it(client, make_round):
    code = make_round().code
    zipped = client.get(f"/s/{code}", headers=GZIP)
    html = _gunzip(zipped).decode()
    assert html.startswith("<!doctype html>")
    assert 'name="csrf_token"' in html
    assert len(zipped.data) < len(html.encode()) / 3  # 12 kB of repetitive HTML

    plain = client.get(f"/s/{code}")
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]  # caches must keep both apart
    assert plain.text.startswith("<!doctype html>")
    refused = client.get(f"/s/{code}", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_small_responses_are_not_compressed(client, make_round):
    from tests.conftest import form_token

    code = make_round().code
    page = client.get(f"/s/{code}")
    fields = {f"q{n}": "4" for n in range(1, 8)}
    fields.update(csrf_token=form_token(page.text), gender="man", q8="2", conditional_shown="1")
    redirect = client.post(f"/s/{code}", data=fields, headers=GZIP)
    assert redirect.status_code == 303
    assert len(redirect.data) < 500
    assert "Content-Encoding" not in redirect.headers


def test_static_urls_carry_a_content_hash_and_are_cached_for_a_year(client, make_round):
    html = client.get(f"/s/{make_round().code}").text
    assets = dict(ASSET.findall(html))
    assert set(assets) == {"/static/css/app.css", "/static/js/questionnaire.js"}
    for path, version in assets.items():
        content = (STATIC / path.removeprefix("/static/")).read_bytes()
        assert version == hashlib.sha256(content).hexdigest()[:12]
        response = client.get(f"{path}?v={version}", headers=GZIP)
        assert response.status_code == 200
        cache = response.headers["Cache-Control"]
        assert "public" in cache
        assert "max-age=31536000" in cache
        assert "immutable" in cache
        assert "no-cache" not in cache
        assert "no-store" not in cache
        assert _gunzip(response) == content  # byte for byte the file
        assert response.headers["ETag"].endswith('-gzip"')

        # Without the (current) hash nothing is promised for a year.
        for url in (path, f"{path}?v=000000000000"):
            with client.get(url) as stale:  # a file response: close it
                assert "immutable" not in stale.headers.get("Cache-Control", "")
                assert stale.data == content


def test_favicon_is_a_small_cacheable_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/x-icon"
    icon = response.data
    assert icon[:4] == b"\x00\x00\x01\x00"
    assert int.from_bytes(icon[4:6], "little") == 1
    assert icon[6] == 32
    assert icon[7] == 32
    assert icon[22:30] == b"\x89PNG\r\n\x1a\n"  # the image is a PNG inside the ICO
    assert len(icon) < 1024
    cache = response.headers["Cache-Control"]
    assert "public" in cache
    assert "max-age=604800" in cache
    assert "no-store" not in cache


@pytest.mark.parametrize(
    ("url", "mimetype", "expected"),
    [
        ("/rapport/2023", "text/html", b"Indikatorerna 2023"),
        ("/rapport/2023/rapport.csv", "text/csv", b"year,indicator,questionnaire"),
        ("/rapport/2023/diagram/1-ar.svg", "image/svg+xml", b"<svg"),
    ],
)
def test_report_html_csv_and_svg_are_gzipped(
    admin_client, runner, tmp_path, url, mimetype, expected
):
    import_seed(runner, tmp_path)
    zipped = admin_client.get(url, headers=GZIP)
    assert zipped.status_code == 200
    assert zipped.mimetype == mimetype
    body = _gunzip(zipped)
    assert expected in body
    plain = admin_client.get(url)
    assert "Content-Encoding" not in plain.headers
    if mimetype != "text/html":  # the page holds a fresh CSRF token each time
        assert body == plain.data
    assert len(zipped.data) < len(body)
