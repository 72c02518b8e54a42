"""The ``surveys`` console script, run many times without paying its start each time.

Starting the console costs 2.5–3.5 s here, nearly all of it importing the application
(pandas, SQLAlchemy, Altair, openpyxl, Alembic); ``tests/test_cli.py`` starts it about
fifty times, on SQLite and again on PostgreSQL. So a helper process imports
``surveys.console`` once (per pytest worker) and forks a child for every run. The child
is a process of its own: it gets the run's arguments, environment, current folder,
standard input, output and error, calls the same ``main()`` as the installed script
(``.venv/bin/surveys``: ``sys.exit(main())``), and ends with its exit code. A run sees
nothing of an earlier one: each is a fresh fork of a process that imported the modules
and did nothing else (no application made, no database opened, no thread started).

``test_console_script_is_installed_and_speaks_swedish`` and ``tests/test_wheel.py`` still
start the installed script itself, interpreter and imports included.

``run(args, env=..., ...)`` answers like ``subprocess.run(..., text=True)``: a
``CompletedProcess`` with ``returncode``, ``stdout`` and ``stderr`` (text unless a
file was given for standard output), and ``subprocess.TimeoutExpired`` after ``timeout``.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import pkgutil
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
# The environment the helper itself starts with: as the tests start the script.
_HELPER_ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}

_helper: subprocess.Popen | None = None


def run(
    args: list[str],
    *,
    env: dict[str, str],
    cwd: Path | str | None = None,
    stdout: IO | int = subprocess.PIPE,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """``surveys *args`` in a forked child with exactly ``env`` as its environment."""
    with tempfile.TemporaryDirectory(prefix="console-") as folder:
        out = Path(folder) / "stdout"
        err = Path(folder) / "stderr"
        target = str(out) if stdout == subprocess.PIPE else _path_of(stdout)
        request = {
            "argv": [str(Path(sys.executable).with_name("surveys")), *args],
            "env": env,
            "cwd": str(cwd or os.getcwd()),
            "stdout": target,
            "stderr": str(err),
        }
        code = _ask(request, timeout, args)
        return subprocess.CompletedProcess(
            args,
            code,
            out.read_text(encoding="utf-8") if stdout == subprocess.PIPE else None,
            err.read_text(encoding="utf-8"),
        )


def _path_of(stream: IO | int) -> str:
    """A file given as standard output, by a path the child can open (``/dev/full``)."""
    name = getattr(stream, "name", None)
    if not isinstance(name, str):
        raise TypeError("standard output: PIPE or an open file with a name")
    stream.flush()  # type: ignore[union-attr]
    return name


def _ask(request: dict, timeout: float, args: list[str]) -> int:
    helper = _started()
    assert helper.stdin is not None
    helper.stdin.write(json.dumps(request).encode() + b"\n")
    helper.stdin.flush()
    pid = json.loads(_line(helper, 10))["pid"]
    try:
        return json.loads(_line(helper, timeout))["code"]
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        _line(helper, 10)  # the helper reaps the child and says so
        raise subprocess.TimeoutExpired(args, timeout) from None


def _line(helper: subprocess.Popen, timeout: float) -> bytes:
    """One line from the helper, or TimeoutError (the helper answers with whole lines)."""
    assert helper.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([helper.stdout], [], [], left)[0]:
            raise TimeoutError
        line = helper.stdout.readline()
        if not line:
            raise RuntimeError(f"konsolens hjälpprocess har slutat ({helper.poll()})")
        return line


def _started() -> subprocess.Popen:
    global _helper
    if _helper is None or _helper.poll() is not None:
        _helper = subprocess.Popen(
            [sys.executable, "-m", "tests.console"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=_HELPER_ENV,
            bufsize=0,
        )
        atexit.register(_stop, _helper)
    return _helper


def _stop(helper: subprocess.Popen) -> None:
    if helper.poll() is None:
        helper.kill()
        helper.wait()


# --- the helper process ----------------------------------------------------------


def serve() -> None:
    """Import the console once, then fork a child per request read from standard input."""
    from surveys.console import main  # the point of this process: imported once

    _import_the_application()

    # Python set LC_CTYPE when it found the C locale at start (PEP 538); so does the
    # installed script's interpreter, for whatever the command starts in turn.
    coerced = os.environ.get("LC_CTYPE")

    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become_the_run(request, coerced)
            # As the installed script: what main() raises ends this process as the
            # interpreter ends any (atexit, threads joined, output flushed, a traceback
            # for an error); nothing of the loop around runs again in the child.
            sys.exit(main())
        answers.write(json.dumps({"pid": pid}).encode() + b"\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        answers.flush()


def _import_the_application() -> None:
    """Every module of the service, as a command would import it (``create_app`` imports
    the blueprints, commands their libraries): imported here, once, not in every run.
    ``surveys.__main__`` is the only one left out: importing it runs the console."""
    import surveys

    for module in pkgutil.walk_packages(surveys.__path__, "surveys."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


def _become_the_run(request: dict, coerced: str | None) -> None:
    """The child's arguments, environment, folder and standard streams."""
    os.setsid()  # a session of its own: no terminal, as under subprocess.run
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as importing surveys sets it
    if coerced and not {"LC_ALL", "LC_CTYPE", "LANG"} & set(request["env"]):
        os.environ["LC_CTYPE"] = coerced
    _redirect(0, "/dev/null", os.O_RDONLY)  # also closes the helper's request pipe here
    _redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    _redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    sys.argv = request["argv"]


def _redirect(fd: int, path: str, flags: int) -> None:
    opened = os.open(path, flags, 0o600)
    os.dup2(opened, fd)
    os.close(opened)


if __name__ == "__main__":
    serve()
