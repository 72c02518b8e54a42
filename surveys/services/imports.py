"""Imports as actions: history, Riket figures and answer files, from the administrator's
page or the command line, with one permission check and one audit entry each.

The parsing and storing are ``surveys.files`` (all or nothing, ``FileError`` with Swedish
messages); this module adds who may do it and what the audit log says. Only flushes.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from indicators.instrument import Instrument
from surveys.files.answers import Imported, import_answers
from surveys.files.history import (
    import_history,
    import_national,
    record_batch,
    remove_batch,
    set_comparison_group,
)
from surveys.files.reading import FileError
from surveys.models import ImportBatch
from surveys.names import file_label
from surveys.national.riket_file import check_signature
from surveys.services.actor import Actor, audit, require_admin

FIGURES = ("history", "national")
MAX_FILE = 2 * 1024 * 1024  # bytes of a history or Riket file (a förbund's: some 100 kB)
MAX_SIGNATURE = 4096  # bytes of NNS's signature file (an Ed25519 signature is far less)
FILE_TOO_LARGE = f"Filen är för stor (högst {MAX_FILE // 1024**2} MB)."
SIGNATURE_TOO_LARGE = f"Signaturfilen är för stor (högst {MAX_SIGNATURE} byte)."
# the audit action per kind, the same whether the page or the CLI imported the file
ACTIONS = {"history": "import.historik", "national": "import.riket", "answers": "import.svar"}


def import_figures(
    db: Session,
    actor: Actor,
    instrument: Instrument,
    kind: str,
    *,
    data: bytes,
    filename: str,
    signature: bytes | None = None,
    group: str | None = None,
) -> int:
    """Import history (``history``) or Riket figures (``national``, with NNS's signature
    checked when its public key is configured); the number of rows imported.

    ``group`` (Riket only): the förbund's comparison group, one of the file's groups
    ("" = none; None = unchanged); an unknown group is a FileError. A file over
    ``MAX_FILE`` bytes, or a signature over ``MAX_SIGNATURE``, is a FileError too (the
    page and the command line read at most one byte more)."""
    require_admin(actor)
    filename = file_label(filename)  # as sent by a browser: kept only cleaned
    if kind not in FIGURES:
        raise ValueError(f"Okänd import {kind!r}.")
    if len(data) > MAX_FILE:
        raise FileError([FILE_TOO_LARGE])
    if kind == "national" and signature is not None and len(signature) > MAX_SIGNATURE:
        raise FileError([SIGNATURE_TOO_LARGE])
    verified = kind == "national" and check_signature(db, data, signature, filename)
    importer = import_history if kind == "history" else import_national
    count = importer(db, instrument, data=data, filename=filename, by=actor.email)
    detail = _detail(count, filename)
    if kind == "national":  # whether anyone could know it came from NNS unchanged
        detail += ", NNS signatur kontrollerad" if verified else ", signaturen inte kontrollerad"
    if kind == "national" and group is not None:
        set_comparison_group(db, group, filename=filename)
        detail += f", jämförelsegrupp {group.strip() or '(ingen)'}"
    audit(db, actor, ACTIONS[kind], detail)
    return count


def import_answer_file(
    db: Session, actor: Actor, instrument: Instrument, *, path: str | Path, filename: str
) -> Imported:
    """Import an answer file (streamed from disk), listed among the imports and audited."""
    require_admin(actor)
    filename = file_label(filename)
    count = import_answers(db, actor, instrument, path=path, filename=filename)
    record_batch(db, "answers", rows=count, filename=filename, by=actor.email)
    audit(db, actor, ACTIONS["answers"], _detail(count, filename))
    return count


def remove_import(db: Session, actor: Actor, batch_id: str) -> ImportBatch | None:
    """Remove the figures of one upload (None: unknown, or answers), audited."""
    require_admin(actor)
    batch = remove_batch(db, batch_id)
    if batch is not None:
        audit(db, actor, f"import.ta_bort.{batch.kind}", f"{batch.filename} ({batch.rows} rader)")
    return batch


def _detail(count: int, filename: str) -> str:
    return f"{count} rader från {filename}"
