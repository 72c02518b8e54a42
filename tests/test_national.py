"""Issue 21: the förbund's signed count package, NNS's national instance and the loop back.

Real parts throughout: real databases (the suite's, SQLite or PostgreSQL), real
Ed25519 keys, real zip files, the real `surveys` commands through the CLI runner.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import stat
import subprocess
import sys
import threading
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select
from werkzeug.serving import make_server

from surveys import create_app, db, worker
from surveys.files.reading import FileError
from surveys.models import (
    AuditEntry,
    BackgroundJob,
    ImportBatch,
    InstrumentInfo,
    NationalCount,
    NationalFigure,
    NationalPackage,
    NationalPublicationMember,
    Publication,
    PublicationGroup,
    PublicationRow,
    Role,
)
from surveys.national import packages as national_packages
from surveys.national.publish import GROUP_PREFIX, publish_year
from surveys.national.riket_file import export_riket
from surveys.services import imports, jobs, nns_package, settings
from surveys.services.actor import CLI, Actor, Refused
from surveys.services.catalogue import instrument_from_db
from surveys.services.nns_package import (
    ANSWER_FIELDS,
    QUESTIONNAIRE_FIELDS,
    sha256,
    to_csv,
    zip_files,
)
from surveys.services.settings import SettingError
from surveys.services.signing import (
    create_key,
    load_private_key,
    parse_public_key,
    public_key_text,
    sign,
    verify,
)
from tests import factories
from tests.conftest import (
    LIGHT_HASHING,
    SECRET,
    axe_violations,
    count_rows,
    empty_database,
    form_token,
    second_waits_for_first,
    table_rows,
)

# The background worker run in the test process: at normal priority, since its default
# (SCHED_IDLE and nice 10) would stay with this process and slow every later test.
WORKER_ONCE = ["worker", "--once", "--priority", "normal"]
NNS_ADMIN = Actor(email="test", role=Role.admin.value)  # NNS's administrator in the tests
ORG = "222000-1234"
OTHER_ORG = "222000-5678"


def _app(database_url: str, instance: Path, mode: str):
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET,
            "TESTING": True,
            "PUBLIC_URL": "http://localhost",
            "MIN_CELL": 5,
            **LIGHT_HASHING,
            "INSTANCE_DIR": str(instance),
            "SURVEYS_MODE": mode,
        }
    )
    app.extensions[worker.RUNNER] = worker.run_inline  # jobs done in the request
    return app


@pytest.fixture
def forbund(database_url, tmp_path):
    empty_database(database_url)
    app = _app(database_url, tmp_path / "forbund", "forbund")
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def national(database_url, tmp_path):
    empty_database(database_url)
    app = _app(database_url, tmp_path / "nns", "national")
    yield app
    app.extensions["engine"].dispose()


# --- a small förbund year ---------------------------------------------------------------

# (gender, codes for deltagare_avslut 1..3); None = blank
PEOPLE = [("kvinna", (6, 5, None))] * 4 + [("man", (3, 1, 0))] * 3 + [("annat", (6, 6, 6))]


def _seed_forbund(app) -> None:
    """Two insatser, participants with every gender and a blank, staff; 2023 published."""
    with app.app_context():
        s = db.session()
        s.add_all([])
        for i, (gender, codes) in enumerate(PEOPLE):
            factories.response(
                s,
                {f"deltagare_avslut.{q + 1}.v1": c for q, c in enumerate(codes)},
                gender=gender,
                insats="Insats A" if i % 2 else "Insats B",
            )
        for _ in range(6):
            factories.response(s, {"personal.1.v1": 5}, questionnaire="personal", insats=None)
        from surveys.services import settings

        settings.put(s, settings.FORBUND_NAME, "Samordningsförbundet Test")
        settings.put(s, "forbund_org_number", ORG)
        s.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["publish", "--year", "2023"])
    assert result.exit_code == 0, result.output


def _read_zip(data: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {i.filename: archive.read(i) for i in archive.infolist()}


def _rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def test_keys_create_is_owner_only_and_refuses_to_overwrite(forbund):
    runner = forbund.test_cli_runner()
    result = runner.invoke(args=["keys", "create"])
    assert result.exit_code == 0, result.output
    key_file = Path(forbund.instance_path) / "nns_signeringsnyckel.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public = result.output.strip().splitlines()[-1].split(": ")[-1]
    assert public == public_key_text(load_private_key(Path(forbund.instance_path)))
    again = runner.invoke(args=["keys", "create"])
    assert again.exit_code == 1
    assert "Det finns redan en nyckel" in again.output
    assert public in again.output
    # signing.new_key audits the one key made, by the operator; the refusal writes nothing
    assert _audited(forbund, "nyckel.skapa") == [("kommandoraden", f"publik nyckel {public}")]


def _audited(app, action: str) -> list[tuple[str, str]]:
    with app.app_context():
        entries = db.session().exec(select(AuditEntry).where(AuditEntry.action == action))
        return sorted((e.user_email, e.detail) for e in entries)


def test_export_nns_is_förbund_level_counts_signed_and_checksummed(forbund, tmp_path):
    _seed_forbund(forbund)
    runner = forbund.test_cli_runner()
    public = runner.invoke(args=["keys", "create"]).output.strip().split(": ")[-1]
    out = tmp_path / "paket.zip"
    result = runner.invoke(args=["export", "nns", "--year", "2023", "--output", str(out)])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    files = _read_zip(raw)
    assert sorted(files) == [
        "answers.csv",
        "datapackage.json",
        "datapackage.sig",
        "questionnaires.csv",
    ]
    assert all(i.date_time == (2023, 1, 1, 0, 0, 0) for i in zipfile.ZipFile(out).infolist())
    assert verify(public, files["datapackage.json"], files["datapackage.sig"])
    descriptor = json.loads(files["datapackage.json"])
    assert descriptor["nns"]["organisation_number"] == ORG
    assert descriptor["nns"]["forbund"] == "Samordningsförbundet Test"
    with forbund.app_context():
        info = db.session().get(InstrumentInfo, "current")
        assert descriptor["nns"]["instrument_checksum"] == info.checksum
    for resource in descriptor["resources"]:
        content = files[resource["path"]]
        assert resource["hash"] == f"sha256:{sha256(content)}"
        assert [f["name"] for f in resource["schema"]["fields"]] == (
            ANSWER_FIELDS if resource["name"] == "answers" else QUESTIONNAIRE_FIELDS
        )
    text = b"".join(files.values()).decode()
    assert "Insats A" not in text
    assert "Insats B" not in text
    answers = _rows(files["answers.csv"])
    got = {(r["version_id"], r["subgroup"], r["answer_code"]): int(r["count"]) for r in answers}
    # question 3: four kvinnor left it blank (not counted), three män answered Vet ej (0)
    assert got[("deltagare_avslut.3.v1", "man", "0")] == 3
    assert not any(k[0] == "deltagare_avslut.3.v1" and k[1] == "kvinna" for k in got)
    assert got[("deltagare_avslut.1.v1", "kvinna", "6")] == 4
    assert got[("deltagare_avslut.1.v1", "övriga", "6")] == 1  # the one left out at home
    assert got[("personal.1.v1", "", "5")] == 6
    modes = {
        (r["questionnaire"], r["mode"]): int(r["count"]) for r in _rows(files["questionnaires.csv"])
    }
    assert modes == {("deltagare_avslut", "paper"): 8, ("personal", "paper"): 6}
    assert descriptor["nns"]["package_number"] == 1
    again = runner.invoke(args=["export", "nns", "--year", "2023", "--output", str(out)])
    assert again.exit_code == 0, again.output
    assert json.loads(_read_zip(out.read_bytes())["datapackage.json"])["nns"]["package_number"] == 2
    with forbund.app_context():
        details = db.session().exec(
            select(AuditEntry.detail).where(AuditEntry.action == "nns.exportera")
        )
        numbers = [re.search(r"paket nr (\d+)", d).group(1) for d in details]
    assert numbers == ["1", "2"]


def test_export_of_an_unpublished_year_says_so_and_writes_nothing(forbund, tmp_path):
    _seed_forbund(forbund)
    runner = forbund.test_cli_runner()
    runner.invoke(args=["keys", "create"])
    out = tmp_path / "paket.zip"
    with forbund.app_context():
        from surveys.services import settings

        settings.put(db.session(), "forbund_org_number", "")
        db.session().commit()
    result = runner.invoke(args=["export", "nns", "--year", "2023", "--output", str(out)])
    assert result.exit_code == 1
    assert "organisationsnummer saknas" in result.output
    assert not out.exists()
    with forbund.app_context():
        settings.put(db.session(), "forbund_org_number", ORG)
        db.session().commit()
    result = runner.invoke(args=["export", "nns", "--year", "2022", "--output", str(out)])
    assert result.exit_code == 1
    assert "År 2022 är inte publicerat" in result.output
    assert "2023" in result.output
    assert not out.exists()


def test_year_arguments_outside_2000_2100_are_refused_in_swedish(forbund, national, tmp_path):
    """`export nns --year 99999999999999999999` reached the database as an OverflowError."""
    _seed_forbund(forbund)
    out = tmp_path / "paket.zip"
    for app, args in (
        (forbund, ["export", "nns", "--output", str(out)]),
        (national, ["national", "publish"]),
        (national, ["national", "export", "--output", str(tmp_path / "riket.csv")]),
    ):
        for year in ("99999999999999999999", "abc"):
            result = app.test_cli_runner().invoke(args=[*args, "--year", year])
            assert result.exit_code == 1, (args, year)
            assert "ska vara ett årtal mellan 2000 och 2100" in result.output, result.output
            assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()


def test_a_command_of_the_other_kind_of_instance_is_refused_with_fel(forbund, national):
    """The instance-mode guard refuses through the one CliError: "Fel: …", exit code 1."""
    done = forbund.test_cli_runner().invoke(args=["national", "list"])
    assert (done.exit_code, done.output) == (
        1,
        "Fel: Kommandot finns bara i den nationella instansen (NNS). "
        "Starta den med SURVEYS_MODE=national.\n",
    )
    done = national.test_cli_runner().invoke(args=["export", "nns", "--year", "2023"])
    assert done.exit_code == 1
    assert done.output.startswith("Fel: Kommandot hör till ett förbunds instans;")


def test_a_backup_of_the_other_kind_of_instance_is_refused(forbund, database_url, tmp_path):
    """A national instance's backup restored in a förbund's would replace the förbund's
    answers with NNS's registry, and the other way round: refused, nothing changed."""
    _seed_forbund(forbund)
    forbund_backup = tmp_path / "forbund.kopia"
    done = forbund.test_cli_runner().invoke(args=["backup", str(forbund_backup)])
    assert done.exit_code == 0, done.output
    forbund.extensions["engine"].dispose()
    empty_database(database_url)
    national = _app(database_url, tmp_path / "nns", "national")
    _register_first_member(national, tmp_path / "f1")
    national_backup = tmp_path / "nns.kopia"
    runner = national.test_cli_runner()
    assert runner.invoke(args=["backup", str(national_backup)]).exit_code == 0
    refused = runner.invoke(args=["restore", str(forbund_backup), "--yes"])
    assert (refused.exit_code, refused.output) == (
        1,
        "Fel: Säkerhetskopian är från ett förbunds instans, men det här är den nationella "
        "instansen (NNS). Ingenting har ändrats.\n",
    )
    assert count_rows(national, "national_member") == 1
    assert count_rows(national, "publication") == 0
    national.extensions["engine"].dispose()
    refused = forbund.test_cli_runner().invoke(args=["restore", str(national_backup), "--yes"])
    assert refused.exit_code == 1
    assert "Säkerhetskopian är från den nationella instansen (NNS), men det här är ett " in (
        refused.output
    )
    assert count_rows(forbund, "national_member") == 1  # the national database as it was
    forbund.extensions["engine"].dispose()
    restored = runner.invoke(args=["restore", str(national_backup), "--yes"])
    assert restored.exit_code == 0, restored.output  # its own kind is restored
    national.extensions["engine"].dispose()


def test_admin_page_shows_every_row_before_the_audited_download(forbund):
    _seed_forbund(forbund)
    forbund.test_cli_runner().invoke(args=["keys", "create"])
    with forbund.app_context():
        factories.user(db.session(), email="admin@example.invalid")
        db.session().commit()
    client = forbund.test_client()
    page = client.get("/logga-in").get_data(as_text=True)
    client.post(
        "/logga-in",
        data={
            "email": "admin@example.invalid",
            "password": factories.PASSWORD,
            "csrf_token": form_token(page),
        },
    )
    html = client.get("/admin/nns/2023").get_data(as_text=True)
    assert ORG in html
    assert "<dt>Paketnummer</dt><dd>1 (" in html  # the one the download will take
    assert "deltagare_avslut.3.v1" in html
    assert "övriga" in html
    with forbund.app_context():
        before = db.session().exec(select(func.count()).select_from(AuditEntry)).one()
    response = client.post("/admin/nns/2023/ladda-ner", data={"csrf_token": form_token(html)})
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "datapackage.sig" in _read_zip(response.data)
    with forbund.app_context():
        entries = (
            db.session().exec(select(AuditEntry).where(AuditEntry.action == "nns.exportera")).all()
        )
        assert len(entries) == 1
        assert db.session().exec(select(func.count()).select_from(AuditEntry)).one() > before
    descriptor = json.loads(_read_zip(response.data)["datapackage.json"])
    assert descriptor["nns"]["package_number"] == 1
    assert "<dt>Paketnummer</dt><dd>2 (" in client.get("/admin/nns/2023").get_data(as_text=True)
    # an unpublished year: a message, no page of rows
    missing = client.get("/admin/nns/2021", follow_redirects=True).get_data(as_text=True)
    assert "År 2021 är inte publicerat" in missing


def test_the_org_number_service_refuses_what_is_no_org_number_whoever_calls(app, admin_client):
    """The rule was only the page's: the service stored any text it was given."""
    with app.app_context():
        session = db.session()
        for raw in ("12-34", "222000-12345", "222000-123x", ""):
            with pytest.raises(SettingError, match="är inget organisationsnummer"):
                nns_package.change_org_number(session, CLI, raw)
        session.commit()  # whatever the refused calls had left would be stored now
        assert settings.get(session, nns_package.ORG_NUMBER) == ""
        audited = select(AuditEntry).where(AuditEntry.action == "nns.organisationsnummer")
        assert session.exec(audited).all() == []
    token = form_token(admin_client.get("/admin/nns").get_data(as_text=True))
    bad = admin_client.post(
        "/admin/nns/organisationsnummer",
        data={"org_number": "12-34", "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "&#39;12-34&#39; är inget organisationsnummer (tio siffror" in bad
    good = admin_client.post(
        "/admin/nns/organisationsnummer",
        data={"org_number": " 2220001234 ", "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Organisationsnumret är 222000-1234." in good
    with app.app_context():
        session = db.session()
        assert settings.get(session, nns_package.ORG_NUMBER) == "222000-1234"
        assert [e.detail for e in session.exec(audited)] == ["222000-1234"]


# --- packages made by hand, for the national checks -----------------------------------------


def _package(
    key,
    *,
    year: int = 2023,
    org: str = ORG,
    answers: list[dict] | None = None,
    modes: list[dict] | None = None,
    checksum: str | None = None,
    signed: bool = True,
    answers_csv: bytes | None = None,
    number: object = None,
) -> bytes:
    """A förbund's package; ``answers_csv``: answers.csv as these bytes (signed and
    summed all the same), to reach the CSV reading with a broken file; ``number``: the
    descriptor's package number (None: none, as before packages were numbered)."""
    answers = (
        answers
        if answers is not None
        else [
            {
                "year": year,
                "questionnaire": "personal",
                "question": 1,
                "version_id": "personal.1.v1",
                "subgroup": "",
                "answer_code": 5,
                "count": 6,
            },
        ]
    )
    modes = (
        modes
        if modes is not None
        else [{"year": year, "questionnaire": "personal", "mode": "link", "count": 6}]
    )
    resources = {
        "answers": answers_csv if answers_csv is not None else to_csv(answers, ANSWER_FIELDS),
        "questionnaires": to_csv(modes, QUESTIONNAIRE_FIELDS),
    }
    descriptor = {
        "profile": "tabular-data-package",
        "nns": {
            "year": year,
            "organisation_number": org,
            "forbund": "F",
            "instrument_checksum": checksum,
            **({"package_number": number} if number is not None else {}),
        },
        "resources": [
            {"name": n, "path": f"{n}.csv", "bytes": len(d), "hash": f"sha256:{sha256(d)}"}
            for n, d in resources.items()
        ],
    }
    body = json.dumps(descriptor).encode()
    files = {"datapackage.json": body, **{f"{n}.csv": d for n, d in resources.items()}}
    if signed:
        files["datapackage.sig"] = sign(key, body)
    return zip_files(files, year=year)


def _register_first_member(national, folder: Path):
    """Förbund Ett (``ORG``, storstad) registered with a new key made in ``folder``; its
    private key."""
    create_key(folder)
    key = load_private_key(folder)
    with national.app_context():
        s = db.session()
        national_packages.register_member(
            s,
            NNS_ADMIN,
            name="Förbund Ett",
            org_number=ORG,
            public_key=public_key_text(key),
            comparison_group="storstad",
        )
        s.commit()
    return key


@pytest.fixture
def nns(national, tmp_path):
    """A national instance with one registered förbund; yields (app, key, checksum)."""
    key = _register_first_member(national, tmp_path / "f1")
    with national.app_context():
        checksum = db.session().get(InstrumentInfo, "current").checksum
    return national, key, checksum


def _import(app, files: list[tuple[str, bytes]]) -> tuple[int, str]:
    paths = []
    folder = Path(app.instance_path) / "in"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)
        paths.append(str(folder / name))
    result = app.test_cli_runner().invoke(args=["national", "import", *paths])
    return result.exit_code, result.output


def _stored(app) -> int:
    with app.app_context():
        return db.session().exec(select(func.count()).select_from(NationalPackage)).one()


def test_a_good_package_imports_and_a_newer_one_replaces_it_audited(nns):
    app, key, checksum = nns
    code, output = _import(app, [("a.zip", _package(key, checksum=checksum))])
    assert code == 0, output
    assert "a.zip: Förbund Ett 2023, 6 enkäter – importerat." in output
    newer = _package(
        key,
        checksum=checksum,
        answers=[
            {
                "year": 2023,
                "questionnaire": "personal",
                "question": 1,
                "version_id": "personal.1.v1",
                "subgroup": "",
                "answer_code": 4,
                "count": 6,
            },
        ],
    )
    code, output = _import(app, [("b.zip", newer)])
    assert code == 0
    assert "ersatte ett äldre paket" in output
    with app.app_context():
        s = db.session()
        assert s.exec(select(NationalPackage.filename)).all() == ["b.zip"]
        assert s.exec(select(NationalCount.code)).all() == [4]
        audit = s.exec(
            select(AuditEntry.detail).where(AuditEntry.action == "riket.paket.ersätt")
        ).all()
        assert audit
        assert "ersätter a.zip" in audit[0]


def _one_answer(code: int) -> list[dict]:
    return [
        {
            "year": 2023,
            "questionnaire": "personal",
            "question": 1,
            "version_id": "personal.1.v1",
            "subgroup": "",
            "answer_code": code,
            "count": 6,
        }
    ]


def test_an_older_package_never_replaces_a_newer_one(nns):
    """The package's signed number: a lower one (the first of two sent, picked again by
    mistake, or an unnumbered one) is refused, naming both, and nothing changes; a
    higher one replaces. Two unnumbered packages replace as they always did."""
    app, key, checksum = nns

    def stored() -> list[tuple]:
        with app.app_context():
            rows = db.session().exec(
                select(NationalPackage.filename, NationalPackage.package_number)
            )
            codes = db.session().exec(select(NationalCount.code)).all()
            return [*rows.all(), codes]

    first = _package(key, checksum=checksum, answers=_one_answer(4), number=1)
    second = _package(key, checksum=checksum, answers=_one_answer(5), number=2)
    assert _import(app, [("nr1.zip", first)])[0] == 0
    assert _import(app, [("nr2.zip", second)])[0] == 0
    assert stored() == [("nr2.zip", 2), [5]]
    for name, data in (
        ("nr1.zip", first),  # replaced, so no longer "the same package"
        ("gammal.zip", _package(key, checksum=checksum, answers=_one_answer(6))),
        ("nr2-igen.zip", _package(key, checksum=checksum, answers=_one_answer(6), number=2)),
    ):
        code, output = _import(app, [(name, data)])
        assert code == 1
        assert f"{name}: paketet har nummer " in output
        assert "Förbund Ett 2023 har redan paket nummer 2 (nr2.zip): ett äldre paket" in output
        assert stored() == [("nr2.zip", 2), [5]]
    for number in (-1, "3", True, 10**9):
        bad = _package(key, checksum=checksum, number=number)
        code, output = _import(app, [("konstigt.zip", bad)])
        assert code == 1
        assert "konstigt.zip: paketnumret i datapackage.json är inte ett heltal" in output
    third = _package(key, checksum=checksum, answers=_one_answer(6), number=3)
    code, output = _import(app, [("nr3.zip", third)])
    assert code == 0, output
    assert "ersatte ett äldre paket" in output
    assert stored() == [("nr3.zip", 3), [6]]


def _bad_cases(key, other_key, checksum):
    good = _package(key, checksum=checksum)
    files = _read_zip(good)
    unsigned = {k: v for k, v in files.items() if k != "datapackage.sig"}
    altered = dict(files, **{"answers.csv": files["answers.csv"].replace(b",6\n", b",5\n")})
    resigned = dict(files, **{"datapackage.sig": sign(other_key, files["datapackage.json"])})
    line = {
        "year": 2023,
        "questionnaire": "personal",
        "question": 1,
        "version_id": "personal.1.v1",
        "subgroup": "",
    }
    csv_head = (",".join(ANSWER_FIELDS) + "\n").encode()
    csv_row = b"2023,personal,1,personal.1.v1,,5,6"
    return {
        "osignerat": (zip_files(unsigned, year=2023), "inte signerat"),
        "omsignerat": (zip_files(resigned, year=2023), "signaturen stämmer inte"),
        "ändrat": (zip_files(altered, year=2023), "kontrollsumman för answers.csv stämmer inte"),
        "okänt": (_package(key, checksum=checksum, org=OTHER_ORG), "är inte registrerat"),
        "fel-nyckel": (_package(other_key, checksum=checksum), "signaturen stämmer inte"),
        "instrument": (_package(key, checksum="0" * 64), "är inte NNS nationella instrument"),
        "år": (
            _package(key, checksum=checksum, year=2001, answers=[], modes=[]),
            "ligger utanför instrumentet",
        ),
        "negativt": (
            _package(key, checksum=checksum, answers=[dict(line, answer_code=5, count=-2)]),
            "kan inte stämma",
        ),
        "för-många": (
            _package(key, checksum=checksum, answers=[dict(line, answer_code=5, count=7)]),
            "har 7 svar men enkäten bara 6",
        ),
        "kod": (
            _package(key, checksum=checksum, answers=[dict(line, answer_code=9, count=1)]),
            "svarskoden '9' finns inte på frågans skala",
        ),
        "inte-zip": (b"year,questionnaire\n", "ingen läsbar zip-fil"),
        "fler-värden": (
            _package(key, checksum=checksum, answers_csv=csv_head + csv_row + b",7,8\n"),
            "answers.csv, rad 2: raden har fler värden än rubrikraden.",
        ),
        "avkortad": (
            _package(key, checksum=checksum, answers_csv=csv_head + b'2023,"personal'),
            "answers.csv: Rad 2: filen slutar mitt i ett fält inom citattecken",
        ),
        "nul": (
            _package(key, checksum=checksum, answers_csv=csv_head + csv_row + b"\x00\n"),
            "answers.csv innehåller ogiltiga tecken (NUL).",
        ),
        "understreck": (  # Python's int("0_6") is 6
            _package(key, checksum=checksum, answers_csv=csv_head + csv_row[:-1] + b"0_6\n"),
            "antalet '0_6' kan inte stämma",
        ),
        "extra-fil": (_zip_as_given({**files, "mer.txt": b"x"}), "andra filer än ett paket"),
        "dubbel-fil": (
            _zip_as_given(files, extra=[("answers.csv", files["answers.csv"])]),
            "andra filer än ett paket",
        ),
        "komprimerat": (_zip_as_given(files, deflated=True), "filerna i paketet är komprimerade"),
        "djup-beskrivning": (
            _zip_as_given({**files, "datapackage.json": b"[" * 100_000}),
            "datapackage.json går inte att läsa som en NNS-paketbeskrivning.",
        ),
        "stor-beskrivning": (
            _zip_as_given({**files, "datapackage.json": b" " * 300_000 + b"{}"}),
            "datapackage.json går inte att läsa som en NNS-paketbeskrivning.",
        ),
    }


def _zip_as_given(files: dict[str, bytes], *, extra=(), deflated: bool = False) -> bytes:
    """A zip of exactly these entries (``extra``: more, even under a name already there)."""
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name": meant
        with zipfile.ZipFile(out, "w", method) as archive:
            for name, data in [*files.items(), *extra]:
                archive.writestr(name, data)
    return out.getvalue()


def test_every_bad_package_names_file_and_reason_and_imports_nothing(nns, tmp_path):
    app, key, checksum = nns
    create_key(tmp_path / "other")
    other = load_private_key(tmp_path / "other")
    for name, (data, reason) in _bad_cases(key, other, checksum).items():
        # a good package beside it: all or nothing
        code, output = _import(
            app, [("bra.zip", _package(key, checksum=checksum)), (f"{name}.zip", data)]
        )
        assert code == 1, (name, output)
        assert f"{name}.zip: " in output, (name, output)
        assert reason in output, (name, output)
        assert "Ingenting har importerats" in output
        assert _stored(app) == 0, name


def test_a_validly_signed_package_with_absurd_year_or_counts_is_refused_not_a_traceback(nns):
    """A registered förbund's key signs whatever its program is given: a count beyond a
    32-bit column (PostgreSQL) or a year a zip cannot date is refused in Swedish."""
    app, key, checksum = nns
    huge = 2**31 + 5
    line = {"year": 2023, "questionnaire": "personal"}
    cases = {
        "stort-antal": (
            _package(
                key,
                checksum=checksum,
                answers=[
                    dict(
                        line,
                        question=1,
                        version_id="personal.1.v1",
                        subgroup="",
                        answer_code=5,
                        count=huge,
                    )
                ],
                modes=[dict(line, mode="link", count=huge)],
            ),
            "kan inte stämma",
        ),
        "år-långt-fram": (_package_with_year(key, checksum, 10**25), "har inte börjat"),
        "år-decimal": (_package_with_year(key, checksum, 2023.5), "går inte att läsa"),
    }
    for name, (data, reason) in cases.items():
        code, output = _import(app, [(f"{name}.zip", data)])
        assert code == 1, (name, output)
        assert f"{name}.zip: " in output, (name, output)
        assert reason in output, (name, output)
        assert "Traceback" not in output
        assert _stored(app) == 0, name


def test_a_zip_bomb_is_refused_from_the_zips_directory_before_anything_is_unpacked(nns):
    """A package of a few hundred kB whose answers.csv unpacks to 200 MB: refused on what
    the zip's directory says, so the import's memory stays far below the unpacked size."""
    app, key, checksum = nns
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "datapackage.json", _read_zip(_package(key, checksum=checksum))["datapackage.json"]
        )
        with archive.open("answers.csv", "w") as bomb:
            for _ in range(200):
                bomb.write(bytes(1024 * 1024))
    assert len(out.getvalue()) < 1024 * 1024
    tracemalloc.start()
    try:
        code, output = _import(app, [("bomb.zip", out.getvalue())])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 1
    assert "bomb.zip: filerna i paketet är komprimerade" in output
    assert peak < 50 * 1024 * 1024, peak
    assert _stored(app) == 0


def test_a_signed_descriptor_with_a_list_for_a_path_is_refused_in_swedish(nns):
    app, key, checksum = nns
    files = _read_zip(_package(key, checksum=checksum))
    descriptor = json.loads(files["datapackage.json"])
    descriptor["resources"][0]["path"] = ["answers.csv"]
    body = json.dumps(descriptor).encode()
    files.update({"datapackage.json": body, "datapackage.sig": sign(key, body)})
    code, output = _import(app, [("lista.zip", zip_files(files, year=2023))])
    assert code == 1
    assert "lista.zip: resursen answers saknas i paketet." in output
    assert "Traceback" not in output
    assert _stored(app) == 0


def test_a_signed_software_version_with_a_nul_is_kept_without_it(nns):
    """The descriptor's software version is the sender's text, shown on NNS's pages: a NUL
    in it (a broken or hostile sender) made PostgreSQL refuse the import with a 500."""
    app, key, checksum = nns
    files = _read_zip(_package(key, checksum=checksum))
    descriptor = json.loads(files["datapackage.json"])
    descriptor["nns"]["software_version"] = "1.2\x00\u202e.3" + "9" * 60
    body = json.dumps(descriptor).encode()
    files.update({"datapackage.json": body, "datapackage.sig": sign(key, body)})
    code, output = _import(app, [("nul.zip", zip_files(files, year=2023))])
    assert code == 0, output
    with app.app_context():
        [version] = db.session().exec(select(NationalPackage.software_version)).all()
    assert version == ("1.2.3" + "9" * 60)[:40]


def _package_with_year(key, checksum: str, year) -> bytes:
    """A good package whose signed descriptor gives ``year`` (zipped with 2023's date)."""
    files = _read_zip(_package(key, checksum=checksum))
    descriptor = json.loads(files["datapackage.json"])
    descriptor["nns"]["year"] = year
    body = json.dumps(descriptor).encode()
    files.update({"datapackage.json": body, "datapackage.sig": sign(key, body)})
    return zip_files(files, year=2023)


def test_register_refuses_control_characters_and_formulas_in_names(nns):
    """Names go into NNS's report and the Riket file every förbund imports: a
    bidirectional override or a leading = is refused, and nothing is registered."""
    app, key, _ = nns
    cases = [
        ({"name": "Förbund\u202eTvå"}, "styrtecken"),
        ({"name": "=HYPERLINK(1)"}, "får inte börja med ="),
        ({"name": "Förbund Två", "comparison_group": "gles\u2066bygd"}, "styrtecken"),
        ({"name": "Förbund Två", "comparison_group": "+storstad"}, "får inte börja med"),
    ]
    for given, reason in cases:
        with app.app_context():
            s = db.session()
            with pytest.raises(national_packages.MemberError, match=reason):
                national_packages.register_member(
                    s,
                    NNS_ADMIN,
                    org_number="222000-0042",
                    public_key=public_key_text(key),
                    **{"comparison_group": "", **given},
                )
            s.rollback()
            assert [m.name for m in national_packages.members(s)] == ["Förbund Ett"]


def test_a_key_of_small_order_is_no_key_and_is_not_registered(nns):
    """32 zero bytes (or another of the eight points of small order, also written with
    y above p) decode as an Ed25519 public key, but no key pair has them: such a "key"
    was registered, and a förbund's packages would prove nothing."""
    app, key, _ = nns
    p = 2**255 - 19
    y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
    weak = [bytes(32), (1).to_bytes(32, "little"), (p - 1).to_bytes(32, "little")]
    weak += [y8.to_bytes(32, "little"), (p - y8).to_bytes(32, "little")]
    weak += [(p + 1).to_bytes(32, "little"), (1 | 1 << 255).to_bytes(32, "little")]
    for raw in weak:
        text = base64.b64encode(raw).decode()
        with app.app_context():
            s = db.session()
            with pytest.raises(national_packages.MemberError, match="ingen riktig publik nyckel"):
                national_packages.register_member(
                    s, NNS_ADMIN, name="Förbund Svag", org_number="222000-0042",
                    public_key=text, comparison_group="",
                )  # fmt: skip
            s.rollback()
            assert [m.name for m in national_packages.members(s)] == ["Förbund Ett"]
    assert parse_public_key(public_key_text(key)) is not None  # a real one still reads


def test_a_key_registered_for_one_förbund_is_refused_for_another(nns):
    """Packages are told apart by the key that signed them: two förbund sharing one could
    each send packages in the other's name. Base64 can spell a key two ways (the last
    character's unused bits): compared as bytes."""
    app, key, _ = nns
    text = public_key_text(key)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    respelled = text[:42] + alphabet[alphabet.index(text[42]) ^ 0b01] + text[43:]
    assert respelled != text
    assert base64.b64decode(respelled) == base64.b64decode(text)
    for spelling in (text, respelled):
        with app.app_context():
            s = db.session()
            with pytest.raises(
                national_packages.MemberError, match="redan registrerad för Förbund Ett"
            ):
                national_packages.register_member(
                    s, NNS_ADMIN, name="Förbund Två", org_number="222000-0042", public_key=spelling
                )
            s.rollback()
            assert [m.name for m in national_packages.members(s)] == ["Förbund Ett"]
    with app.app_context():  # the förbund itself keeps its key when it is updated
        s = db.session()
        national_packages.register_member(
            s, NNS_ADMIN, name="Förbund Ett", org_number=ORG, public_key=text, comparison_group="x"
        )
        s.commit()
        assert [m.comparison_group for m in national_packages.members(s)] == ["x"]


def test_the_same_package_twice_is_refused(nns):
    app, key, checksum = nns
    data = _package(key, checksum=checksum)
    assert _import(app, [("a.zip", data)])[0] == 0
    code, output = _import(app, [("igen.zip", data)])
    assert code == 1
    assert "igen.zip: samma paket (Förbund Ett 2023) är redan importerat" in output
    assert _stored(app) == 1


@pytest.mark.parametrize("second_is", ["the same", "an older"])
def test_two_package_imports_at_once_wait_for_each_other(nns, second_is):
    """Two imports at the same moment (two tabs, a double click): both checked before
    either had stored, and the second met the first's row (unique förbund and year,
    unique digest) as a database error, a 500 on the page. Now the second waits for the
    first's commit (``locks.in_turn``) and is refused in Swedish, naming the first."""
    app, key, checksum = nns
    newer = _package(key, checksum=checksum, answers=_one_answer(5), number=2)
    older = _package(key, checksum=checksum, answers=_one_answer(4), number=1)

    def first(s) -> None:  # not committed yet: the helper commits it
        national_packages.import_packages(s, CLI, instrument_from_db(s), [("nr2.zip", newer)])

    def second(s) -> str:
        sent = newer if second_is == "the same" else older
        try:
            national_packages.import_packages(s, CLI, instrument_from_db(s), [("andra.zip", sent)])
        except national_packages.PackageRefused as exc:
            s.rollback()
            return "\n".join(exc.errors)
        s.commit()
        return "stored"

    _, said = second_waits_for_first(app, first, second)
    expected = {
        "the same": "andra.zip: samma paket (Förbund Ett 2023) är redan importerat (nr2.zip).",
        "an older": "andra.zip: paketet har nummer 1, men Förbund Ett 2023 har redan paket "
        "nummer 2 (nr2.zip): ett äldre paket ersätter aldrig ett nyare",
    }[second_is]
    assert said.startswith(expected), said
    with app.app_context():
        rows = db.session().exec(select(NationalPackage.filename)).all()
    assert rows == ["nr2.zip"]


def test_changing_any_single_byte_of_a_package_fails_its_check(nns):
    app, key, checksum = nns
    data = _package(key, checksum=checksum)
    with app.app_context():
        s = db.session()
        instrument = instrument_from_db(s)
        national_packages.check_package(s, instrument, data=data, filename="a.zip")  # passes
        for position in range(len(data)):
            tampered = bytearray(data)
            tampered[position] ^= 0x01
            with pytest.raises(national_packages.PackageRefused) as refused:
                national_packages.check_package(
                    s, instrument, data=bytes(tampered), filename="a.zip"
                )
            assert refused.value.errors[0].startswith("a.zip: ")


def test_modes_refuse_each_others_pages_and_commands(nns, forbund):
    national_app = nns[0]
    assert national_app.test_client().get("/admin").status_code == 404
    assert national_app.test_client().get("/rapport").status_code == 404
    refused = national_app.test_cli_runner().invoke(args=["publish", "--year", "2023"])
    assert refused.exit_code == 1
    assert "förbunds instans" in refused.output
    assert forbund.test_client().get("/riket").status_code == 404
    refused = forbund.test_cli_runner().invoke(args=["national", "publish", "--year", "2023"])
    assert refused.exit_code == 1
    assert "SURVEYS_MODE=national" in refused.output


# --- the whole loop: `surveys demo --national` ---------------------------------------------


def _percent(part: int, whole: int) -> int | None:
    return None if whole == 0 else (200 * part + whole) // (2 * whole)


def _independent_riket(root: Path, instrument) -> dict[tuple, dict]:
    """Riket, the groups and each förbund from the packages' CSV files, in plain Python."""
    from surveys.national.demo import FORBUND

    group_of = {f.org_number: f.group or "utan jämförelsegrupp" for f in FORBUND}
    name_of = {f.org_number: f.name for f in FORBUND}
    grouping = {(s.key, o.code): o.group for s in instrument.scales.values() for o in s.options}
    sums: dict[tuple, dict[str, int]] = {}
    for path in sorted(root.glob("forbund-*/*.zip")):
        files = _read_zip(path.read_bytes())
        org = json.loads(files["datapackage.json"])["nns"]["organisation_number"]
        scopes = ["", GROUP_PREFIX + group_of[org], name_of[org]]
        for row in _rows(files["answers.csv"]):
            q = instrument.question(row["questionnaire"], int(row["question"]))
            group = grouping[(q.scale, int(row["answer_code"]))]
            subgroups = ["samtliga"] + (
                {"kvinna": ["kvinnor"], "man": ["man"]}.get(row["subgroup"], [])
            )
            numbers = [q.number] + ([0] if not q.gate else [])  # 0: the pooled row
            for scope in scopes:
                for subgroup in subgroups:
                    for number in numbers:
                        key = (int(row["year"]), scope, row["questionnaire"], number, subgroup)
                        if number == 0:
                            key = (*key, q.indicator)
                        cell = sums.setdefault(
                            key, {"n": 0, "answered": 0, "negative": 0, "neutral": 0, "positive": 0}
                        )
                        count = int(row["count"])
                        cell["n"] += count
                        if group is not None:
                            cell["answered"] += count
                            cell[group] += count
    return sums


def _surveys(tmp_path: Path, instance: Path, *args: str) -> subprocess.CompletedProcess:
    """The ``surveys`` command as a user runs it: no SURVEYS_MODE, no DATABASE_URL."""
    env = {k: v for k, v in os.environ.items() if k not in ("SURVEYS_MODE", "DATABASE_URL")}
    env["SURVEYS_INSTANCE"] = str(instance)
    command = Path(sys.executable).parent / "surveys"
    return subprocess.run(
        [str(command), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )


def test_demo_national_runs_the_loop_and_riket_equals_the_packages(tmp_path):
    """`surveys demo --national` on a fresh instance folder, without SURVEYS_MODE: NNS's
    instance is made beside the förbund's, whose own database stays untouched."""
    instance = tmp_path / "instance"
    result = _surveys(tmp_path, instance, "demo", "--national")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Riket 2024 publicerat" in result.stdout
    assert not (instance / "indikatorenkater.sqlite").exists()  # `make run`'s förbund
    root = instance / "nationell-demo"
    national = _app(
        f"sqlite:///{root / 'nns' / 'indikatorenkater.sqlite'}", root / "nns", "national"
    )
    with national.app_context():
        s = db.session()
        instrument = instrument_from_db(s)
        expected = _independent_riket(root, instrument)
        from surveys.reports.data import latest_publications

        pubs = latest_publications(s)
        rows = s.exec(
            select(PublicationRow).where(
                PublicationRow.publication_id.in_([p.id for p in pubs.values()])
            )
        ).all()
        year_of = {p.id: y for y, p in pubs.items()}
    assert sorted(pubs) == [2022, 2023, 2024]
    compared = 0
    scopes = set()
    for row in rows:
        if row.suppressed:
            continue
        key = (
            year_of[row.publication_id],
            row.scope,
            row.questionnaire,
            row.question,
            row.subgroup,
        )
        if row.question == 0:
            key = (*key, row.indicator)
        want = expected[key]
        assert (row.n, row.answered, row.positive_n, row.negative_n, row.neutral_n) == (
            want["n"],
            want["answered"],
            want["positive"],
            want["negative"],
            want["neutral"],
        ), key
        assert row.positive == _percent(want["positive"], want["answered"]), key
        assert row.negative == _percent(want["negative"], want["answered"]), key
        compared += 1
        scopes.add(row.scope)
    assert compared > 1000
    assert {"", "grupp:storstad", "grupp:glesbygd", "grupp:utan jämförelsegrupp"} <= scopes
    assert len(scopes) == 4 + 5
    # back at a demo förbund: the Riket file verified with NNS's key and in its report
    riket = list(csv.DictReader(io.StringIO((root / "riket-2024.csv").read_text())))
    assert {r["comparison_group"] for r in riket} == {
        "",
        "storstad",
        "glesbygd",
        "utan jämförelsegrupp",
    }
    forbund_app = _app(
        f"sqlite:///{root / 'forbund-1' / 'indikatorenkater.sqlite'}", root / "forbund-1", "forbund"
    )
    with forbund_app.app_context():
        s = db.session()
        figures = {
            (f.year, f.questionnaire_key, f.question, f.subgroup, f.comparison_group): (
                f.positive,
                f.n,
            )
            for f in s.exec(select(NationalFigure)).all()
        }
        from surveys.models import PublicationNational
        from surveys.services.publications import latest

        in_report = s.exec(
            select(PublicationNational).where(
                PublicationNational.publication_id == latest(s, 2024).id
            )
        ).all()
    forbund_app.extensions["engine"].dispose()
    for r in riket:  # Riket and every comparison group, with n
        key = (2024, r["questionnaire"], int(r["question"]), r["subgroup"], r["comparison_group"])
        assert figures[key] == (int(r["positive"]), int(r["n"]))
    # the 2024 publication froze Riket and forbund-1's own group (storstad), no other group
    assert {f.comparison_group for f in in_report} == {"", "storstad"}
    assert len(in_report) == sum(1 for k in figures if k[4] in ("", "storstad")) > 0
    national.extensions["engine"].dispose()
    _demo_report_shows_riket(tmp_path, root, instrument, expected, riket)


def _demo_report_shows_riket(tmp_path, root, instrument, expected, riket) -> None:
    """The demo förbund's 2024 report (as `surveys report` writes it) shows, beside every
    shown row, Riket as recomputed from the five packages: "X% (n=N)"; the published
    Riket file decides which rows Riket has (its disclosure control)."""
    out = tmp_path / "rapport.html"
    result = _surveys(
        tmp_path,
        root / "forbund-1",
        "report",
        "--year",
        "2024",
        "--format",
        "html",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    html = out.read_text()
    assert "Jämförelsegrupp storstad" in html
    published = {
        (r["questionnaire"], int(r["question"]), r["subgroup"])
        for r in riket
        if r["comparison_group"] == ""
    }
    labels = {"Samtliga": "samtliga", "kvinnor": "kvinnor", "män": "man"}
    names = {qn.name: qn.key for qn in instrument.questionnaires}
    checked = 0
    heading = None
    for cells in table_rows(html):
        if len(cells) == 1 and cells[0].startswith("Fråga "):
            number, _, name = cells[0][len("Fråga ") :].partition(" – ")
            qn_key = next((k for n, k in names.items() if name.startswith(n)), None)
            heading = (qn_key, int(number))
            continue
        label = cells[0].split(" (n=")[0] if cells else ""
        if heading is None or heading[0] is None or label not in labels or len(cells) < 8:
            continue
        key = (*heading, labels[label])
        if key not in published:
            assert cells[5] == "", key
            continue
        want = expected[(2024, "", *key)]
        n = f"{want['n']:,}".replace(",", " ")
        assert cells[5] == f"{_percent(want['positive'], want['answered'])}% (n={n})", key
        checked += 1
    assert checked > 30


def test_riket_file_needs_nns_signature_when_a_key_is_configured(forbund, tmp_path):
    nns_key_dir = tmp_path / "nns-key"
    create_key(nns_key_dir)
    key = load_private_key(nns_key_dir)
    data = (
        b"year,questionnaire,question,subgroup,positive,n,comparison_group\n"
        b"2024,deltagare_avslut,1,samtliga,88,3970,\n"
        b"2024,deltagare_avslut,1,samtliga,91,800,storstad\n"
    )
    path = tmp_path / "riket-2024.csv"
    path.write_bytes(data)
    runner = forbund.test_cli_runner()
    with forbund.app_context():
        from surveys.services import settings

        settings.put(db.session(), "nns_public_key", public_key_text(key))
        db.session().commit()

    def imported() -> list:
        with forbund.app_context():
            return db.session().exec(select(NationalFigure.positive)).all()

    result = runner.invoke(args=["import", "national", str(path)])
    assert result.exit_code == 1
    assert "riket-2024.csv: signaturen saknas" in result.output
    create_key(tmp_path / "fake")
    Path(str(path) + ".sig").write_bytes(sign(load_private_key(tmp_path / "fake"), data))
    result = runner.invoke(args=["import", "national", str(path)])
    assert result.exit_code == 1
    assert "signaturen stämmer inte med NNS publika nyckel" in result.output
    assert imported() == []
    Path(str(path) + ".sig").write_bytes(sign(key, data))
    result = runner.invoke(args=["import", "national", str(path)])
    assert result.exit_code == 0, result.output
    assert sorted(imported()) == [88, 91]  # Riket's row and the comparison group's


def test_an_older_riket_file_never_replaces_a_newer_one(forbund, tmp_path):
    """NNS's Riket file carries its publication's version (signed with the bytes). A
    förbund refuses a file of the year older than the one it holds, or one without a
    version, naming both and changing nothing; a newer file replaces the year's Riket
    whole (a row NNS no longer has goes too); removing the newer import lets an older
    one in again. Another year, and typed-in figures without versions, are as before."""
    header = "year,questionnaire,question,subgroup,positive,n,comparison_group,riket_version\n"
    runner = forbund.test_cli_runner()

    def riket(name: str, *rows: str, head: str = header) -> str:
        path = tmp_path / name
        path.write_text(head + "".join(f"{row}\n" for row in rows))
        return str(path)

    def figures() -> list[tuple]:
        with forbund.app_context():
            return sorted(
                db.session()
                .exec(
                    select(
                        NationalFigure.year,
                        NationalFigure.question,
                        NationalFigure.comparison_group,
                        NationalFigure.positive,
                        NationalFigure.riket_version,
                    )
                )
                .all()
            )

    def imported(path: str, *options: str) -> str:
        result = runner.invoke(args=["import", "national", path, *options])
        assert result.exit_code == 0, result.output
        return result.output

    def refused(path: str, message: str) -> None:
        before = figures()
        result = runner.invoke(args=["import", "national", path])
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert max(map(len, result.output.splitlines())) <= 200  # each line fits a flash
        assert "Traceback" not in result.output
        assert figures() == before

    second = riket(
        "riket-2024-v2.csv",
        "2024,deltagare_avslut,1,samtliga,88,3970,,2",
        "2024,deltagare_avslut,2,samtliga,70,3970,,2",
        "2024,deltagare_avslut,1,samtliga,91,800,storstad,2",
    )
    assert "jämförelsegruppen" not in imported(second, "--jamforelsegrupp", "storstad")
    held = [(2024, 1, "", 88, 2), (2024, 1, "storstad", 91, 2), (2024, 2, "", 70, 2)]
    assert figures() == held
    refused(
        riket("riket-2024-v1.csv", "2024,deltagare_avslut,1,samtliga,80,3900,,1"),
        "riket-2024-v1.csv: rikets fil för 2024 är version 1, men förbundet har redan "
        "version 2 (riket-2024-v2.csv).\nEn äldre fil ersätter aldrig en nyare.",
    )
    refused(
        riket(
            "utan-version.csv",
            "2024,deltagare_avslut,1,samtliga,80",
            head="year,questionnaire,question,subgroup,positive\n",
        ),
        "utan-version.csv: rikets fil för 2024 saknar versionsnummer, men förbundet har "
        "redan version 2",
    )
    refused(
        riket(
            "blandad.csv",
            "2024,deltagare_avslut,1,samtliga,88,3970,,3",
            "2024,deltagare_avslut,2,samtliga,70,3970,,",
        ),
        "blandad.csv: raderna för 2024 har olika riket_version ((tom), 3).",
    )
    for bad in ("0", "abc", "1.5", "-3", "1000001"):
        refused(
            riket("trasig.csv", f"2024,deltagare_avslut,1,samtliga,88,3970,,{bad}"),
            f"Rad 2, kolumn riket_version: {bad!r} är inget versionsnummer",
        )
    imported(second)  # the same version again: the same figures
    assert figures() == held
    typed = riket(  # another year, typed in from an old report: no version, as before
        "riket-2023.csv",
        "2023,deltagare_avslut,1,samtliga,85",
        head="year,questionnaire,question,subgroup,positive\n",
    )
    imported(typed)
    third = riket(
        "riket-2024-v3.csv",
        "2024,deltagare_avslut,1,samtliga,87,4010,,3",
        "2024,deltagare_avslut,1,samtliga,90,810,storstadsnära,3",
    )
    said = imported(third)  # NNS regrouped: the förbund's group is gone, and it is told
    assert (
        "Obs: jämförelsegruppen 'storstad' finns inte längre i rikets filer, så rapporten "
        "visar ingen grupp. Välj en av: storstadsnära."
    ) in said
    assert figures() == [
        (2023, 1, "", 85, None),
        (2024, 1, "", 87, 3),
        (2024, 1, "storstadsnära", 90, 3),
    ]  # question 2 is no longer in NNS's Riket of 2024: gone with the rest of version 2
    with forbund.app_context():
        s = db.session()
        batch = s.exec(select(ImportBatch).where(ImportBatch.filename == "riket-2024-v3.csv"))
        admin = Actor(email="admin@example.invalid", role=Role.admin.value)
        assert imports.remove_import(s, admin, batch.one().id) is not None
        s.commit()
    imported(riket("riket-2024-v1.csv", "2024,deltagare_avslut,1,samtliga,80,3900,,1"))
    assert figures() == [(2023, 1, "", 85, None), (2024, 1, "", 80, 1)]


def test_two_riket_imports_at_once_never_leave_the_older(forbund, database_url):
    """Two administrators import at the same moment (different rows, so no key meets
    another): the second waits until the first commits (``locks.in_turn``), then checks
    its version against it. Version 3 committed first: version 2 is refused, and nothing
    of it is mixed into the year. On both databases: on SQLite the second waits for the
    write lock the first took before its check."""
    admin = Actor(email="admin@example.invalid", role=Role.admin.value)
    head = "year,questionnaire,question,subgroup,positive,n,comparison_group,riket_version\n"

    def file(question: int, version: int) -> bytes:
        return f"{head}2024,deltagare_avslut,{question},samtliga,80,3970,,{version}\n".encode()

    def import_(s, question: int, version: int) -> None:
        imports.import_figures(
            s, admin, instrument_from_db(s), "national", data=file(question, version),
            filename=f"v{version}.csv",
        )  # fmt: skip

    def second(s) -> str:
        try:
            import_(s, 2, 2)
        except FileError as exc:
            s.rollback()
            return "\n".join(exc.errors)
        s.commit()
        return "stored"

    # the first, version 3, is committed by the helper once the second is seen waiting
    _, said = second_waits_for_first(forbund, lambda s: import_(s, 1, 3), second)
    assert said.startswith(
        "v2.csv: rikets fil för 2024 är version 2, men förbundet har redan version 3 (v3.csv)."
    )
    with forbund.app_context():
        stored = db.session().exec(select(NationalFigure.question, NationalFigure.riket_version))
        assert stored.all() == [(1, 3)]


def test_a_small_förbund_cannot_be_derived_through_its_comparison_group(national, tmp_path):
    """B (3 answers) sits in group g with A; C has no group. Hiding B and the smallest
    other förbund (C) for Riket = A + B + C alone would leave B = g − A: the three
    levels are protected together."""
    sizes = {
        "A": (20, "g", "222000-0001"),
        "B": (3, "g", "222000-0002"),
        "C": (10, "", "222000-0003"),
    }
    files = []
    with national.app_context():
        s = db.session()
        checksum = s.get(InstrumentInfo, "current").checksum
        for name, (count, group, org) in sizes.items():
            create_key(tmp_path / name)
            key = load_private_key(tmp_path / name)
            national_packages.register_member(
                s,
                NNS_ADMIN,
                name=name,
                org_number=org,
                public_key=public_key_text(key),
                comparison_group=group,
            )
            line = {
                "year": 2023,
                "questionnaire": "personal",
                "question": 1,
                "version_id": "personal.1.v1",
                "subgroup": "",
            }
            files.append(
                (
                    f"{name}.zip",
                    _package(
                        key,
                        org=org,
                        checksum=checksum,
                        answers=[dict(line, answer_code=5, count=count)],
                        modes=[
                            {
                                "year": 2023,
                                "questionnaire": "personal",
                                "mode": "link",
                                "count": count,
                            }
                        ],
                    ),
                )
            )
        s.commit()
    code, output = _import(national, files)
    assert code == 0, output
    result = national.test_cli_runner().invoke(args=["national", "publish", "--year", "2023"])
    assert result.exit_code == 0, result.output
    with national.app_context():
        rows = (
            db.session()
            .exec(
                select(PublicationRow).where(
                    PublicationRow.question == 1, PublicationRow.questionnaire == "personal"
                )
            )
            .all()
        )
    shown = {r.scope: r.positive_n for r in rows}
    assert set(shown) == {"", "A", "B", "C", "grupp:g", "grupp:utan jämförelsegrupp"}
    assert shown["B"] is None  # fewer than 5 answers
    visible = {scope for scope, value in shown.items() if value is not None}
    # no way to B through any relation: g − A, Riket − A − C, Riket − (utan) − A
    assert not {"grupp:g", "A"} <= visible
    assert not {"", "A", "C"} <= visible
    assert not {"", "grupp:utan jämförelsegrupp", "A"} <= visible


def _signed_in(app):
    with app.app_context():
        factories.user(db.session(), email="nns@example.invalid")
        db.session().commit()
    client = app.test_client()
    page = client.get("/logga-in").get_data(as_text=True)
    response = client.post(
        "/logga-in",
        data={
            "email": "nns@example.invalid",
            "password": factories.PASSWORD,
            "csrf_token": form_token(page),
        },
    )
    assert response.headers["Location"].endswith("/riket")
    return client


def test_nns_pages_register_upload_publish_and_report(nns, tmp_path):
    app, key, checksum = nns
    client = _signed_in(app)
    home = client.get("/riket").get_data(as_text=True)
    token = form_token(home)
    bad = client.post(
        "/riket/forbund",
        data={
            "name": "Nytt",
            "org_number": "12-34",
            "public_key": public_key_text(key),
            "csrf_token": token,
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "&#39;12-34&#39; är inget organisationsnummer" in bad
    assert "Ingenting har ändrats" in bad
    good = _package(key, checksum=checksum)
    broken = bytearray(good)
    broken[len(broken) // 2] ^= 0xFF
    page = client.post(
        "/riket/paket",
        data={
            "files": [(io.BytesIO(good), "bra.zip"), (io.BytesIO(bytes(broken)), "trasig.zip")],
            "csrf_token": token,
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "trasig.zip: " in page
    assert "Ingenting har importerats" in page
    assert _stored(app) == 0
    page = client.post(
        "/riket/paket",
        data={"files": [(io.BytesIO(good), "bra.zip")], "csrf_token": token},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "bra.zip: Förbund Ett 2023, 6 enkäter – importerat." in page
    done = client.post(
        "/riket/publicera", data={"year": "2023", "csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Riket 2023 är publicerat (version 1)" in done  # the job, done in the request
    report = client.get("/riket/2023").get_data(as_text=True)
    assert "Förbunden bredvid Riket" in report
    assert "Förbund Ett" in report
    assert "storstad" in report
    with app.app_context():
        actions = {e.action for e in db.session().exec(select(AuditEntry)).all()}
    assert {"riket.paket.importera", "riket.publicera"} <= actions


def test_the_national_actions_refuse_anyone_but_the_administrator(nns):
    """register_member, import_packages and publish_year take an Actor: a reader at NNS
    is refused before anything is written."""
    app, key, checksum = nns
    reader = Actor(email="l@example.invalid", role=Role.reader.value)
    package = ("bra.zip", _package(key, checksum=checksum))
    with app.app_context():
        s = db.session()
        instrument = instrument_from_db(s)
        with pytest.raises(Refused, match="bara administratören"):
            national_packages.register_member(
                s, reader, name="Nytt", org_number=OTHER_ORG, public_key=public_key_text(key)
            )
        with pytest.raises(Refused, match="bara administratören"):
            national_packages.import_packages(s, reader, instrument, [package])
        with pytest.raises(Refused, match="bara administratören"):
            publish_year(s, reader, instrument, year=2023, min_cell=5)
        s.commit()  # whatever the refused calls had left would be stored now
        assert [m.name for m in national_packages.members(s)] == ["Förbund Ett"]
        written = s.exec(select(AuditEntry).where(AuditEntry.user_email == reader.email))
        assert written.all() == []
    assert _stored(app) == 0


def test_national_publish_is_refused_while_the_pages_job_for_the_year_is_active(nns):
    """`surveys national publish` published beside a queued or running job of the page's."""
    app, key, checksum = nns
    assert _import(app, [("bra.zip", _package(key, checksum=checksum))])[0] == 0
    with app.app_context():
        session = db.session()
        jobs.request_national_publish(session, NNS_ADMIN, year=2023, min_cell=5)
        session.commit()
    runner = app.test_cli_runner()
    done = runner.invoke(args=["national", "publish", "--year", "2023"])
    assert (done.exit_code, done.output) == (
        1,
        "Fel: Riket 2023 håller redan på att publiceras (ett publiceringsjobb för året "
        "väntar eller pågår). Vänta tills det är klart. Ingenting har publicerats.\n",
    )
    assert _audited(app, "riket.publicera") == []
    with app.app_context():
        session = db.session()
        assert session.exec(select(func.count()).select_from(Publication)).one() == 0
        job = session.exec(select(BackgroundJob)).one()
        job.status = "failed"  # the job is over: the command may publish
        session.commit()
    done = runner.invoke(args=["national", "publish", "--year", "2023"])
    assert done.exit_code == 0, done.output
    assert [who for who, _ in _audited(app, "riket.publicera")] == ["kommandoraden"]


def test_the_riket_file_is_one_audited_action_from_the_page_and_the_cli(nns, tmp_path):
    """riket_file.export_riket behind both: the same file, `riket.exportera` with the same
    detail "<year>: riket-<year>.csv" by whoever took it out (not the name of the file the
    command was told to write); an unpublished year or a non-administrator is refused and
    nothing is audited."""
    app, key, checksum = nns
    assert _import(app, [("bra.zip", _package(key, checksum=checksum))])[0] == 0
    runner = app.test_cli_runner()
    assert runner.invoke(args=["national", "publish", "--year", "2023"]).exit_code == 0
    assert runner.invoke(args=["keys", "create"]).exit_code == 0
    out = tmp_path / "riket-ut.csv"
    unpublished = runner.invoke(args=["national", "export", "--year", "2022", "--output", str(out)])
    assert unpublished.exit_code == 1
    assert "År 2022 är inte publicerat nationellt" in unpublished.output
    signature_in_the_way = tmp_path / "riket-ut.csv.sig"
    signature_in_the_way.mkdir()  # the second file cannot be written: neither is
    blocked = runner.invoke(args=["national", "export", "--year", "2023", "--output", str(out)])
    assert blocked.exit_code == 1
    assert "riket-ut.csv.sig: det är en mapp. Ingenting har skrivits." in blocked.output
    assert sorted(p.name for p in tmp_path.glob("*riket-ut*")) == ["riket-ut.csv.sig"]
    assert _audited(app, "riket.exportera") == []
    signature_in_the_way.rmdir()
    result = runner.invoke(args=["national", "export", "--year", "2023", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert _audited(app, "riket.exportera") == [("kommandoraden", "2023: riket-2023.csv")]
    client = _signed_in(app)
    assert client.get("/riket/2022/riket.csv").status_code == 302
    page = client.get("/riket/2023/riket.csv")
    assert page.headers["Content-Disposition"] == "attachment; filename=riket-2023.csv"
    assert page.data == out.read_bytes()
    assert page.data.startswith(
        b"year,questionnaire,question,subgroup,positive,n,comparison_group,riket_version\n"
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows
    assert {r["riket_version"] for r in rows} == {"1"}  # signed with the bytes
    assert verify(
        public_key_text(load_private_key(Path(app.instance_path))),
        out.read_bytes(),
        Path(str(out) + ".sig").read_bytes(),
    )
    (cli_who, cli_detail), (page_who, page_detail) = _audited(app, "riket.exportera")
    assert (cli_who, page_who) == ("kommandoraden", "nns@example.invalid")
    assert cli_detail == page_detail == "2023: riket-2023.csv"
    reader = Actor(email="l@example.invalid", role=Role.reader.value)
    with app.app_context():
        with pytest.raises(Refused, match="bara administratören"):
            export_riket(db.session(), reader, 2023)
        db.session().commit()
    assert len(_audited(app, "riket.exportera")) == 2
    # a correction published again: the next file says version 2 (a förbund holding it
    # refuses version 1 from then on: test_an_older_riket_file_never_replaces_a_newer_one)
    assert runner.invoke(args=["national", "publish", "--year", "2023"]).exit_code == 0
    result = runner.invoke(args=["national", "export", "--year", "2023", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert {r["riket_version"] for r in csv.DictReader(io.StringIO(out.read_text()))} == {"2"}


# --- versions of a national year (DESIGN.md "Versions are tables too") ------------------


class _Members:
    """Registered förbund with keys; ``send`` imports packages of personal q1 counts."""

    def __init__(self, app, folder: Path, groups: dict[str, str]):
        self.app, self.keys, self.orgs = app, {}, {}
        with app.app_context():
            s = db.session()
            self.checksum = s.get(InstrumentInfo, "current").checksum
            for number, (name, group) in enumerate(groups.items()):
                create_key(folder / name)
                self.keys[name] = load_private_key(folder / name)
                self.orgs[name] = f"222000-{number + 1:04d}"
                self.register(name, name, group)
            s.commit()

    def register(self, org_of: str, name: str, group: str) -> None:
        national_packages.register_member(
            db.session(),
            NNS_ADMIN,
            name=name,
            org_number=self.orgs[org_of],
            public_key=public_key_text(self.keys[org_of]),
            comparison_group=group,
        )

    def send(self, counts: dict[str, int], tag: str) -> None:
        line = {"year": 2023, "questionnaire": "personal", "question": 1}
        line |= {"version_id": "personal.1.v1", "subgroup": "", "answer_code": 5}
        mode = {"year": 2023, "questionnaire": "personal", "mode": "link"}
        files = [
            (
                f"{name}-{tag}.zip",
                _package(
                    self.keys[name],
                    org=self.orgs[name],
                    checksum=self.checksum,
                    answers=[dict(line, count=count)],
                    modes=[dict(mode, count=count)],
                ),
            )
            for name, count in counts.items()
        ]
        code, output = _import(self.app, files)
        assert code == 0, output

    def publish(self) -> tuple[dict[str, int | None], dict[str, str], str]:
        """(positive_n per scope, suppression reason per scope, method note) of personal q1."""
        result = self.app.test_cli_runner().invoke(args=["national", "publish", "--year", "2023"])
        assert result.exit_code == 0, result.output
        with self.app.app_context():
            s = db.session()
            publication = s.exec(
                select(Publication).order_by(Publication.version.desc())  # type: ignore[attr-defined]
            ).first()
            rows = s.exec(
                select(PublicationRow).where(
                    PublicationRow.publication_id == publication.id,
                    PublicationRow.question == 1,
                    PublicationRow.questionnaire == "personal",
                )
            ).all()
            groups = s.exec(
                select(PublicationGroup).where(PublicationGroup.publication_id == publication.id)
            ).all()
        self.questionnaires = {g.scope: g.count for g in groups}
        shown = {r.scope: r.positive_n for r in rows}
        return shown, {r.scope: r.reason for r in rows}, publication.method_note


def test_a_replaced_package_with_few_new_answers_waits_as_a_förbunds_would(national, tmp_path):
    """B sends 2 more questionnaires in a newer package: Riket, B's group and B would
    each give those 2 away beside the first version, so B shows as before and they wait;
    5 more are shown."""
    members = _Members(national, tmp_path, {"A": "g", "B": "g", "C": ""})
    members.send({"A": 20, "B": 12, "C": 10}, "v1")
    first, _, _ = members.publish()
    assert first == {
        "": 42,
        "A": 20,
        "B": 12,
        "C": 10,
        "grupp:g": 32,
        GROUP_PREFIX + "utan jämförelsegrupp": 10,
    }

    members.send({"B": 14}, "v2")
    second, _, note = members.publish()
    assert second == first  # not hidden, not 14: B's 2 new answers wait
    assert "2 enkäter som kommit in sedan en tidigare visad version av 2023" in note
    assert "(förbund och kön)" in note
    assert members.questionnaires["B"] == 12
    assert members.questionnaires[""] == 42

    members.send({"B": 17}, "v3")
    third, _, _ = members.publish()
    assert third["B"] == 17
    assert third["grupp:g"] == 37
    assert third[""] == 47


def test_a_row_hidden_in_a_national_version_stays_hidden_even_renamed(national, tmp_path):
    """B had 3 answers (hidden). Showing B's 9 later would give 9 − 6 = 3 away to anyone
    who learns the 6 new ones; a new name for B changes nothing."""
    members = _Members(national, tmp_path, {"A": "g", "B": "g", "C": "g"})
    members.send({"A": 20, "B": 3, "C": 10}, "v1")
    first, _, _ = members.publish()
    assert first["B"] is None
    with national.app_context():
        members.register("B", "B nytt namn", "g")
        db.session().commit()
    members.send({"B": 9}, "v2")
    second, reasons, _ = members.publish()
    assert "B nytt namn" in second
    assert "B" not in second
    assert second["B nytt namn"] is None
    assert reasons["B nytt namn"] == "dold i en tidigare visad version av året"


def test_moving_a_förbund_to_another_group_does_not_give_it_away(national, tmp_path):
    """B (3 answers) moves from group g to h with nothing new: g's figure before minus
    after would be B's 3. A published year keeps its groups; the move counts from the
    next year on."""
    members = _Members(national, tmp_path, {"A": "g", "B": "g", "C": "g", "D": "h", "E": "h"})
    members.send({"A": 20, "B": 3, "C": 10, "D": 15, "E": 12}, "v1")
    first, _, _ = members.publish()
    with national.app_context():
        members.register("B", "B", "h")
        db.session().commit()
    second, _, _ = members.publish()
    for scope in ("grupp:g", "grupp:h", ""):
        assert second[scope] == first[scope], scope
    with national.app_context():
        recorded = db.session().exec(
            select(NationalPublicationMember.comparison_group).where(
                NationalPublicationMember.member == "B"
            )
        )
        assert recorded.all() == ["g", "g"]


def test_publishing_from_the_page_is_a_job_that_a_national_worker_does_once(nns):
    """Counting 80 förbund takes longer than a web request may (gunicorn's timeout), so
    the page records a job and `surveys worker` publishes it, as a förbund's year."""
    app, key, checksum = nns
    code, output = _import(app, [("a.zip", _package(key, checksum=checksum))])
    assert code == 0, output
    del app.extensions[worker.RUNNER]  # as in production: no runner, a worker polls
    client = _signed_in(app)
    token = form_token(client.get("/riket").get_data(as_text=True))
    answer = client.post("/riket/publicera", data={"year": "2023", "csrf_token": token})
    assert answer.status_code == 302
    job_page = answer.headers["Location"]
    assert "/riket/jobb/" in job_page
    waiting = client.get(job_page).get_data(as_text=True)
    assert "Publiceringen pågår" in waiting
    again = client.post(
        "/riket/publicera", data={"year": "2023", "csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "håller redan på att publiceras" in again
    with app.app_context():
        assert db.session().exec(select(func.count()).select_from(Publication)).one() == 0
    worked = app.test_cli_runner().invoke(args=WORKER_ONCE)
    assert worked.exit_code == 0, worked.output
    done = client.get(job_page).get_data(as_text=True)
    assert "Riket 2023 är publicerat (version 1)" in done
    assert "data-job-running" not in done
    assert app.test_cli_runner().invoke(args=WORKER_ONCE).exit_code == 0
    with app.app_context():
        s = db.session()
        publications = s.exec(select(Publication)).all()
        job = s.exec(select(BackgroundJob)).one()
    assert [p.job_id for p in publications] == [job.id]  # published once, by its job
    nothing = client.post("/riket/publicera", data={"year": "2019", "csrf_token": token})
    assert "inga importerade paket för 2019" in client.get(nothing.headers["Location"]).get_data(
        as_text=True
    )


@pytest.mark.browser
def test_nns_pages_pass_axe(nns, browser):
    """axe-core on NNS's pages in Debian's Chromium: the home page with packages, the
    publishing job while it waits for a worker, and the published national report."""
    app, key, checksum = nns
    code, output = _import(app, [("a.zip", _package(key, checksum=checksum))])
    assert code == 0, output
    del app.extensions[worker.RUNNER]  # the job waits: its page is checked too
    with app.app_context():
        factories.user(db.session(), email="nns@example.invalid")
        db.session().commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    context = browser.new_context(locale="sv-SE", bypass_csp=True)  # axe is injected
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/logga-in")
        page.get_by_label("E-postadress").fill("nns@example.invalid")
        page.get_by_label("Lösenord").fill(factories.PASSWORD)
        page.get_by_role("button", name="Logga in").click()
        page.wait_for_url("**/riket")
        checked = {"hem": axe_violations(page)}
        page.get_by_label("Publicera år").select_option("2023")
        page.get_by_role("button", name="Publicera").click()
        page.wait_for_url("**/riket/jobb/*")
        assert "Publiceringen pågår" in page.content()
        checked["jobb"] = axe_violations(page)
        assert app.test_cli_runner().invoke(args=WORKER_ONCE).exit_code == 0
        done = page.get_by_text("Riket 2023 är publicerat (version 1).")
        done.wait_for(timeout=20_000)  # job.js asked again and showed the result
        checked["klart"] = axe_violations(page)
        page.get_by_role("link", name="Öppna rapporten Riket 2023").click()
        page.wait_for_url("**/riket/2023")
        checked["rapport"] = axe_violations(page)
    finally:
        context.close()
        server.shutdown()
    assert checked == {"hem": [], "jobb": [], "klart": [], "rapport": []}


def test_the_packages_counts_are_taken_in_the_order_of_their_content():
    """The year's counts come from the database in any order (a GROUP BY has none), and
    disclosure control picks among equally good cells to hide by the cells' order: the
    frames it is given are the same whatever order the rows came in."""
    import pandas as pd

    from indicators import Instrument
    from surveys.national.publish import scope_frames
    from surveys.services.catalogue import DEFAULT_FILE

    instrument = Instrument.load(DEFAULT_FILE)
    rows = [
        (2023, "personal", question, scope, "", code, 2 + question + code)
        for scope in ("Förbund Ett", "Förbund Två")
        for question in (1, 2, 3)
        for code in (3, 5)
    ]
    columns = ["year", "questionnaire", "question", "intervention", "gender", "code", "count"]
    counts = pd.DataFrame(rows, columns=columns)
    forward = scope_frames(counts, instrument)
    backward = scope_frames(counts.iloc[::-1].reset_index(drop=True), instrument)
    for ours, theirs in zip(forward, backward, strict=True):
        assert ours.equals(theirs)
