"""Where the application's files are, from the source tree and from an installed wheel.

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
