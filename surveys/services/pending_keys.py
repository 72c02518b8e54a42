"""Keys for the answers that wait to be released (DESIGN.md "Storage"), kept outside the database.

A questionnaire taken from the web waits in ``pending_response`` until a batch of its
round is released. While it waits it is sealed with AES-GCM under a *pending key*: 32
random bytes in a file of its own in ``<instance>/pending-keys/``, owner-only, named
by the key id that is stored beside the ciphertext.

How keys rotate (one key per round and release cycle):

- the first questionnaire of a round that waits while nothing else of that round waits
  creates a new key; every later one of the round uses the key of the answers already
  waiting (if that key file is gone, a new key is made for the new answers);
- a release always takes *every* waiting questionnaire of its round, so once it has
  committed no stored row needs the keys it used: they are destroyed at once
  (crypto-shredding). Copies of the sealed rows left in SQLite's WAL, PostgreSQL's
  ``pg_wal`` or a backup can then no longer be opened.

Every key file is written durably (a temporary file, fsync, rename, fsync of the
folder): a key lost before its answers are released loses those answers.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from surveys import db
from surveys.config import instance_dir

FOLDER = "pending-keys"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # AES-GCM's standard nonce; random per sealed row
SUFFIX = ".key"
STALE_SECONDS = 3600  # an unused key file this old belongs to no transaction still running
log = logging.getLogger(__name__)


class PendingKeyError(RuntimeError):
    """A pending key cannot be written, read or destroyed (a Swedish message)."""


def folder() -> Path:
    """``<instance>/pending-keys`` of the running application (the path made once per
    instance folder: every submission asks)."""
    base = db.instance_folder_name() or str(instance_dir())
    found = _FOLDERS.get(base)
    if found is None:
        found = _FOLDERS[base] = Path(base) / FOLDER
    return found


_FOLDERS: dict[str, Path] = {}


def _path(key_id: str, where: Path | None = None) -> Path:
    if not key_id.isalnum():  # ids are hex; never a path of another folder
        raise PendingKeyError("Ogiltigt nyckel-id för väntande svar.")
    return (where or folder()) / f"{key_id}{SUFFIX}"


def _fsync_folder(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def create(key_id: str) -> bytes:
    """Write a new random key as ``key_id`` durably, owner-only; returns the key.

    Raises ``PendingKeyError`` (nothing left behind) when the folder cannot be written.
    """
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    target = _path(key_id)
    temporary = target.with_name(f".{key_id}.{secrets.token_hex(4)}.tmp")
    try:
        target.parent.mkdir(mode=0o700, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, key)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.rename(temporary, target)
        _fsync_folder(target.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        log.error("Nyckeln för väntande svar kunde inte skrivas: %s", exc.strerror)
        raise PendingKeyError(
            "Nyckeln för väntande svar kunde inte skrivas i instansmappen "
            f"({target.parent}): {exc.strerror}."
        ) from None
    return key


def load(key_id: str) -> bytes | None:
    """The key, or None when its file is missing (or damaged: not 32 bytes).

    Every submission reads it: one open, one read of at most a byte more than a key
    (enough to tell a longer file) and a close, nothing buffered."""
    try:
        descriptor = os.open(_path(key_id), os.O_RDONLY)
        try:
            key = os.read(descriptor, KEY_BYTES + 1)
        finally:
            os.close(descriptor)
    except FileNotFoundError:
        return None
    except OSError as exc:
        message = f"Nyckeln för väntande svar kunde inte läsas: {exc.strerror}."
        raise PendingKeyError(message) from None
    return key if len(key) == KEY_BYTES else None


def destroy(key_ids: Iterable[str], where: Path | None = None) -> None:
    """Overwrite and remove the key files (crypto-shredding); logs what it cannot remove.

    Overwriting first keeps the key out of the file's old blocks where the file system
    writes in place; on copy-on-write storage and in snapshots only the removal counts.
    """
    where = where or folder()  # a thread has no application context: given by the caller
    removed = False
    for key_id in key_ids:
        path = _path(key_id, where)
        try:
            with open(path, "r+b") as handle:
                handle.write(bytes(KEY_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()
            removed = True
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.error("En använd nyckel för väntande svar kunde inte tas bort: %s", exc.strerror)
    if removed:
        _fsync_folder(where)


def check_writable() -> None:
    """Raise ``PendingKeyError`` unless keys can be written and removed right now."""
    probe = folder() / f".probe.{secrets.token_hex(4)}"
    try:
        folder().mkdir(mode=0o700, exist_ok=True)
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(descriptor)
        probe.unlink()
    except OSError as exc:
        raise PendingKeyError(
            "Ingenting har ändrats: nycklarna för väntande svar kan inte skrivas eller tas "
            f"bort ({folder()}: {exc.strerror})."
        ) from None


def sweep(in_use: set[str], where: Path | None = None) -> None:
    """Destroy key files no waiting answer uses, once old enough that no submission
    still running can be about to use them (left by a crash between a release's
    commit and its ``destroy``, or by a submission that rolled back)."""
    where = where or folder()
    try:
        files = list(where.glob(f"*{SUFFIX}"))
    except OSError:
        return
    # compared with the files' mtimes, which the kernel keeps  (system clock: allowed)
    cutoff = time.time() - STALE_SECONDS
    stale = []
    for path in files:
        key_id = path.name.removesuffix(SUFFIX)
        try:
            if key_id not in in_use and path.stat().st_mtime < cutoff:
                stale.append(key_id)
        except OSError:
            continue
    destroy(stale, where)


def _context(row_id: str, round_id: str, key_id: str) -> bytes:
    """Authenticated with the ciphertext: a sealed payload opens only in its own row."""
    return f"{row_id}|{round_id}|{key_id}".encode()


def seal(key: bytes, *, key_id: str, row_id: str, round_id: str, payload: str) -> str:
    """The payload sealed with AES-GCM, as base64 text (nonce + ciphertext + tag)."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, payload.encode(), _context(row_id, round_id, key_id))
    return base64.b64encode(nonce + sealed).decode("ascii")


def unseal(key: bytes, *, key_id: str, row_id: str, round_id: str, sealed: str) -> str:
    """The payload ``seal`` sealed; ``PendingKeyError`` if it was altered or is not its key's."""
    raw = base64.b64decode(sealed)
    try:
        payload = AESGCM(key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _context(row_id, round_id, key_id)
        )
    except InvalidTag:
        raise PendingKeyError("Ett väntande svar går inte att öppna med sin nyckel.") from None
    return payload.decode()
