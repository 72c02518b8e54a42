"""Where the application's files are, from the source tree and from an installed wheel;
and what a path a person gives the service to read must be.

The repository keeps ``templates/`` and ``migrations/`` at its root (DESIGN.md layout);
the wheel carries them inside the package as ``surveys/templates`` and
``surveys/migrations`` (see ``[tool.setuptools.package-dir]`` in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE.parent


def _data_dir(name: str) -> Path:
    """The packaged copy when installed from a wheel, else the repository's top-level folder."""
    packaged = PACKAGE / name
    return packaged if packaged.is_dir() else SOURCE_ROOT / name


TEMPLATES = _data_dir("templates")
MIGRATIONS = _data_dir("migrations")
STATIC = PACKAGE / "static"
INSTRUMENT_FILE = PACKAGE / "instrument" / "nns.yaml"


def not_a_file_to_read(path: Path, asked_for: str) -> str | None:
    """Why ``path`` cannot be read as a file, in Swedish (``asked_for``: what to give
    instead, e.g. "ljudfilen"), or None when it is a regular file. A device such as
    /dev/zero or a named pipe would be read for ever: only a regular file is read."""
    if path.is_dir():
        return f"{path} är en mapp. Ange {asked_for}."
    if path.exists() and not path.is_file():
        return f"{path} är ingen vanlig fil (en enhet eller ett rör). Ange {asked_for}."
    if not path.is_file():
        return f"Filen {path} finns inte."
    return None
