"""National benchmark (issue 21): ``python -m bench.national [--forbund 80] [--years 10]
[--database-url postgresql+psycopg://…]``.

Writes ``forbund × years`` signed count packages (synthetic, realistic sizes: about
4,000 questionnaires a year nationally today, ``--scale 10`` for the planned 10×),
then, in a child process whose peak RSS is measured, registers the förbund,
imports every package with the national instance's own checks (all-or-nothing per
year) and publishes every year with the same ``indicators`` counting and disclosure
path as a förbund's publication. Package writing is the förbund's work and is not
timed. The last line reads::

    forbund=… years=… questionnaires=… packages=… import_s=… publish_s=… total_s=…
    process_cpu_s=… peak_rss_mb=… workers=… worker_cpu_s=… peak_tree_rss_mb=…

(process_cpu_s: the child's whole CPU time, start-up included: on a busy machine the
wall-clock figures grow, this one does not. A national year's blocks are protected in
one process per core (``surveys.national.publish.block_workers``); those processes are
sampled from /proc every 0.2 s: worker_cpu_s is their CPU time as last seen, and
peak_tree_rss_mb the most the child and its processes held at once.)

Aim: total under 30 s and peak RSS under 500 MB. SQLite by default; PostgreSQL with
--database-url (the schema "public" of that database is dropped: use a throwaway one).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.imports import SECRET, prepare
from surveys import clock

GROUPS = ["storstad", "mellanstor", "glesbygd", ""]
GENDERS = ["kvinna"] * 55 + ["man"] * 41 + ["övriga"] * 4


def _app(url: str, instance: Path):
    from surveys import create_app

    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "SURVEYS_MODE": "national",
            "INSTANCE_DIR": str(instance),
        }
    )


def write_packages(url: str, folder: Path, forbund: int, years: list[int], scale: float) -> dict:
    """Keys and signed packages of synthetic förbund (not timed: the förbund's work)."""
    from surveys import db
    from surveys.models import InstrumentInfo
    from surveys.services.catalogue import instrument_from_db
    from surveys.services.nns_package import (
        ANSWER_FIELDS,
        DESCRIPTOR,
        QUESTIONNAIRE_FIELDS,
        SIGNATURE,
        sha256,
        to_csv,
        zip_files,
    )
    from surveys.services.signing import create_key, load_private_key, public_key_text, sign

    app = _app(url, folder)
    with app.app_context():
        session = db.session()
        instrument = instrument_from_db(session)
        checksum = session.get(InstrumentInfo, "current").checksum
    app.extensions["engine"].dispose()
    rng = random.Random(21)
    members = []
    total = 0
    for number in range(forbund):
        org = f"{222000 + number:06d}-{1000 + number:04d}"
        key_dir = folder / "keys" / org
        create_key(key_dir)
        key = load_private_key(key_dir)
        size = rng.choice([0.3, 0.6, 1.0, 1.5, 3.0]) * scale  # 50 questionnaires × size a year
        members.append(
            {
                "name": f"Förbund {number + 1}",
                "org": org,
                "key": public_key_text(key),
                "group": GROUPS[number % len(GROUPS)],
            }
        )
        for year in years:
            answers, modes = [], []
            for qn in instrument.questionnaires:
                forms = max(1, int(rng.gauss(50 * size * (3 if qn.participant else 1) / 4, 3)))
                modes.append(
                    {"year": year, "questionnaire": qn.key, "mode": "link", "count": forms}
                )
                total += forms
                subgroups = {}
                for _ in range(forms):
                    g = rng.choice(GENDERS) if qn.participant else ""
                    subgroups[g] = subgroups.get(g, 0) + 1
                for q in qn.questions_in(year):
                    version = q.version_for(year)
                    codes = sorted(instrument.scales[q.scale].codes)
                    for subgroup, people in subgroups.items():
                        counts: dict[int, int] = {}
                        for _ in range(people if not q.condition_question else people * 9 // 10):
                            if rng.random() < 0.03:
                                continue  # blank: not counted
                            code = (
                                rng.choice(codes[-3:]) if rng.random() < 0.8 else rng.choice(codes)
                            )
                            counts[code] = counts.get(code, 0) + 1
                        answers += [
                            {
                                "year": year,
                                "questionnaire": qn.key,
                                "question": q.number,
                                "version_id": version.id,
                                "subgroup": subgroup,
                                "answer_code": c,
                                "count": n,
                            }
                            for c, n in sorted(counts.items())
                        ]
            resources = {
                "answers": to_csv(answers, ANSWER_FIELDS),
                "questionnaires": to_csv(modes, QUESTIONNAIRE_FIELDS),
            }
            descriptor = {
                "profile": "tabular-data-package",
                "nns": {
                    "year": year,
                    "organisation_number": org,
                    "forbund": f"Förbund {number + 1}",
                    "instrument_checksum": checksum,
                },
                "resources": [
                    {"name": n, "path": f"{n}.csv", "bytes": len(d), "hash": f"sha256:{sha256(d)}"}
                    for n, d in resources.items()
                ],
            }
            body = json.dumps(descriptor).encode()
            files = {DESCRIPTOR: body, SIGNATURE: sign(key, body)}
            files.update({f"{n}.csv": d for n, d in resources.items()})
            (folder / f"{org}-{year}.zip").write_bytes(zip_files(files, year=year))
    (folder / "members.json").write_text(json.dumps(members))
    return {"questionnaires": total}


class TreeSampler(threading.Thread):
    """Samples this process and every process below it (the fork server and the block
    workers) from /proc: peak RSS of the whole tree, CPU seconds of the others."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak_kb = 0
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds last seen (not this process)
        self.pids: set[int] = set()

    def _descendants(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
        found, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += parents.get(pid, [])
        return found

    def run(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        while not self.stop.wait(0.2):
            total = 0
            for pid in self._descendants():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                rss = [line for line in status.splitlines() if line.startswith("VmRSS:")]
                total += int(rss[0].split()[1]) if rss else 0
                if pid != os.getpid():
                    self.pids.add(pid)
                    self.cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
            self.peak_kb = max(self.peak_kb, total)


def child(url: str, folder: Path, years: list[int]) -> None:
    """Register, import and publish (timed); prints the figures and peak RSS."""
    from surveys import db
    from surveys.models import Role
    from surveys.national.packages import import_packages, register_member
    from surveys.national.publish import PARALLEL_FROM_CELLS, block_workers, publish_year
    from surveys.services.actor import Actor
    from surveys.services.catalogue import instrument_from_db

    bench = Actor(email="bench", role=Role.admin.value)  # the audit log's "bench"
    app = _app(url, folder)
    sampler = TreeSampler()
    sampler.start()
    with app.app_context():
        session = db.session()
        instrument = instrument_from_db(session)
        for m in json.loads((folder / "members.json").read_text()):
            register_member(
                session,
                bench,
                name=m["name"],
                org_number=m["org"],
                public_key=m["key"],
                comparison_group=m["group"],
            )
        session.commit()
        started = time.perf_counter()
        packages = 0
        for year in years:  # one all-or-nothing import per year, as NNS would do it
            files = [(p.name, p.read_bytes()) for p in sorted(folder.glob(f"*-{year}.zip"))]
            import_packages(session, bench, instrument, files)
            session.commit()
            packages += len(files)
        imported = time.perf_counter()
        for year in years:
            publish_year(session, bench, instrument, year=year, min_cell=5)
        published = time.perf_counter()
    sampler.stop.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss / 1024
    print(
        f"packages={packages} import_s={imported - started:.1f} "
        f"publish_s={published - imported:.1f} total_s={published - started:.1f} "
        f"process_cpu_s={usage.ru_utime + usage.ru_stime:.1f} peak_rss_mb={peak:.0f} "
        f"workers={block_workers(PARALLEL_FROM_CELLS)} "
        f"worker_cpu_s={sum(sampler.cpu.values()):.1f} "
        f"peak_tree_rss_mb={sampler.peak_kb / 1024:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--forbund", type=int, default=80)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--child", nargs=2, metavar=("URL", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The instrument starts in 2018; a year that has not begun is refused on import, so
    # the years end with the current one (2018–2026 in 2026: nine, not ten).
    last = min(2018 + args.years, clock.today().year + 1)
    years = list(range(2018, last))
    if args.child:
        child(args.child[0], Path(args.child[1]), years)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'national.sqlite'}"
        prepare(url)
        made = write_packages(url, folder, args.forbund, years, args.scale)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.national",
                "--years",
                str(args.years),
                "--child",
                url,
                str(folder),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(result.stderr[-3000:])
        print(
            f"forbund={args.forbund} years={len(years)} "
            f"questionnaires={made['questionnaires']} {result.stdout.strip()}"
        )


if __name__ == "__main__":
    main()
