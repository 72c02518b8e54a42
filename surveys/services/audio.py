"""Recorded read-aloud per question version (issue 22): files in the instance folder.

A förbund may record a question's Swedish wording; the recording is played by the
"Lyssna" button instead of the device's speech synthesis. Files live in
``<instance>/ljud/<version id>.<ext>``, keyed by the question version's fixed id (a new
wording is a new version, so an old recording never plays for a new text). They are
loaded with ``surveys audio load FILE --version ID``, which accepts only real audio
(recognised by its first bytes, not its name) of at most ``MAX_BYTES``: the action
``load_audio`` (an actor, the administrator's check, the audit entry ``ljud.läs_in``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlmodel import Session

from indicators.instrument import VERSION_ID, Instrument
from surveys import clock
from surveys.paths import not_a_file_to_read
from surveys.services.actor import Actor, audit, require_admin
from surveys.services.staging import put_on_commit

MAX_BYTES = 3 * 1024 * 1024  # a spoken question is a few seconds: 3 MB is plenty
FOLDER = "ljud"
MIME = {
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
}
_VERSION = re.compile(VERSION_ID)


class AudioError(ValueError):
    """A refused recording, with a Swedish message; nothing was changed."""


def folder(instance_dir: str | Path) -> Path:
    return Path(instance_dir) / FOLDER


def sniff(head: bytes) -> str | None:
    """The audio format from a file's first bytes (its name is not trusted; SNIFF_BYTES
    of them: an MP3 without a tag shows two frames there), or None."""
    if head.startswith(b"ID3") or _two_mpeg_frames(head):
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp" and head[8:11] in (b"M4A", b"mp4", b"iso", b"das"):
        return "m4a"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    return None


SNIFF_BYTES = 4096  # more than two of the longest MPEG audio frames (2,881 bytes)

# MPEG audio frame headers (ISO 11172-3, 13818-3): kbit/s by (MPEG-1?, layer) and index,
# and Hz by version; index 0 ("free") and 15 ("bad") are no bitrate a file is sniffed by.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {
    0b11: (44100, 48000, 32000),
    0b10: (22050, 24000, 16000),
    0b00: (11025, 12000, 8000),
}


def _mpeg_frame_length(header: bytes) -> int | None:
    """The length of the MPEG audio frame this header starts, or None when it is none:
    11 sync bits, then no "reserved" version, layer or sampling rate, and a bitrate."""
    if len(header) < 3 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (header[1] >> 3) & 0b11, (header[1] >> 1) & 0b11
    index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 0b11, (header[2] >> 1) & 1
    if version == 0b01 or layer_bits == 0b00 or rate_index == 0b11 or index in (0, 15):
        return None
    layer, mpeg1 = 4 - layer_bits, version == 0b11
    bitrate = _BITRATES[(mpeg1, layer)][index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    return (144 if layer == 2 or mpeg1 else 72) * bitrate // rate + padding


def _two_mpeg_frames(head: bytes) -> bool:
    """An MP3 without a tag: a frame header, and the next frame's where the first ends.
    One header alone also matches e.g. a UTF-16 text's byte order mark ("\\xff\\xfe")."""
    length = _mpeg_frame_length(head)
    return length is not None and _mpeg_frame_length(head[length : length + 3]) is not None


MIN_BYTES = 1024  # a spoken question is far longer; a header alone is no recording


def _cut_short(data: bytes, fmt: str) -> str | None:
    """Why a recording is no whole recording (a header alone, a WAV cut off), or None.
    Only what is cheap to tell from the bytes: the tablet plays what it gets."""
    if len(data) < MIN_BYTES:
        return f"Filen är för liten för en inspelning ({len(data)} byte)."
    declared = int.from_bytes(data[4:8], "little") + 8  # RIFF: the size after 8 bytes
    if fmt == "wav" and declared > len(data):
        return f"WAV-filen är avkortad: den säger sig ha {declared} byte men har {len(data)}."
    return None


def check_recording(
    instance_dir: str | Path, instrument: Instrument, version_id: str, path: Path
) -> tuple[Path, bytes]:
    """A recording for ``version_id`` checked: (where it goes, its bytes); AudioError if
    refused. Nothing is written."""
    known = {v.id for q in instrument.all_questions() for v in q.versions}
    if not _VERSION.match(version_id) or version_id not in known:
        raise AudioError(f"Okänd frågeversion {version_id!r}. Ingenting har ändrats.")
    problem = not_a_file_to_read(path, "ljudfilen")
    if problem:
        raise AudioError(problem)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise AudioError(
            f"Filen är för stor ({size // 1024} kB; högst {MAX_BYTES // 1024} kB). "
            "Ingenting har ändrats."
        )
    data = path.read_bytes()
    fmt = sniff(data[:SNIFF_BYTES]) if len(data) >= 12 else None
    if fmt is None:
        raise AudioError(
            "Filen är inte en ljudfil (MP3, Ogg, WAV, M4A eller WebM). Ingenting har ändrats."
        )
    problem = _cut_short(data, fmt)
    if problem:
        raise AudioError(f"{problem} Ingenting har ändrats.")
    return folder(instance_dir) / f"{version_id}.{fmt}", data


def load_audio(
    db: Session,
    actor: Actor,
    instance_dir: str | Path,
    instrument: Instrument,
    version_id: str,
    path: Path,
) -> Path:
    """The administrator loads a recording (``ljud.läs_in``, the version id); the path it
    gets. It is played once the audit entry is committed (``staging``: written hidden
    beside the others until then, removed if the entry is not): a recording is never
    there without its entry, nor the entry without it. AudioError (nothing changed) or
    Refused before anything is written."""
    require_admin(actor)
    target, data = check_recording(instance_dir, instrument, version_id, path)
    audit(db, actor, "ljud.läs_in", version_id)

    def drop_other_formats() -> None:
        for other in target.parent.glob(f"{version_id}.*"):
            if other != target:
                other.unlink()

    put_on_commit(db, target, data, then=drop_other_formats)
    return target


def recordings(instance_dir: str | Path) -> dict[str, str]:
    """version id → file name of every recording (a directory listing, no database).

    Every respondent page asks, so the listing is kept per process while the folder's
    modification time stays the same (one ``stat``; adding, replacing or removing a
    file changes it). A folder changed within the last ``_SETTLE_SECONDS`` is listed
    anew each time: a second change in the same timestamp tick is not missed.
    """
    path = _FOLDERS.get(instance_dir)
    if path is None:  # the folder's name, made once per instance folder
        path = _FOLDERS[instance_dir] = str(folder(instance_dir))
    try:
        stat = os.stat(path)
    except OSError:
        return _NONE
    stamp = (stat.st_ino, stat.st_mtime_ns)
    cached = _LISTINGS.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    found = _list(Path(path))
    # the service's clock (surveys/clock.py); a folder changed just now is listed again
    if clock.utcnow().timestamp() - stat.st_mtime > _SETTLE_SECONDS:
        _LISTINGS[path] = (stamp, found)
    return found


_LISTINGS: dict[str, tuple[tuple[int, int], dict[str, str]]] = {}
_FOLDERS: dict[str | Path, str] = {}
_NONE: dict[str, str] = {}  # no folder: the same (never changed) object every time
_SETTLE_SECONDS = 2.0


def _list(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        entries = os.scandir(path)
    except OSError:
        return found
    with entries:
        for entry in entries:
            stem, _, ext = entry.name.rpartition(".")
            if ext in MIME and _VERSION.match(stem):
                found[stem] = entry.name
    return found
