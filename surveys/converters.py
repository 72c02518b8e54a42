"""URL converters: every route parameter is checked by type and range before a view sees it.

A parameter that does not fit makes the URL not match (the Swedish 404 page), so no
input reaches Python arithmetic or the database as an overflow (``/rapport/9999…9``
used to raise ``OverflowError`` in the database driver):

- ``<year:…>``   a four-digit year, 2000–2100 (reports, charts, publishing, comments);
- ``<int:…>``    a whole number 0–999,999 (Werkzeug's own accepts any length);
- ``<…>``        text (ids, tokens, codes): 1–128 characters without ``/``.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter, IntegerConverter, UnicodeConverter, ValidationError

FIRST_YEAR = 2000
LAST_YEAR = 2100
MAX_NUMBER = 999_999
MAX_TEXT = 128  # ids are 32 hex digits, links' tokens at most 32 characters


class YearConverter(BaseConverter):
    """A year a förbund can report on: exactly four digits, 2000–2100."""

    regex = r"[0-9]{4}"  # not \d: it also matches e.g. full-width digits

    def to_python(self, value: str) -> int:
        year = int(value)
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValidationError()
        return year

    def to_url(self, value: object) -> str:
        return str(int(value))  # type: ignore[call-overload]


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` with an upper bound (at most six digits: never an overflow)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - Werkzeug's name
        kwargs.setdefault("max", MAX_NUMBER)
        super().__init__(map, *args, **kwargs)
        self.regex = r"[0-9]{1,6}"


class BoundedTextConverter(UnicodeConverter):
    """The default converter with a length limit (ids and tokens are short)."""

    def __init__(self, map, minlength: int = 1, maxlength: int = MAX_TEXT, length=None) -> None:  # noqa: A002
        super().__init__(map, minlength=minlength, maxlength=maxlength, length=length)


def init_app(app: Flask) -> None:
    """Register the converters (before any blueprint adds its rules)."""
    app.url_map.converters["year"] = YearConverter
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["default"] = BoundedTextConverter
    app.url_map.converters["string"] = BoundedTextConverter
