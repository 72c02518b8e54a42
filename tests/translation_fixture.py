"""A fixture translation (Arabic and Tigrinya test strings) made from the real template,
loaded and approved with the real commands — only inside a test, never shipped."""

from __future__ import annotations

import csv
import io
import re
import wave
from pathlib import Path

PREFIX = {"ar": "نص تجريبي", "ti": "ናይ ፈተና ጽሑፍ"}  # "test text" in Arabic and Tigrinya


def template(runner, path: Path, code: str) -> list[dict[str, str]]:
    result = runner.invoke(
        args=["translations", "template", "--language", code, "--output", str(path)]
    )
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def translated(rows: list[dict[str, str]], code: str) -> list[dict[str, str]]:
    """Every row given a test string: the prefix, a number and the Swedish placeholders."""
    out = []
    for i, row in enumerate(rows, start=1):
        keep = " ".join(re.findall(r"\{[a-z]+\}", row["sv"]))
        out.append({**row, "text": f"{PREFIX[code]} {i} {keep}".strip()})
    return out


def write(path: Path, rows: list[dict[str, str]], header=("key", "sv", "text")) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(header), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def load_fixture_translation(
    runner, tmp_path: Path, code: str = "ar", *, approve: bool = True
) -> dict[str, str]:
    """Template → every text translated → load → (approve); returns key → translation."""
    rows = translated(template(runner, tmp_path / f"mall-{code}.csv", code), code)
    path = write(tmp_path / f"oversattning-{code}.csv", rows)
    result = runner.invoke(args=["translations", "load", str(path), "--language", code])
    assert result.exit_code == 0, result.output
    if approve:
        result = runner.invoke(
            args=["translations", "approve", "--language", code, "--reference", "testgodkänd"]
        )
        assert result.exit_code == 0, result.output
    return {row["key"]: row["text"] for row in rows}


Q1 = "deltagare_avslut.1.v1"  # the exit questionnaire's first question (current version)


def tiny_wav(path: Path, frames: int = 800) -> Path:
    """A short silent WAV file (a question's recorded read-aloud in tests)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x10" * frames)
    return path
