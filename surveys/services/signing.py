"""Ed25519 keys and signatures for what a förbund sends NNS and what NNS sends back.

The private key lives in the instance folder, owner-only (``0600``), like the
pending key and the development secret; the public key is shown as base64 of its
32 raw bytes, short enough to paste into NNS's register (or a förbund's setting).
Only the action ``new_key`` (``surveys keys create``) touches the database: its audit
entry ``nyckel.skapa``.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session

from surveys.services.actor import Actor, audit, require_admin
from surveys.services.staging import put_on_commit, write_now

PRIVATE_KEY_FILE = "nns_signeringsnyckel.pem"  # in the instance folder
OWNER_ONLY = 0o600


class SigningError(Exception):
    """A key is missing, damaged or does not parse (Swedish message)."""


def key_path(instance: Path) -> Path:
    return Path(instance) / PRIVATE_KEY_FILE


def create_key(instance: Path, *, replace: bool = False) -> str:
    """Make the instance's key pair now; returns the public key (base64). Refuses to
    overwrite unless ``replace`` (the demo and tests; the command goes through ``new_key``)."""
    path = _key_to_write(instance, replace=replace)
    pem, public = _generate()
    write_now(path, pem, mode=OWNER_ONLY)
    return public


def new_key(db: Session, actor: Actor, instance: Path, *, replace: bool = False) -> str:
    """The administrator makes the instance's key pair (``nyckel.skapa``, the public key);
    returns the public key. The key file takes its place when the audit entry is
    committed (``staging``): a failed commit leaves the old key, never a key without its
    entry. SigningError or Refused before anything is written."""
    require_admin(actor)
    path = _key_to_write(instance, replace=replace)
    pem, public = _generate()
    audit(db, actor, "nyckel.skapa", f"publik nyckel {public}")
    put_on_commit(db, path, pem, mode=OWNER_ONLY)
    return public


def _key_to_write(instance: Path, *, replace: bool) -> Path:
    """Where the key goes; SigningError (naming the key there) unless it may be written."""
    path = key_path(instance)
    if path.exists() and not replace:
        raise SigningError(
            f"Det finns redan en nyckel i {path}. Den publika nyckeln är "
            f"{public_key_text(load_private_key(instance))}. Ange --ersatt för att göra en ny "
            "(NNS måste då registrera den nya publika nyckeln)."
        )
    return path


def _generate() -> tuple[bytes, str]:
    """A new private key as PEM (PKCS8, unencrypted: the file is owner-only) and its
    public key's text."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, public_key_text(key)


def load_private_key(instance: Path) -> Ed25519PrivateKey:
    path = key_path(instance)
    if not path.is_file():
        raise SigningError("Det finns ingen signeringsnyckel. Skapa den med: surveys keys create")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise SigningError(f"Nyckelfilen {path} är skadad.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"Nyckelfilen {path} är ingen Ed25519-nyckel.")
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey | None:
    """A public key from its base64 text, or None when it is not one, or is one of the
    points of small order (e.g. 32 zero bytes) no key pair has: with such a "key"
    registered, a signature that verifies proves nothing about who made it."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        return None
    return None if _small_order(raw) else key


_P = 2**255 - 19  # the field of Curve25519
# The y-coordinates of the eight points of order 1, 2, 4 and 8 (x follows from y and the
# sign bit): 1 (the neutral point), -1, 0, and ±Y8 (libsodium's blocklist, reduced).
_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _Y8, _P - _Y8})


def small_order_key(text: str) -> bool:
    """Whether base64 ``text`` is 32 bytes encoding a point of small order (no key)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (ValueError, binascii.Error):
        return False
    return len(raw) == 32 and _small_order(raw)


def _small_order(raw: bytes) -> bool:
    """Whether the 32-byte encoding is a point of small order, also written
    non-canonically (y at or above p)."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)  # without the sign bit of x
    return y % _P in _SMALL_ORDER_Y


def same_public_key(text: str, key: Ed25519PublicKey) -> bool:
    """Whether ``text`` is ``key`` (compared as bytes: base64 can spell a key two ways)."""
    other = parse_public_key(text)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return other is not None and other.public_bytes(*raw) == key.public_bytes(*raw)


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The signature file's content: base64 of the 64-byte signature, and a newline."""
    return base64.b64encode(key.sign(data)) + b"\n"


def verify(public_key: str, data: bytes, signature_file: bytes) -> bool:
    """Whether ``signature_file`` (as written by ``sign``) signs ``data`` under ``public_key``."""
    key = parse_public_key(public_key)
    if key is None:
        return False
    try:
        signature = base64.b64decode(signature_file.strip(), validate=True)
        key.verify(signature, data)
    except (ValueError, binascii.Error, InvalidSignature):
        return False
    return True
