"""Files that belong with a row: written when the transaction that records them commits.

An action that writes a file and an audit entry (a recording, a signing key) must not
leave one without the other. ``put_on_commit`` writes the file under a hidden name
beside its place at once (so a full disk is refused while the action can still say
so), and ``db.after_commit`` gives it its name when the transaction commits, or removes
it when the transaction ends any other way. ``write_now`` is the same write for
callers without a transaction (the demo, tests); ``write_hidden`` is the write itself,
also under the console's ``write_outputs``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session

from surveys.db import after_commit


def put_on_commit(
    db: Session,
    target: Path,
    data: bytes,
    *,
    mode: int = 0o644,
    then: Callable[[], None] | None = None,
) -> None:
    """``data`` at ``target`` once ``db``'s transaction commits (atomically: a reader
    never sees half a file); ``then`` runs after that (e.g. removing what it replaces)."""
    hidden = write_hidden(target, data, mode)

    def put() -> None:
        os.replace(hidden, target)
        if then is not None:
            then()

    after_commit(db, put, undone=lambda: hidden.unlink(missing_ok=True))


def write_now(target: Path, data: bytes, *, mode: int = 0o644) -> None:
    """``data`` at ``target`` now, atomically (no transaction to wait for)."""
    os.replace(write_hidden(target, data, mode), target)


def write_hidden(target: Path, data: bytes, mode: int) -> Path:
    """``data`` on disk under a hidden, unique name in ``target``'s folder (made if
    missing), with ``mode`` from the start: a key is never readable by others."""
    target.parent.mkdir(parents=True, exist_ok=True)
    hidden = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    descriptor = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        hidden.unlink(missing_ok=True)
        raise
    return hidden
