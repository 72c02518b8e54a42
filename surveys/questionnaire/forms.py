"""Parsing and signing the respondent form (no session: the form carries its own token).

The form token is signed with SECRET_KEY and binds the form to its round; it
doubles as CSRF token and carries the idempotency key of this rendered form.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

from surveys.services.validation import InvalidSubmission

_QUESTION_FIELD = re.compile(r"^q([1-9][0-9]?)$")
_CONTROL_FIELDS = {"csrf_token", "gender", "conditional_shown", "step"}
MAX_VALUE_LENGTH = 20


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="questionnaire-form")


def new_form_token(round_id: str) -> str:
    return _serializer().dumps({"r": round_id, "k": secrets.token_urlsafe(16)})


def read_form_token(token: str | None, round_id: str) -> str | None:
    """The idempotency key of a valid token for this round, else None."""
    if not token or len(token) > 300:
        return None
    try:
        data = _serializer().loads(token, max_age=current_app.config["FORM_TOKEN_MAX_AGE"])
    except BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or data.get("r") != round_id
        or not isinstance(data.get("k"), str)
    ):
        return None
    return data["k"]


@dataclass
class PostedForm:
    answers: dict[int, str]
    gender: str
    conditional_shown: bool


def parse_posted(form: MultiDict) -> PostedForm:
    """Split the POSTed fields; unknown or repeated fields are tampering."""
    errors: list[tuple[str | None, str]] = []
    answers: dict[int, str] = {}
    for name in form:
        values = form.getlist(name)
        if len(values) != 1:
            errors.append((name, "Ett fält skickades flera gånger."))
            continue
        if len(values[0]) > MAX_VALUE_LENGTH and name != "csrf_token":
            errors.append((name, "Ett fält innehöll för mycket."))
            continue
        match = _QUESTION_FIELD.match(name)
        if match:
            answers[int(match.group(1))] = values[0]
        elif name not in _CONTROL_FIELDS:
            errors.append((None, "Formuläret innehöll ett okänt fält."))
    if errors:
        raise InvalidSubmission(errors)
    return PostedForm(
        answers=answers,
        gender=form.get("gender", ""),
        conditional_shown=form.get("conditional_shown") == "1",
    )
