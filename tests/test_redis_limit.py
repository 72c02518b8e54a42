"""Issue 18 point 5: the sign-in limit in a real Redis, shared by two gunicorn workers.

Debian's ``redis-server`` is started on a loopback port by the fixture (``make
browsers`` installs it, as it does Chromium). Without it the test is skipped with a
reason — except under CI=true, where it must run.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import IN_CI, form_token
from tests.servers import PID_METHOD_STATUS, TWO_WORKERS, free_port, gunicorn

KEY = "k7Qm2Zp9Xr4Lw8Nd3Vb6Hs1Tf5Jc0Gy-a"
WRONG = "Fel e-postadress eller lösenord."


def _wait_for(check, *, seconds: float, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001, S110 - not up yet
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            pytest.fail(f"{what} startade inte")
        time.sleep(0.1)


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        if IN_CI:
            pytest.fail("redis-server saknas i CI: make browsers installerar det")
        pytest.skip("redis-server saknas (installera: apt-get install redis-server)")
    import redis

    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    _wait_for(client.ping, seconds=20, what="redis-server", process=process)
    yield url, client
    client.close()
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def two_workers(database_url, tmp_path, redis_url):
    url, _ = redis_url
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": KEY,
        "TRUSTED_PROXIES": "1",
        "RATELIMIT_STORAGE_URI": url,
        # an hour's window: the delay after the limit is a minute, longer than the burst
        "SIGNIN_WINDOW_SECONDS": "3600",
        "SIGNIN_LIMIT_ACCOUNT": "10",
        "GUNICORN_PRELOAD": "0",  # two separately started workers (see test_security.py)
    }
    args = (*TWO_WORKERS, "--access-logformat", PID_METHOD_STATUS)
    with gunicorn(tmp_path, env, *args, workers=2) as (base, access_log, _):
        yield base, access_log


def test_two_workers_share_the_limit_in_redis(two_workers, redis_url, make_user, app):
    import requests

    base, access_log = two_workers
    _, redis_client = redis_url
    email = make_user("administratör")

    def attempt(address: str, password: str) -> tuple[int, str]:
        with requests.Session() as browser:  # a new connection: either worker may answer
            headers = {"X-Forwarded-For": address, "Connection": "close"}
            page = browser.get(base + "/logga-in", headers=headers, timeout=60)
            response = browser.post(
                base + "/logga-in",
                data={"csrf_token": form_token(page.text), "email": email, "password": password},
                headers=headers,
                allow_redirects=False,
                timeout=60,
            )
            return response.status_code, response.text

    # 30 wrong passwords at once from 30 addresses (the per-address limit stays out of it)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda i: attempt(f"198.51.100.{i + 1}", f"fel-{i}-losenord"), range(30))
        )
    checked = [status for status, text in results if WRONG in text]
    refused = [status for status, text in results if "Försök igen om" in text]
    assert len(checked) == 10, [s for s, _ in results]  # exactly the limit, over two workers
    assert set(checked) == {200}
    assert len(refused) == 20
    assert set(refused) == {429}
    # both workers answered, and the counts are in Redis, not in a worker or the database
    deadline = time.monotonic() + 10  # a worker writes its line after answering
    while True:
        posts = [line for line in access_log.read_text().splitlines() if " POST " in line]
        if len(posts) >= 30 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len({line.split()[0] for line in posts}) == 2, posts
    assert any(b"signin" in key for key in redis_client.keys("*"))
    from tests.conftest import count_rows

    assert count_rows(app, "signin_failure") == 0
    # the owner waits the delay (a minute), is not locked for the hour
    status, text = attempt("203.0.113.9", "ett-langt-losenord")
    assert status == 429
    assert "Försök igen om" in text


def test_tablet_reports_are_counted_in_redis_under_hmac_keys(app, redis_url, make_round):
    """Redis holds the tablets' counts, shared by every worker, keyed by HMACs only."""
    url, redis_client = redis_url
    app.config.update(RATELIMIT_STORAGE_URI=url, TABLET_REPORTS_PER_MINUTE=2)
    kiosk = make_round("deltagare_avslut", mode="kiosk")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.77"
    token = form_token(client.get(f"/k/{kiosk.code}").text)
    data = {"waiting": "1", "reported": "0", "token": token}
    statuses = [client.post(f"/k/{kiosk.code}/ko", data=data).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    keys = b" ".join(redis_client.keys("*"))
    assert b"LIMITER/tablet/ko/" in keys
    for clear in ("192.0.2.77", kiosk.id, kiosk.code):
        assert clear.encode() not in keys
