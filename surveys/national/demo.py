"""`surveys demo --national`: NNS's instance and five demo förbund, the whole loop.

Run in a förbund's instance (the default, no SURVEYS_MODE needed), the command makes
NNS's national instance itself, in ``<instance>/nationell-demo/nns/`` (an SQLite
database of its own); run in a national instance, that instance is NNS's. The
förbund's own database (what ``make run`` serves) is never touched.

Each demo förbund is a förbund instance of its own (an SQLite database and an
instance folder under ``<instance>/nationell-demo/``): it collects answers,
publishes its years, makes its key pair and exports its signed package per
year. The national instance (the current database) registers the five with their
public keys and comparison groups, imports every package, publishes Riket for
every year, exports the Riket files signed with NNS's key, and every demo
förbund imports them back (verifying NNS's signature) and publishes its latest
year again, so that its report shows the Riket column.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from alembic import command as alembic_command
from alembic.config import Config
from flask import Flask, current_app
from sqlmodel import Session, select

from surveys import db, paths
from surveys.config import APP_FACTORY
from surveys.demo import DEMO_ACTOR, LEVEL, demo_questionnaire, demo_user
from surveys.files.history import import_national
from surveys.models import Response, Role, User
from surveys.national.packages import import_packages, register_member
from surveys.national.publish import publish_year
from surveys.national.riket_file import NNS_PUBLIC_KEY, check_signature, riket_csv
from surveys.services import rounds as ops
from surveys.services import settings
from surveys.services.catalogue import instrument_from_db, load_instrument_file
from surveys.services.nns_package import ORG_NUMBER, build_package
from surveys.services.publications import publish
from surveys.services.settings import threshold
from surveys.services.signing import create_key, key_path, load_private_key, public_key_text, sign
from surveys.services.submissions import insert_responses

DEMO_YEARS = (2022, 2023, 2024)
NNS_ACCOUNT = ("nns@demo.invalid", "demo-losenord-2024")
FOLDER = "nationell-demo"


@dataclass(frozen=True)
class DemoForbund:
    name: str
    org_number: str
    group: str
    scale: float  # size relative to the seed's förbund
    level: float  # shift of the positive share
    insatser: int


FORBUND = (
    DemoForbund("Samordningsförbundet Storstaden", "222000-0001", "storstad", 3.0, 0.02, 4),
    DemoForbund("Samordningsförbundet Kuststaden", "222000-0002", "storstad", 1.5, -0.03, 2),
    DemoForbund("Samordningsförbundet Skogsbygden", "222000-0003", "glesbygd", 0.4, 0.05, 1),
    DemoForbund("Samordningsförbundet Fjällen", "222000-0004", "glesbygd", 0.25, -0.06, 1),
    DemoForbund("Samordningsförbundet Mellanbygden", "222000-0005", "", 0.8, 0.0, 2),
)
BASE_SIZES = {
    "deltagare_avslut": 50,
    "deltagare_pagaende": 30,
    "personal": 12,
    "remittent": 15,
    "chefsgrupp": 10,
    "styrelse": 7,
}


def migrate(url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(paths.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    alembic_command.upgrade(config, "head")


def seed_forbund(session: Session, spec: DemoForbund, *, seed: int, min_cell: int) -> int:
    """Answers for the demo years (rounds per insats, every mode), each year published."""
    rng = random.Random(seed)
    instrument = instrument_from_db(session)
    insatser = [
        ops.intervention_by_name(session, f"Insats {i + 1}", create=True)
        for i in range(spec.insatser)
    ]
    modes = ["open_link", "kiosk", "single_use"]
    total = 0
    for year in DEMO_YEARS:
        for qn in instrument.questionnaires:
            size = max(3, round(BASE_SIZES[qn.key] * spec.scale))
            targets = insatser if qn.participant or qn.key in ("personal", "remittent") else [None]
            for n, insats in enumerate(targets):
                round_ = ops.create_round(
                    session,
                    questionnaire=qn.key,
                    year=year,
                    intervention_id=insats.id if insats else None,
                    mode=modes[n % len(modes)],
                    expected=size + 2,
                )
                ops.open_round(session, round_, today=date(year, 3, 1))
                ops.close_round(session, round_)
                items = []
                for _ in range(max(1, size // len(targets) + rng.randint(-2, 2))):
                    clean = demo_questionnaire(
                        rng,
                        instrument,
                        qn,
                        year,
                        level=min(0.97, LEVEL[qn.key] + spec.level + (year - 2022) * 0.01),
                        gate_weights=(90, 7, 3),
                        gender_weights=(55, 41, 2, 2),
                    )
                    items.append((clean, round_.id, round_.intervention_id))
                total += insert_responses(session, items)
    settings.put(session, settings.FORBUND_NAME, spec.name)
    with db.own_transaction(session):  # the förbund is stored before its years are published
        settings.put(session, ORG_NUMBER, spec.org_number)
        # the comparison group NNS registers it in: its report shows that group beside Riket
        settings.put(session, settings.COMPARISON_GROUP, spec.group)
    for year in DEMO_YEARS:
        publish(session, DEMO_ACTOR, instrument, year=year, min_cell=min_cell)
    return total


def forbund_app(folder: Path, mode: str = "forbund") -> Flask:
    """A förbund instance of its own (SQLite in its own instance folder); ``mode``
    "national": NNS's instance of the demo."""
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'indikatorenkater.sqlite'}"
    create_app = current_app.extensions[APP_FACTORY]  # this package cannot import it (a cycle)
    return create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_DIR": str(folder),
            "SURVEYS_MODE": mode,
            "MIN_CELL": current_app.config["MIN_CELL"],
        }
    )


def run_beside(*, echo=print) -> dict:
    """From a förbund's instance: NNS's demo instance in ``<instance>/nationell-demo/nns``,
    then the whole loop there (the förbund's own database is not touched)."""
    root = Path(current_app.instance_path) / FOLDER
    nns = forbund_app(root / "nns", mode="national")
    try:
        with nns.app_context():
            done = run(echo=echo, root=root)
    finally:
        nns.extensions["engine"].dispose()
    echo(
        "Den nationella instansen: SURVEYS_MODE=national "
        f"SURVEYS_INSTANCE={root / 'nns'} surveys run (och samma med surveys worker i ett "
        "annat fönster, för att publicera från sidan). Demoförbundet med rikets siffror: "
        f"SURVEYS_INSTANCE={root / 'forbund-1'} surveys run."
    )
    return done


def run(*, echo=print, root: Path | None = None) -> dict:
    """The whole loop in the current (national) instance; returns where the packages and
    Riket files were written (``root``: the demo förbund's folders, default beside it)."""
    migrate(current_app.config["DATABASE_URL"])  # a fresh clone needs nothing else first
    with db.own_transaction(db.session()) as national_session:
        load_instrument_file(national_session, DEMO_ACTOR)
    min_cell = threshold(national_session)
    instrument = instrument_from_db(national_session)
    if national_session.exec(select(User).limit(1)).first() is not None:
        echo("Den nationella databasen innehåller redan data; demon körs inte igen.")
        return {}
    root = root or Path(current_app.instance_path) / FOLDER
    package_files: list[tuple[str, bytes]] = []
    forbund_apps: list[Flask] = []
    for number, spec in enumerate(FORBUND):
        folder = root / f"forbund-{number + 1}"
        app = forbund_app(folder)
        forbund_apps.append(app)
        migrate(app.config["DATABASE_URL"])
        with app.app_context():
            with db.own_transaction(db.session()) as session:
                load_instrument_file(session, DEMO_ACTOR)
            if session.exec(select(Response).limit(1)).first() is None:
                count = seed_forbund(session, spec, seed=1000 + number, min_cell=min_cell)
                echo(f"{spec.name}: {count} enkäter {DEMO_YEARS[0]}–{DEMO_YEARS[-1]}, publicerade.")
            if not key_path(folder).exists():
                create_key(folder)
            key = load_private_key(folder)
            for year in DEMO_YEARS:
                package = build_package(session, instrument_from_db(session), year, sign_with=key)
                (folder / package.filename).write_bytes(package.zip_bytes)
                package_files.append((package.filename, package.zip_bytes))
            register_member(
                national_session,
                DEMO_ACTOR,
                name=spec.name,
                org_number=spec.org_number,
                public_key=public_key_text(key),
                comparison_group=spec.group,
            )
    for line in import_packages(national_session, DEMO_ACTOR, instrument, package_files):
        echo(line)
    with db.own_transaction(national_session):
        demo_user(national_session, NNS_ACCOUNT, Role.admin.value, "NNS (demo)", [])
    nns_folder = Path(current_app.instance_path)
    if not key_path(nns_folder).exists():
        create_key(nns_folder)
    nns_key = load_private_key(nns_folder)
    riket_files: list[tuple[str, bytes, bytes]] = []
    for year in DEMO_YEARS:
        with db.own_transaction(national_session):
            publication = publish_year(
                national_session, DEMO_ACTOR, instrument, year=year, min_cell=min_cell
            )
        data = riket_csv(national_session, year)
        signature = sign(nns_key, data)
        (root / f"riket-{year}.csv").write_bytes(data)
        (root / f"riket-{year}.csv.sig").write_bytes(signature)
        riket_files.append((f"riket-{year}.csv", data, signature))
        echo(f"Riket {year} publicerat (version {publication.version}).")
    for app in forbund_apps:
        with app.app_context():
            with db.own_transaction(db.session()) as session:
                settings.put(session, NNS_PUBLIC_KEY, public_key_text(nns_key))
                for name, data, signature in riket_files:
                    check_signature(session, data, signature, name)
                    import_national(session, instrument_from_db(session), data=data, filename=name)
            publish(
                session,
                DEMO_ACTOR,
                instrument_from_db(session),
                year=DEMO_YEARS[-1],
                min_cell=min_cell,
            )
        app.extensions["engine"].dispose()
    echo(
        f"Rikets filer är importerade i de fem demoförbunden ({root}). Logga in i den "
        f"nationella instansen med {NNS_ACCOUNT[0]} / {NNS_ACCOUNT[1]}."
    )
    return {"root": root, "packages": [n for n, _ in package_files]}
