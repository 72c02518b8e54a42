"""Parsing and signing the respondent form (no session: the form carries its own token).

The form token is signed with SECRET_KEY and binds the form to its round; it
doubles as CSRF token and carries the idempotency key of this rendered form.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from itsdangerous import (
    BadSignature,
    Serializer,
    Signer,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode
from werkzeug.datastructures import MultiDict

from surveys import clock
from surveys.services.validation import InvalidSubmission

_QUESTION_FIELD = re.compile(r"^q([1-9][0-9]?)$")
_CONTROL_FIELDS = {
    "csrf_token",
    "gender",
    "conditional_shown",
    "step",
    "confirm_empty",
    "device_key",
    "sprak",  # the page's language (questionnaire/language.py): counted apart, never stored
}
_DEVICE_KEY = re.compile(r"^[0-9a-f]{16}$")
MAX_VALUE_LENGTH = 20


class ClockSigner(TimestampSigner):
    """itsdangerous's timestamp signer, telling the time by the service's clock
    (surveys/clock.py): a form's age is measured by one clock that tests can move.

    The HMAC key derived from the secret and salt is the same for every token, so it is
    derived once per signer (itsdangerous derives it again for each token); the tokens
    are byte for byte the same."""

    def get_timestamp(self) -> int:
        return int(clock.utcnow().timestamp())

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        derived: dict[str | bytes | None, bytes] = self.__dict__.setdefault("_derived", {})
        found = derived.get(secret_key)
        if found is None:
            found = derived[secret_key] = super().derive_key(secret_key)
        return found


class _FormSerializer(URLSafeTimedSerializer):
    """The form token's serializer, with one signer for every token (itsdangerous makes
    a new one per token; a signer keeps nothing of the tokens it signs or checks)."""

    default_signer = ClockSigner

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is not None and salt != self.salt:
            return super().make_signer(salt)
        signer: Signer | None = self.__dict__.get("_signer")
        if signer is None:
            signer = self.__dict__["_signer"] = super().make_signer(salt)
        return signer

    def dump_payload(self, obj: object) -> bytes:
        """The token's compact JSON in URL-safe base64, never zlib-compressed.

        itsdangerous compresses when that saves a byte; for a form token's 70 bytes
        zlib's set-up alone costs more CPU than the rest of a form GET's own work.
        Tokens of forms rendered before (compressed: a leading dot) are still read:
        ``load_payload`` tells the two apart."""
        return base64_encode(Serializer.dump_payload(self, obj))


def _serializer() -> URLSafeTimedSerializer:
    """The app's token serializer, made once per secret key (every form GET signs one)."""
    secret = current_app.config["SECRET_KEY"]
    cached = current_app.extensions.get("form_serializer")
    if cached is None or cached[0] != secret:
        cached = (secret, _FormSerializer(secret, salt="questionnaire-form"))
        current_app.extensions["form_serializer"] = cached
    return cached[1]


def new_form_token(round_id: str, *, kiosk: bool = False) -> str:
    """A signed token for a form of the round; ``kiosk`` marks a form shown in kiosk mode
    (only such a form's token is believed when a tablet reports its queue)."""
    data: dict[str, object] = {"r": round_id, "k": secrets.token_urlsafe(16)}
    if kiosk:
        data["q"] = 1
    return _serializer().dumps(data)


def renew_form_token(old: FormToken, round_id: str) -> str:
    """A fresh token for an old form that keeps its rendering time (for the grace period).

    Its key is derived from the old one, so however often the same old form is sent
    again (two tabs, a retried queue), it gets the same new key and is stored once.
    """
    data: dict[str, object] = {
        "r": round_id,
        "k": _renewed_key(old.key),
        "t": int(old.rendered_at.timestamp()),
    }
    if old.kiosk:
        data["q"] = 1
    return _serializer().dumps(data)


def _renewed_key(key: str) -> str:
    digest = hashlib.sha256(f"renew:{key}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


@dataclass
class FormToken:
    """A valid form token: the idempotency key of this rendered form and when it was rendered."""

    key: str
    rendered_at: datetime  # when the form was first rendered (the grace period counts from it)
    signed_at: datetime  # when this token was made (its age decides "show again")
    kiosk: bool = False  # signed for a form shown in kiosk mode (a tablet's queue reports)

    def age_seconds(self) -> float:
        """Seconds since this token was signed, by the service's clock (as the signer's)."""
        return (clock.utcnow() - self.signed_at).total_seconds()

    def idempotency_key(self, device_key: str = "") -> str:
        """The form's key; with the random key a kiosk page adds per page view, if any.

        A form shown offline from the service worker's copy shares its token with
        every other copy, so token key and device key together identify one form.
        """
        return f"{self.key}.{device_key}" if device_key else self.key

    def renewed_idempotency_key(self, device_key: str = "") -> str:
        """The key this form got when it was shown again with a fresh token."""
        key = _renewed_key(self.key)
        return f"{key}.{device_key}" if device_key else key


def read_form_token(token: str | None, round_id: str) -> FormToken | None:
    """The key and rendering time of an authentic token for this round, else None.

    The token's age is not checked here: an old form is never discarded (the caller
    decides whether it is stored or re-shown with a fresh key).
    """
    if not token or len(token) > 300:
        return None
    try:
        data, rendered_at = _serializer().loads(token, return_timestamp=True)
    except BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or data.get("r") != round_id
        or not isinstance(data.get("k"), str)
    ):
        return None
    kiosk = data.get("q") == 1
    first = data.get("t")  # a renewed token: when the form was first rendered
    if isinstance(first, int) and not isinstance(first, bool):
        return FormToken(
            key=data["k"],
            rendered_at=datetime.fromtimestamp(first, UTC),
            signed_at=rendered_at,
            kiosk=kiosk,
        )
    return FormToken(key=data["k"], rendered_at=rendered_at, signed_at=rendered_at, kiosk=kiosk)


def token_round(token: str | None) -> str | None:
    """The round an authentic form token was signed for (any age), else None.

    Used where the address no longer names the round (a kiosk link replaced long
    ago): a refusal is still counted on the round the form came from."""
    if not token or len(token) > 300:
        return None
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    round_id = data.get("r") if isinstance(data, dict) else None
    return round_id if isinstance(round_id, str) else None


@dataclass
class PostedForm:
    answers: dict[int, str]
    gender: str
    conditional_shown: bool
    confirm_empty: bool = False  # "Skicka ändå" after "Du har inte svarat på någon fråga"
    device_key: str = ""  # see read_form_token

    def is_empty(self) -> bool:
        """No question answered (gender alone does not count as an answer)."""
        return all(not value.strip() for value in self.answers.values())


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
    device_key = form.get("device_key", "")
    if device_key and not _DEVICE_KEY.match(device_key):
        errors.append((None, "Formuläret innehöll ett okänt fält."))
    if errors:
        raise InvalidSubmission(errors)
    return PostedForm(
        answers=answers,
        gender=form.get("gender", ""),
        conditional_shown=form.get("conditional_shown") == "1",
        confirm_empty=form.get("confirm_empty") == "1",
        device_key=device_key,
    )
