"""Issue 18 point 5: production checks that cannot be walked around.

- RATELIMIT_STORAGE_URI=memory:// is refused in any spelling (per-process counts);
  only the database or Redis are accepted, and Redis needs its client (extra "redis").
- SECRET_KEY: at least 32 characters, at least 8 different ones, no character in
  more than a third of it, not a repeated pattern, no placeholder word.
- PUBLIC_URL: https with a host.
"""

from __future__ import annotations

import secrets
import sys

import pytest

from surveys.config import ConfigError
from tests.conftest import production_config


@pytest.mark.parametrize(
    "uri", ["memory://", "MEMORY://", "Memory://", "  memory://  ", "memory", "async+memory://"]
)
def test_memory_storage_is_refused_in_any_spelling(uri):
    with pytest.raises(ConfigError, match="räknar inloggningsförsök per process"):
        production_config(RATELIMIT_STORAGE_URI=uri)


@pytest.mark.parametrize("uri", ["memcached://127.0.0.1:11211", "mongodb://x/y", "redis"])
def test_other_storages_are_refused_with_the_supported_ones_named(uri):
    with pytest.raises(ConfigError, match="stöds inte.*redis://"):
        production_config(RATELIMIT_STORAGE_URI=uri)


@pytest.mark.parametrize("uri", ["", "redis://127.0.0.1:6379/0", "REDIS://cache.lan:6379"])
def test_the_database_and_redis_are_accepted(uri):
    assert production_config(RATELIMIT_STORAGE_URI=uri)["RATELIMIT_STORAGE_URI"] == uri


def test_redis_without_its_client_is_a_swedish_message_not_a_traceback(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)  # as if the extra were not installed
    for env in ("production", "development"):
        with pytest.raises(ConfigError, match="Redis-klienten saknas.*--extra redis"):
            production_config(SURVEYS_ENV=env, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379")


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("a" * 32, "för få olika tecken"),
        ("a" * 64, "för få olika tecken"),
        ("change-me" * 4, "platshållare"),
        ("change-mechange-mechange-mechange-me", "platshållare"),
        ("Mitt-Hemliga-Secret-2026-forbundet!", "platshållare"),
        ("abcdefghijklmnop" * 2, "upprepat mönster"),
        ("0123456789abcdef" * 4, "upprepat mönster"),
        ("x" * 20 + "0123456789abcdef", "ett och samma tecken"),
        ("x1y2z3" * 6, "för få olika tecken"),
        ("k7Qm2Zp9Xr4Lw8Nd3Vb6Hs1Tf5Jc0G", "för kort"),
    ],
)
def test_secrets_with_too_little_variety_are_refused(secret, message):
    with pytest.raises(ConfigError, match=message):
        production_config(SECRET_KEY=secret)


def test_one_character_may_fill_half_of_the_key_not_more():
    """The share rule's bound: a third refused one random 32-digit hex key in 30,000
    (11 of one digit), so this test's 200 random keys failed about one run in 150."""
    rest = "0123456789abcdef"
    assert production_config(SECRET_KEY="x" * 16 + rest)["SECRET_KEY"] == "x" * 16 + rest
    with pytest.raises(ConfigError, match="ett och samma tecken"):
        production_config(SECRET_KEY="x" * 17 + rest)


def test_real_random_keys_are_accepted():
    for _ in range(200):
        for key in (secrets.token_hex(32), secrets.token_urlsafe(32), secrets.token_hex(16)):
            assert production_config(SECRET_KEY=key)["SECRET_KEY"] == key


@pytest.mark.parametrize(
    "url",
    [
        "https://",
        "http://enkat.example.se",
        "https:///enkat",
        "https://user:losen@enkat.example.se",
        "https://enkat.example.se/?a=1",
        "enkat.example.se",
        "ftp://enkat.example.se",
        "https://[::1",
    ],
)
def test_public_url_must_be_https_with_a_host(url):
    with pytest.raises(ConfigError, match="PUBLIC_URL saknas eller är ingen https-adress"):
        production_config(PUBLIC_URL=url)


@pytest.mark.parametrize(
    "url", ["https://enkat.example.se", "HTTPS://Enkat.Example.se", "https://x.se/enkat"]
)
def test_public_url_with_https_and_a_host_is_accepted(url):
    assert production_config(PUBLIC_URL=url)["PUBLIC_URL"] == url
