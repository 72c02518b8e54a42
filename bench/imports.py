"""Streaming import benchmark: ``python -m bench.imports --questionnaires 10000,100000,400000
[--format csv|xlsx] [--database-url postgresql+psycopg://…]``.

For each size it writes a realistic synthetic answers file (six questionnaires,
ten years, up to 20 insatser, genders, blanks, "vet ej", the exit
questionnaire's 8 → 9/10 condition, Swedish labels as people type them) and
imports it with ``surveys import answers`` logic into a fresh database, in a
child process whose peak RSS is measured. The baseline, in the same run, is a
bare ``executemany`` of the same number of response and answer rows into the
same kind of database in one transaction (rows built outside the timing). The
last line per size reads::

    questionnaires=… answers=… import_s=… rows_per_s=… peak_rss_mb=… executemany_s=… ratio=…

Goal (issue 13): peak RSS ≤ 400 MB at 400,000 questionnaires, i.e. memory that
does not grow with the file. SQLite by default; PostgreSQL with --database-url
(the schema "public" of that database is dropped and recreated: use a
throwaway database).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from bench.settings import SECRET

YEARS = list(range(2015, 2025))
INSATSER = [f"Insats {chr(65 + i)}" for i in range(20)]
LABELS = {  # what people type in their own Excel files, key → a few spellings
    "deltagare_pagaende": ["deltagare_pagaende", "Deltagare pågående"],
    "deltagare_avslut": ["deltagare_avslut", "Deltagare avslut", "deltagare – avslut"],
    "personal": ["personal", "Personal"],
    "remittent": ["remittent", "Remittenter"],
    "chefsgrupp": ["chefsgrupp", "Parternas chefsgrupp"],
    "styrelse": ["styrelse", "Styrelse"],
}
WEIGHTS = {  # participants answer far more often than the board
    "deltagare_pagaende": 30,
    "deltagare_avslut": 40,
    "personal": 12,
    "remittent": 10,
    "chefsgrupp": 4,
    "styrelse": 4,
}
GENDERS = ["kvinna", "kvinna", "kvinnor", "man", "män", "man", "annat", ""]


def prepare(url: str) -> None:
    """A fresh, migrated database with the instrument loaded."""
    from sqlalchemy import create_engine, text

    from surveys import create_app

    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["instrument", "load"]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(result.output)
    app.extensions["engine"].dispose()


def instrument_of(url: str):
    from surveys import create_app, db
    from surveys.services.catalogue import instrument_from_db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    with app.app_context():
        instrument = instrument_from_db(db.session())
    app.extensions["engine"].dispose()
    return instrument


def synthetic_rows(instrument, count: int, seed: int = 13) -> Iterator[list[object]]:
    """``count`` valid answer-file rows (year, questionnaire, insats, gender, q1…q11)."""
    rng = random.Random(seed)
    keys = list(WEIGHTS)
    weights = [WEIGHTS[k] for k in keys]
    produced = 0
    while produced < count:
        key = rng.choices(keys, weights)[0]
        year = rng.choice(YEARS)
        qn = instrument.questionnaire(key)
        asked = {q.number: q for q in qn.questions_in(year)}
        if not asked:
            continue
        codes: dict[int, int | None] = {}
        for number, question in sorted(asked.items()):
            gate = question.condition_question
            if gate is not None and codes.get(gate) != question.condition_code:
                continue  # the 8 → 9/10 condition: not asked
            scale_codes = sorted(instrument.scales[question.scale].codes)
            roll = rng.random()
            if roll < 0.06:
                codes[number] = None  # left blank
            elif roll < 0.12 and 0 in scale_codes:
                codes[number] = 0  # vet ej
            else:
                positive = [c for c in scale_codes if c != 0]
                # mostly favourable answers, as in real reports
                codes[number] = max(positive) if rng.random() < 0.55 else rng.choice(positive)
        gender = rng.choice(GENDERS) if qn.participant else ""
        insats = "" if key in ("styrelse", "chefsgrupp") else rng.choice(INSATSER)
        answers = ["" if codes.get(n) is None else codes[n] for n in range(1, 12)]
        produced += 1
        yield [year, rng.choice(LABELS[key]), insats, gender, *answers]


def write_file(instrument, count: int, path: Path, fmt: str) -> int:
    """Write the answers file; returns the number of answer rows it will produce."""
    from surveys.files.answers import ANSWER_FILE_COLUMNS

    answers = 0
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(ANSWER_FILE_COLUMNS)
            for row in synthetic_rows(instrument, count):
                writer.writerow(row)
        return answers
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("svar")
    sheet.append(ANSWER_FILE_COLUMNS)
    for row in synthetic_rows(instrument, count):
        sheet.append(row)
    workbook.save(path)
    return answers


def child_import(url: str, path: str) -> dict:
    """Run in a child process: the import exactly as ``surveys import answers`` does it."""
    from surveys import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=["import", "answers", path])
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(result.output[-2000:])
    answers, responses = _counts(app)
    app.extensions["engine"].dispose()
    return {"seconds": elapsed, "responses": responses, "answers": answers}


def _counts(app) -> tuple[int, int]:
    from sqlalchemy import text

    from surveys import db

    with app.app_context():
        session = db.session()
        answers = session.execute(text("SELECT COUNT(*) FROM answer")).scalar_one()
        responses = session.execute(text("SELECT COUNT(*) FROM response")).scalar_one()
    return answers, responses


def child_executemany(url: str, path: str) -> dict:
    """The baseline: the same rows inserted with a bare executemany, one transaction.

    Rows are built from the file beforehand, in chunks, outside the timing; only
    the INSERTs and the commit are timed.
    """
    from sqlalchemy import create_engine

    from surveys import create_app, db
    from surveys.files.answers import import_answers  # noqa: F401 - same import cost
    from surveys.services.catalogue import instrument_from_db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    with app.app_context():
        instrument = instrument_from_db(db.session())
    app.extensions["engine"].dispose()
    engine = create_engine(url)
    raw = engine.raw_connection()
    cursor = raw.cursor()
    insert_response = (
        "INSERT INTO response (id, round_id, questionnaire_key, year, intervention_id, gender) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )
    insert_answer = "INSERT INTO answer (response_id, question_version_id, code) VALUES (?, ?, ?)"
    if not url.startswith("sqlite"):  # psycopg's parameter style
        insert_response = insert_response.replace("?", "%s")
        insert_answer = insert_answer.replace("?", "%s")
    timed = 0.0
    versions = {}
    for qn in instrument.questionnaires:
        for year in YEARS:
            for q in qn.questions_in(year):
                versions[(qn.key, year, q.number)] = q.version_for(year).id
    keys = {label: key for key, labels in LABELS.items() for label in labels}
    responses, answers = [], []

    def flush() -> float:
        started = time.perf_counter()
        cursor.executemany(insert_response, responses)
        cursor.executemany(insert_answer, answers)
        took = time.perf_counter() - started
        responses.clear()
        answers.clear()
        return took

    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        for year, label, _insats, gender, *codes in reader:
            rid = uuid.uuid4().hex
            key = keys[label]
            responses.append((rid, None, key, int(year), None, gender[:5] or None))
            for number, code in enumerate(codes, start=1):
                version = versions.get((key, int(year), number))
                if version is not None:
                    answers.append((rid, version, int(code) if code else None))
            if len(responses) >= 2000:
                timed += flush()
        timed += flush()
    started = time.perf_counter()
    raw.commit()
    timed += time.perf_counter() - started
    raw.close()
    engine.dispose()
    return {"seconds": timed}


def run_child(kind: str, url: str, path: Path) -> dict:
    """Run a child process (fresh interpreter); its JSON result with its own peak RSS."""
    process = subprocess.run(
        [sys.executable, "-m", "bench.imports", "--child", kind, "--url", url, "--file", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        raise SystemExit(process.stdout[-2000:] + process.stderr[-4000:])
    return json.loads(process.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Strömmande import: tid, minne, jämförelse.")
    parser.add_argument("--questionnaires", default="10000,100000")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (tas över helt)")
    parser.add_argument("--child", choices=["import", "executemany"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        runner = child_import if args.child == "import" else child_executemany
        result = runner(args.url, args.file)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    sizes = [int(s) for s in args.questionnaires.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as folder:
        work = Path(folder)
        for size in sizes:
            url = args.database_url or f"sqlite:///{work / f'import-{size}.sqlite'}"
            prepare(url)
            instrument = instrument_of(url)
            answers_file = work / f"svar-{size}.{args.format}"
            baseline_file = work / f"svar-{size}.csv"
            started = time.perf_counter()
            write_file(instrument, size, answers_file, args.format)
            if args.format != "csv":
                write_file(instrument, size, baseline_file, "csv")
            generated = time.perf_counter() - started
            imported = run_child("import", url, answers_file)
            if imported["responses"] != size:
                raise SystemExit(f"{imported['responses']} stored, {size} expected")
            base_url = args.database_url or f"sqlite:///{work / f'executemany-{size}.sqlite'}"
            prepare(base_url)
            baseline = run_child("executemany", base_url, baseline_file)
            rows = imported["responses"] + imported["answers"]
            print(
                f"questionnaires={size} answers={imported['answers']} "
                f"file_mb={answers_file.stat().st_size / 1e6:.1f} generate_s={generated:.1f} "
                f"import_s={imported['seconds']:.2f} rows_per_s={rows / imported['seconds']:,.0f} "
                f"peak_rss_mb={imported['peak_rss_mb']:.0f} "
                f"baseline_peak_rss_mb={baseline['peak_rss_mb']:.0f} "
                f"executemany_s={baseline['seconds']:.2f} "
                f"ratio={imported['seconds'] / baseline['seconds']:.2f}",
                flush=True,
            )
            for leftover in (answers_file, baseline_file):
                leftover.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
