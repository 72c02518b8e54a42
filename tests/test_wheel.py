"""The built wheel runs on its own: build it, install it into a fresh venv outside the
source tree, migrate a new SQLite database, load the instrument and serve a form with
gunicorn on loopback. Deselect while working with ``-m "not wheel"``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from indicators import Instrument
from surveys.services.catalogue import DEFAULT_FILE

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> str:
    """uv from the test venv (a dev dependency), else from PATH."""
    candidate = Path(sys.executable).with_name("uv")
    found = str(candidate) if candidate.exists() else shutil.which("uv")
    if not found:
        pytest.fail("uv saknas: kör `make test` (uv ingår i dev-gruppen)")
    return found


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """sdist, then the wheel built from that sdist (so the sdist must be complete too)."""
    out = tmp_path_factory.mktemp("dist")
    _run([_uv(), "build", "--quiet", "--out-dir", str(out), str(ROOT)], cwd=ROOT)
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with the wheel and the exact locked dependencies; runs outside ROOT."""
    home = tmp_path_factory.mktemp("wheelhome")
    uv = _uv()
    requirements = home / "requirements.txt"
    _run(
        [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-q",
         "--output-file", str(requirements)],
        cwd=ROOT,
    )  # fmt: skip
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(home / "venv")], cwd=home)
    python = home / "venv" / "bin" / "python"
    _run(
        [uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements),
         str(built)],
        cwd=home,
    )  # fmt: skip
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "DATABASE_URL", "FLASK_APP"}
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{home / 'ny.sqlite'}",
        "SURVEYS_INSTANCE": str(home / "instance"),
        "PUBLIC_URL": "http://127.0.0.1",
    }
    return home, env


def test_wheel_ships_templates_migrations_and_every_module_but_no_bench_or_tests(built):
    names = set(zipfile.ZipFile(built).namelist())
    for folder, target in (
        ("templates", "surveys/templates"),
        ("migrations", "surveys/migrations"),
    ):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert f"{target}/{path.relative_to(ROOT / folder)}" in names
    for package in ("surveys", "indicators"):  # modules and data files alike
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert path.relative_to(ROOT).as_posix() in names, "saknas i [tool.setuptools]"
    assert "surveys/instrument/nns.yaml" in names
    assert not {n.split("/")[0] for n in names} & {"bench", "tests", "templates", "migrations"}


def test_installed_wheel_migrates_loads_and_serves_a_form(installed):
    home, env = installed
    bin_ = home / "venv" / "bin"
    location = _run(
        [str(bin_ / "python"), "-c", "import surveys.paths as p; print(p.TEMPLATES, p.MIGRATIONS)"],
        cwd=home,
        env=env,
    )
    assert str(ROOT) not in location
    assert "site-packages/surveys/templates" in location

    assert "Databasen är uppdaterad." in _run(
        [str(bin_ / "surveys"), "db", "upgrade"], cwd=home, env=env
    )
    loaded = _run([str(bin_ / "surveys"), "instrument", "load"], cwd=home, env=env)
    assert "45 frågor" in loaded
    created = _run(
        [str(bin_ / "surveys"), "rounds", "create", "--questionnaire", "deltagare_avslut",
         "--year", "2026", "--insats", "Hjulet"],
        cwd=home,
        env=env,
    )  # fmt: skip
    code = created.strip().rsplit("/s/", 1)[1].split()[0]

    port = _free_port()
    log = home / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(bin_ / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "surveys:create_app()"],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            page = _get(f"http://127.0.0.1:{port}/s/{code}", server, log)
            css = _get(f"http://127.0.0.1:{port}/static/css/app.css", server, log)
        finally:
            server.terminate()
            server.wait(timeout=30)
    first = Instrument.load(DEFAULT_FILE).question("deltagare_avslut", 1)
    assert first is not None
    assert first.current.text in page  # the question from the packaged catalogue
    assert '<html lang="sv"' in page  # rendered from the packaged templates
    assert "{" in css
    assert "}" in css


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, server: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
                assert response.status == 200
                return response.read().decode("utf-8")
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn svarar inte på {url}:\n{log.read_text()}")
            time.sleep(0.3)
