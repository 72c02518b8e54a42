"""Translations as data (issue 22): template, load, stale rows, approval, ?sprak=, the
per-language counter, recordings — over the real commands, HTTP and database."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from surveys import db
from surveys.models import Role, Round
from surveys.services import audio, rounds
from surveys.services import translations as tr
from surveys.services.actor import CLI, Actor, Refused
from surveys.services.catalogue import DEFAULT_FILE, instrument_from_db
from tests.conftest import form_token, login, release_all
from tests.translation_fixture import (
    Q1,
    load_fixture_translation,
    template,
    tiny_wav,
    translated,
    write,
)


def html_tag(html: str) -> str:
    return re.search(r"<html[^>]*>", html).group(0)


def current_q1_key(app) -> str:
    with app.app_context():
        rows = db.session().execute(
            text("SELECT id FROM question_version WHERE question_id = 'deltagare_avslut.1'")
        )
        ids = sorted(i for (i,) in rows)
    assert Q1 in ids
    return f"fraga.{Q1}"


def test_template_has_one_row_per_participant_text_csv_and_xlsx(app, runner, tmp_path):
    rows = template(runner, tmp_path / "mall.csv", "ar")
    keys = [row["key"] for row in rows]
    assert len(keys) == len(set(keys))
    assert f"fraga.{Q1}" in keys
    assert "fraga.deltagare_pagaende.1.v1" in keys
    assert not any(k.startswith(("fraga.personal.", "fraga.styrelse.")) for k in keys)
    assert {"kon.fraga", "kon.kvinna", "skala.frekvens.6", "skala.ja_nej.0", "ui.send"} <= set(keys)
    assert all(row["text"] == "" for row in rows)
    by_key = {row["key"]: row["sv"] for row in rows}
    assert by_key["skala.frekvens.0"] == "Vet ej / Ej aktuellt"
    assert by_key["ui.question_number"] == "Fråga {n} av {total}"
    result = runner.invoke(
        args=["translations", "template", "--language", "ar", "--output", str(tmp_path / "m.xlsx")]
    )
    assert result.exit_code == 0, result.output
    sheet = load_workbook(tmp_path / "m.xlsx").active
    xlsx = [tuple(c or "" for c in r) for r in sheet.iter_rows(values_only=True)]
    assert xlsx[0] == ("key", "sv", "text")
    assert [r[0] for r in xlsx[1:]] == keys
    # filled in in Excel and loaded as XLSX
    book = load_workbook(tmp_path / "m.xlsx")
    for row, filled in zip(book.active.iter_rows(min_row=2), translated(rows, "ar"), strict=True):
        row[2].value = filled["text"]
    book.save(tmp_path / "ifylld.xlsx")
    result = runner.invoke(
        args=["translations", "load", str(tmp_path / "ifylld.xlsx"), "--language", "ar"]
    )
    assert result.exit_code == 0, result.output
    assert f"{len(keys)} översatta texter inlästa för arabiska (ar)." in result.output
    assert "Språket behöver godkännas" in result.output
    # an unknown language is a Swedish message, and no file
    result = runner.invoke(
        args=["translations", "template", "--language", "xx", "--output", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 1
    assert "Okänt språk" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_only_an_approved_language_opens_with_sprak_right_to_left(
    app, client, runner, tmp_path, make_round
):
    r = make_round("deltagare_avslut")
    texts = load_fixture_translation(runner, tmp_path, "ar", approve=False)
    page = client.get(f"/s/{r.code}?sprak=ar").text
    assert html_tag(page) == '<html lang="sv" dir="ltr">'  # loaded, not approved: Swedish
    assert texts[f"fraga.{Q1}"] not in page
    assert "العربية" not in page

    result = runner.invoke(
        args=["translations", "approve", "--language", "ar", "--reference", "godkänd av NNS"]
    )
    assert result.exit_code == 0, result.output
    page = client.get(f"/s/{r.code}?sprak=ar").text
    assert html_tag(page) == '<html lang="ar" dir="rtl">'
    assert texts[f"fraga.{Q1}"] in page
    assert texts["skala.frekvens.6"] in page
    assert "font-arabic.css" in page
    assert "noto-sans-arabic-400.woff2" in page
    assert '<input type="hidden" name="sprak" value="ar">' in page
    assert 'lang="ar" dir="rtl" hreflang="ar" aria-current="page">العربية</a>' in page
    assert "Har du fått stöd på ett sätt" not in page

    swedish = client.get(f"/s/{r.code}").text
    assert html_tag(swedish) == '<html lang="sv" dir="ltr">'
    assert "العربية" in swedish  # the picker names the language in its own script
    assert "font-arabic" not in swedish
    assert "data-texts" not in swedish
    for odd in ("xx", "ti", "<script>", "AR%00", "sv"):
        page = client.get(f"/s/{r.code}?sprak={odd}")
        assert page.status_code in (200, 400)
        assert 'lang="ar"' not in html_tag(page.text)
    staff_round = make_round("personal")  # staff answer in Swedish: no picker, no ?sprak
    page = client.get(f"/s/{staff_round.code}?sprak=ar").text
    assert html_tag(page) == '<html lang="sv" dir="ltr">'
    assert "العربية" not in page


def post_exit(client, url: str, **extra) -> None:
    page = client.get(url)
    data = {"csrf_token": form_token(page.text), "gender": "man", "q1": "6", "q2": "3"}
    data.update({"q8": "1", "q9": "4", "conditional_shown": "1", **extra})
    assert client.post(url, data=data).status_code == 303
    # the same form again (a double tap): stored once, counted once
    assert client.post(url, data=data).status_code == 303


def test_an_answer_in_arabic_is_stored_as_the_swedish_one_and_counted_apart(
    app, client, runner, tmp_path, make_round
):
    r = make_round("deltagare_avslut")
    load_fixture_translation(runner, tmp_path, "ar")
    post_exit(client, f"/s/{r.code}")
    post_exit(client, f"/s/{r.code}?sprak=ar", sprak="ar")
    assert release_all(app) == 2  # the waiting answers are sealed: compare them once stored
    with app.app_context():
        s = db.session()
        stored: dict[str, set] = {}
        for response, version, code in s.execute(
            text("SELECT response_id, question_version_id, code FROM answer")
        ):
            stored.setdefault(response, set()).add((version, code))
        genders = [g for (g,) in s.execute(text("SELECT gender FROM response"))]
        columns = set(s.execute(text("SELECT * FROM response")).keys())
        counts = s.execute(text("SELECT round_id, language, count FROM language_count")).all()
    assert len(stored) == 2
    first, second = stored.values()
    assert first == second  # the Arabic form stores exactly what the Swedish one stores
    assert genders == ["man", "man"]
    assert not any("sprak" in c or "lang" in c for c in columns)  # no language column
    assert counts == [(r.id, "ar", 1)]  # Swedish is not counted; the repeat is not counted
    release_all(app)
    with app.app_context():
        s = db.session()
        stored = s.execute(
            text(
                "SELECT r.id, r.gender, a.question_version_id, a.code FROM response r "
                "JOIN answer a ON a.response_id = r.id ORDER BY a.question_version_id"
            )
        ).all()
        columns = set(s.execute(text("SELECT * FROM response")).keys())
    by_response: dict[str, list] = {}
    for rid, gender, version, code in stored:
        by_response.setdefault(rid, []).append((gender, version, code))
    first, second = by_response.values()
    assert first == second
    assert ("man", Q1, 6) in first
    assert columns == {"id", "round_id", "questionnaire_key", "year", "intervention_id", "gender"}


def test_a_changed_swedish_text_makes_the_language_unavailable_until_updated(
    app, client, runner, tmp_path, make_round
):
    r = make_round("deltagare_avslut")
    texts = load_fixture_translation(runner, tmp_path, "ar")
    assert 'lang="ar"' in html_tag(client.get(f"/s/{r.code}?sprak=ar").text)
    original = DEFAULT_FILE.read_text(encoding="utf-8")
    old = "Har du fått stöd på ett sätt som är till stor nytta för dig?"
    assert original.count(old) == 1
    edited = tmp_path / "nns.yaml"
    edited.write_text(original.replace(old, "Har du fått stöd som är till nytta för dig?"))
    try:
        assert runner.invoke(args=["instrument", "load", "--file", str(edited)]).exit_code == 0
        page = client.get(f"/s/{r.code}?sprak=ar").text
        assert html_tag(page) == '<html lang="sv" dir="ltr">'
        assert "Har du fått stöd som är till nytta för dig?" in page
        assert "العربية" not in page
        status = runner.invoke(args=["translations", "status"]).output
        assert "1 inaktuella" in status
        assert "erbjuds inte" in status
        refused = runner.invoke(
            args=["translations", "approve", "--language", "ar", "--reference", "igen"]
        )
        assert refused.exit_code == 1
        assert "1 är inaktuella" in refused.output
        # loading the old file again says which row is stale
        reload = runner.invoke(
            args=["translations", "load", str(tmp_path / "oversattning-ar.csv"), "--language", "ar"]
        )
        assert reload.exit_code == 0
        assert "1 inaktuella" in reload.output
        assert f"fraga.{Q1}" in reload.output
        # a new template carries the new Swedish; translated and loaded, it needs approval
        rows = translated(template(runner, tmp_path / "ny.csv", "ar"), "ar")
        write(tmp_path / "ny-ar.csv", rows)
        loaded = runner.invoke(
            args=["translations", "load", str(tmp_path / "ny-ar.csv"), "--language", "ar"]
        )
        assert loaded.exit_code == 0
        assert "inaktuella" not in loaded.output
        assert 'lang="sv"' in html_tag(client.get(f"/s/{r.code}?sprak=ar").text)
        runner.invoke(args=["translations", "approve", "--language", "ar", "--reference", "ny"])
        page = client.get(f"/s/{r.code}?sprak=ar").text
        assert 'lang="ar"' in html_tag(page)
        assert texts[f"fraga.{Q1}"] in page
    finally:
        assert runner.invoke(args=["instrument", "load"]).exit_code == 0


BIDI = "\u202e"


def test_a_cell_excel_made_a_truth_value_or_a_date_is_refused_as_it_looks(app, runner, tmp_path):
    """An XLSX template where Excel turned a key into SANT, or a text into a date, was
    read as 'True' and '2024-01-02 00:00:00': the message quoted a key the sheet never
    shows, and a date-like translation would have been stored as that text."""
    filled = tmp_path / "ifylld.xlsx"
    made = runner.invoke(
        args=["translations", "template", "--language", "ti", "--output", str(filled)]
    )
    assert made.exit_code == 0, made.output
    rows = translated(template(runner, tmp_path / "t.csv", "ti"), "ti")
    book = load_workbook(filled)
    for row, row_filled in zip(book.active.iter_rows(min_row=2), rows, strict=True):
        row[2].value = row_filled["text"]
    sheet = book.active
    sheet["A3"].value = True  # a key typed as TRUE
    sheet["C4"].value = date(2024, 1, 2)  # a text typed as 2/1, a date to Excel
    sheet["C5"].value = 5  # a number is taken as its digits: not refused
    book.save(filled)
    result = runner.invoke(args=["translations", "load", str(filled), "--language", "ti"])
    assert result.exit_code == 1
    assert "Rad 3: kolumnen key har värdet 'SANT', som Excel har gjort om" in result.output
    assert "Rad 4: kolumnen text har värdet '2024-01-02', som Excel" in result.output
    assert "Rad 5" not in result.output
    assert "True" not in result.output
    assert "00:00:00" not in result.output
    assert "Ingenting har lästs in." in result.output
    with app.app_context():
        assert db.session().execute(text("SELECT count(*) FROM translation_text")).scalar() == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda rows: rows[3].update(key="fraga.finnsinte.1.v1"), "Rad 5: okänd nyckel"),
        (lambda rows: rows[0].update(text="<b>fet</b>"), "Rad 2: texten innehåller kod"),
        (lambda rows: rows[0].update(text="&lt;x"), "Rad 2: texten innehåller kod"),
        (lambda rows: rows[6].update(text="ب" * 200), "Rad 8: texten är mycket längre"),
        (lambda rows: rows[1].update(text=f"abc{BIDI}def"), "Rad 3: kolumnen text innehåller"),
        (lambda rows: rows[1].update(text="abc\u2067def"), "U+2067 (ett tecken som styr skrivrikt"),
        (lambda rows: rows[2].update(text="abc\x07"), "Rad 4: kolumnen text innehåller"),
        (lambda rows: rows[2].update(key=rows[1]["key"]), "Rad 4: nyckeln"),
        (lambda rows: rows[3].update(text="ab { c"), "Rad 5: texten måste ha samma platshållare"),
        (lambda rows: rows[3].update(sv=""), "Rad 5: kolumnen sv är tom"),
        (lambda rows: rows[4].update(text='=HYPERLINK("http://x","y")'), "Rad 6: texten får inte"),
    ],
    ids=[
        "okänd-nyckel",
        "märkning",
        "entitet",
        "för-lång",
        "bidi",
        "isolat",
        "styrtecken",
        "dubblett",
        "klammer",
        "tom-sv",
        "formel",
    ],
)
def test_a_bad_translation_file_is_refused_naming_the_row_and_changes_nothing(
    app, client, runner, tmp_path, make_round, change, expected
):
    r = make_round("deltagare_avslut")
    texts = load_fixture_translation(runner, tmp_path, "ar")
    rows = translated(template(runner, tmp_path / "t.csv", "ar"), "ti")  # other texts
    change(rows)
    result = runner.invoke(
        args=["translations", "load", str(write(tmp_path / "bad.csv", rows)), "--language", "ar"]
    )
    assert result.exit_code == 1
    assert expected in result.output
    assert "Ingenting har lästs in." in result.output
    page = client.get(f"/s/{r.code}?sprak=ar").text  # still the approved translation
    assert 'lang="ar"' in html_tag(page)
    assert texts[f"fraga.{Q1}"] in page
    assert "ናይ ፈተና" not in page


def test_an_empty_template_is_refused_and_the_translation_stays(
    app, client, runner, tmp_path, make_round
):
    """Loading the template as it comes out (no text filled in) replaced the approved
    translation with nothing and said "0 översatta texter inlästa"."""
    r = make_round("deltagare_avslut")
    texts = load_fixture_translation(runner, tmp_path, "ar")
    empty = tmp_path / "tom.csv"
    template_command = ["translations", "template", "--language", "ti", "--output", str(empty)]
    made = runner.invoke(args=template_command)
    assert made.exit_code == 0, made.output
    result = runner.invoke(args=["translations", "load", str(empty), "--language", "ar"])
    assert result.exit_code == 1
    assert "Filen har inga översatta texter" in result.output
    assert "Ingenting har lästs in." in result.output
    page = client.get(f"/s/{r.code}?sprak=ar").text
    assert texts[f"fraga.{Q1}"] in page


def test_the_xlsx_template_writes_a_stored_formula_like_text_as_text(app, runner, tmp_path):
    """A translation stored before loading refused formulas must not come back out of the
    XLSX template as a live formula (openpyxl writes "=…" as one)."""
    load_fixture_translation(runner, tmp_path, "ar")
    with app.app_context():
        s = db.session()
        s.execute(
            text("UPDATE translation_text SET text = :t WHERE language = 'ar' AND key = 'ui.send'"),
            {"t": '=HYPERLINK("http://x","y")'},
        )
        s.commit()
    out = tmp_path / "mall.xlsx"
    result = runner.invoke(
        args=["translations", "template", "--language", "ar", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    cells = [r for r in load_workbook(out).active.iter_rows() if r[0].value == "ui.send"]
    assert cells[0][2].value == '=HYPERLINK("http://x","y")'
    assert cells[0][2].data_type == "s"


def test_wrong_columns_or_a_dropped_placeholder_are_refused(app, runner, tmp_path):
    rows = translated(template(runner, tmp_path / "t.csv", "ti"), "ti")
    wrong = write(
        tmp_path / "wrong.csv",
        [{**r, "svenska": r["sv"]} for r in rows],
        ("key", "svenska", "text"),
    )
    result = runner.invoke(args=["translations", "load", str(wrong), "--language", "ti"])
    assert result.exit_code == 1
    assert "Rad 1: kolumnen sv saknas" in result.output
    numbered = next(i for i, r in enumerate(rows) if r["key"] == "ui.question_number")
    rows[numbered]["text"] = "ፈተና {n}"
    result = runner.invoke(
        args=["translations", "load", str(write(tmp_path / "p.csv", rows)), "--language", "ti"]
    )
    assert result.exit_code == 1
    assert f"Rad {numbered + 2}: texten måste ha samma platshållare" in result.output
    with app.app_context():
        assert db.session().execute(text("SELECT count(*) FROM translation_text")).scalar() == 0


def test_approval_on_the_page_needs_a_complete_translation_and_is_audited(
    app, client, runner, tmp_path, make_user, make_round
):
    rows = translated(template(runner, tmp_path / "t.csv", "ti"), "ti")
    partial = write(tmp_path / "part.csv", [r for r in rows if r["key"] != f"fraga.{Q1}"])
    result = runner.invoke(args=["translations", "load", str(partial), "--language", "ti"])
    assert result.exit_code == 0
    assert f"1 saknas: fraga.{Q1}" in result.output
    refused = runner.invoke(
        args=["translations", "approve", "--language", "ti", "--reference", "x"]
    )
    assert refused.exit_code == 1
    assert "1 texter saknas" in refused.output
    assert login(client, make_user("administratör")).status_code == 302
    page = client.get("/admin/sprak").text
    assert f"Saknas: fraga.{Q1}" in page
    assert "Godkänn tigrinska" not in page
    token = form_token(page)
    bad = [{**r, "text": "<i>x</i>"} if r["key"] == "ui.send" else r for r in rows]
    refused = client.post(
        "/admin/sprak/las-in",
        data={"csrf_token": token, "language": "ti", "file": (io.BytesIO(csv_bytes(bad)), "t.csv")},
        content_type="multipart/form-data",
    )
    page = client.get(refused.headers["Location"]).text
    assert "texten innehåller kod" in page
    assert "Godkänn tigrinska" not in page
    loaded = client.post(
        "/admin/sprak/las-in",
        data={
            "csrf_token": token,
            "language": "ti",
            "file": (io.BytesIO(csv_bytes(rows)), "t.csv"),
        },
        content_type="multipart/form-data",
    )
    page = client.get(loaded.headers["Location"]).text
    assert "översatta texter inlästa för tigrinska (ti)" in page
    assert "Godkänn tigrinska" in page
    empty = client.post("/admin/sprak/ti/godkann", data={"csrf_token": token, "reference": " "})
    assert "Ange en referens" in client.get(empty.headers["Location"]).text
    done = client.post(
        "/admin/sprak/ti/godkann",
        data={"csrf_token": token, "reference": "godkänd av NNS 2027-01-10"},
    )
    assert done.status_code == 302
    with app.app_context():
        entries = (
            db.session()
            .execute(
                text("SELECT action, detail FROM audit_entry WHERE action LIKE 'översättning%'")
            )
            .all()
        )
    assert ("översättning.godkänn", "tigrinska (ti): godkänd av NNS 2027-01-10") in entries
    r = make_round("deltagare_pagaende")
    page = client.get(f"/s/{r.code}?sprak=ti").text
    assert html_tag(page) == '<html lang="ti" dir="ltr">'
    assert "font-ethiopic.css" in page


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["key", "sv", "text"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def test_recordings_refuse_what_is_not_audio_or_too_large_and_are_served(
    app, client, runner, tmp_path, make_round
):
    app.config["INSTANCE_DIR"] = str(tmp_path / "instance")
    folder = tmp_path / "instance" / "ljud"
    fake = tmp_path / "fraga.mp3"
    fake.write_text("<html>inte ljud</html>")
    from surveys.services.audio import sniff

    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: frames of 144 * 128000 // 44100 = 417 bytes
    frame = b"\xff\xfb\x90\x64" + bytes(413)
    assert sniff(frame * 3) == sniff(b"ID3\x04" + bytes(12)) == "mp3"  # with a tag or without
    assert sniff(frame[:417] + b"<html>" + frame) is None  # one frame, then no next one
    assert sniff(("h<html>" * 200).encode("utf-16")) is None  # FF FE "h": a frame header's bits
    # UTF-16's byte order mark (FF FE) has an MP3 frame's sync bits, but no frame follows
    utf16 = tmp_path / "utf16.mp3"
    utf16.write_bytes(("h<html><script>alert(1)</script></html>" * 40).encode("utf-16"))
    big = tmp_path / "stor.wav"
    big.write_bytes(tiny_wav(tmp_path / "s.wav").read_bytes() + b"\x00" * (3 * 1024 * 1024))
    header_only = tmp_path / "huvud.wav"
    header_only.write_bytes(tiny_wav(tmp_path / "h.wav").read_bytes()[:16])
    cut = tmp_path / "avkortad.wav"
    cut.write_bytes(tiny_wav(tmp_path / "c.wav", frames=4000).read_bytes()[:5000])
    for path, version, message in (
        (fake, Q1, "inte en ljudfil"),
        (utf16, Q1, "inte en ljudfil"),
        (big, Q1, "för stor"),
        (header_only, Q1, "Filen är för liten för en inspelning (16 byte)."),
        (cut, Q1, "WAV-filen är avkortad: den säger sig ha 8044 byte men har 5000."),
        (tiny_wav(tmp_path / "ok.wav"), "deltagare_avslut.1.v99", "Okänd frågeversion"),
        (tiny_wav(tmp_path / "ok.wav"), "../../etc/passwd", "Okänd frågeversion"),
        (Path("/dev/zero"), Q1, "/dev/zero är ingen vanlig fil (en enhet eller ett rör)."),
        (tmp_path, Q1, f"{tmp_path} är en mapp. Ange ljudfilen."),
        (tmp_path / "saknas.wav", Q1, f"Filen {tmp_path / 'saknas.wav'} finns inte."),
    ):
        result = runner.invoke(args=["audio", "load", str(path), "--version", version])
        assert result.exit_code == 1
        assert message in result.output
    assert not folder.exists() or not any(folder.iterdir())
    good = tiny_wav(tmp_path / "fraga1.wav")
    result = runner.invoke(args=["audio", "load", str(good), "--version", Q1])
    assert result.exit_code == 0, result.output
    served = client.get(f"/s/ljud/{Q1}")
    assert served.status_code == 200
    assert served.mimetype == "audio/wav"
    assert served.data == good.read_bytes()
    served.close()
    assert client.get("/s/ljud/deltagare_avslut.2.v1").status_code == 404
    r = make_round("deltagare_avslut")
    page = client.get(f"/s/{r.code}").text
    assert f'data-audio="/s/ljud/{Q1}"' in page
    assert page.count("data-audio=") == 1
    assert page.count('class="listen"') == 11


def test_an_audio_load_is_audited_by_its_service_and_others_are_refused(app, runner, tmp_path):
    """audio.load_audio audits `ljud.läs_in` (the version) for the actor that loaded it:
    the CLI's operator; a refused file or a staff actor writes no entry and no file."""
    app.config["INSTANCE_DIR"] = str(tmp_path / "instance")
    folder = tmp_path / "instance" / "ljud"

    def entries() -> list[tuple[str, str]]:
        with app.app_context():
            rows = db.session().execute(
                text("SELECT user_email, detail FROM audit_entry WHERE action = 'ljud.läs_in'")
            )
            return [tuple(row) for row in rows]

    bad = tmp_path / "fraga.mp3"
    bad.write_text("inte ljud")
    assert runner.invoke(args=["audio", "load", str(bad), "--version", Q1]).exit_code == 1
    assert entries() == []
    good = tiny_wav(tmp_path / "fraga1.wav")
    staff = Actor(email="p@example.invalid", role=Role.staff.value)
    with app.app_context():
        session = db.session()
        with pytest.raises(Refused, match="bara administratören"):
            audio.load_audio(
                session, staff, tmp_path / "instance", instrument_from_db(session), Q1, good
            )
        session.commit()
    assert entries() == []
    assert not folder.exists()
    result = runner.invoke(args=["audio", "load", str(good), "--version", Q1])
    assert result.exit_code == 0, result.output
    assert entries() == [("kommandoraden", Q1)]
    assert (folder / f"{Q1}.wav").read_bytes() == good.read_bytes()


def test_a_recording_is_played_only_once_its_audit_entry_is_committed(app, tmp_path):
    """A loaded recording waits, hidden, for the transaction with its audit entry: rolled
    back (a later step of the command failed, the database refused the commit), the
    file goes with the entry; committed, it replaces the version's earlier recording."""
    instance = tmp_path / "instance"
    folder = instance / "ljud"
    good = tiny_wav(tmp_path / "fraga1.wav")
    with app.app_context():
        session = db.session()
        instrument = instrument_from_db(session)
        target = audio.load_audio(session, CLI, instance, instrument, Q1, good)
        assert not target.exists()
        assert audio.recordings(instance) == {}  # the staged file is offered to no one
        session.rollback()
        assert list(folder.iterdir()) == []
        old = folder / f"{Q1}.mp3"
        old.write_bytes(b"ID3" + bytes(2000))
        target = audio.load_audio(session, CLI, instance, instrument, Q1, good)
        staged = sorted(p.name for p in folder.iterdir() if p != old)
        assert len(staged) == 1
        assert staged[0].startswith(f".{Q1}.")  # hidden, beside the one still played
        assert old.exists()
        assert not target.exists()
        session.commit()
        assert sorted(p.name for p in folder.iterdir()) == [f"{Q1}.wav"]
        assert target.read_bytes() == good.read_bytes()
        entries = session.execute(
            text("SELECT detail FROM audit_entry WHERE action = 'ljud.läs_in'")
        ).scalars()
        assert list(entries) == [Q1]


def test_round_page_has_links_per_language_and_the_count(
    app, client, runner, tmp_path, make_user, make_round
):
    r = make_round("deltagare_avslut", insats="Steget")
    load_fixture_translation(runner, tmp_path, "ar")
    post_exit(client, f"/s/{r.code}?sprak=ar", sprak="ar")
    assert login(client, make_user("personal", insatser=["Steget"])).status_code == 302
    page = client.get(f"/personal/omgang/{r.id}").text
    assert f"http://localhost/s/{r.code}?sprak=ar" in page
    rows = re.findall(r"<tr><td>arabiska</td><td class=\"num\">(\d+)</td></tr>", page)
    assert rows == ["1"]
    poster = client.get(f"/personal/omgang/{r.id}/sprak/ar/affisch").text
    assert f"/s/{r.code}?sprak=ar" in poster
    assert "العربية" in poster
    assert client.get(f"/personal/omgang/{r.id}/sprak/ti/affisch").status_code == 404
    slips = client.post(
        f"/personal/omgang/{r.id}/sprak/ar/lappar",
        data={"csrf_token": form_token(page), "count": "2"},
    ).text
    assert len(re.findall(r"/t/[A-Za-z0-9_-]+\?sprak=ar", slips)) == 2


def test_a_closed_rounds_language_links_say_so_in_swedish_not_a_500(
    app, client, runner, tmp_path, make_user, make_round
):
    """The language poster, QR code and slips of a closed round redirect to the round page
    with the closed-round message (they raised a BuildError: 500)."""
    r = make_round("deltagare_avslut", insats="Steget")
    load_fixture_translation(runner, tmp_path, "ar")
    with app.app_context():
        s = db.session()
        rounds.close_round(s, s.get(Round, r.id))
        s.commit()
    assert login(client, make_user("personal", insatser=["Steget"])).status_code == 302
    page = client.get(f"/personal/omgang/{r.id}").text
    for method, path in (
        ("GET", f"/personal/omgang/{r.id}/sprak/ar/affisch"),
        ("GET", f"/personal/omgang/{r.id}/sprak/ar/qr.svg"),
        ("POST", f"/personal/omgang/{r.id}/sprak/ar/lappar"),
    ):
        answer = client.open(
            path, method=method, data={"csrf_token": form_token(page), "count": "2"}
        )
        assert answer.status_code == 303, path
        assert answer.headers["Location"].endswith(f"/personal/omgang/{r.id}"), path
        shown = client.get(answer.headers["Location"]).text
        assert "Mätomgången är stängd" in shown
        assert "?sprak=ar" not in shown


def test_without_javascript_the_second_step_and_tack_stay_in_the_language(
    app, client, runner, tmp_path, make_round
):
    r = make_round("deltagare_avslut")
    texts = load_fixture_translation(runner, tmp_path, "ar")
    url = f"/s/{r.code}?sprak=ar"
    token = form_token(client.get(url).text)
    data = {"csrf_token": token, "q1": "6", "q8": "1", "conditional_shown": "0", "sprak": "ar"}
    step = client.post(f"/s/{r.code}", data=data)
    assert step.status_code == 200
    assert html_tag(step.text) == '<html lang="ar" dir="rtl">'
    assert texts["fraga.deltagare_avslut.9.v1"] in step.text
    assert '<input type="hidden" name="sprak" value="ar">' in step.text
    done = client.post(f"/s/{r.code}", data={**data, "q9": "4", "conditional_shown": "1"})
    assert done.headers["Location"] == "/tack?sprak=ar"
    thanks = client.get(done.headers["Location"]).text
    assert html_tag(thanks) == '<html lang="ar" dir="rtl">'
    assert texts["ui.thanks_text"] in thanks
    # a kiosk without JavaScript: "Tack" in the language, then the Swedish form again
    kiosk = make_round("deltagare_avslut", mode="kiosk")
    token = form_token(client.get(f"/k/{kiosk.code}?sprak=ar").text)
    done = client.post(f"/k/{kiosk.code}", data={**data, "csrf_token": token, "q8": "2"})
    assert done.headers["Location"] == f"/k/{kiosk.code}/tack?sprak=ar"
    thanks = client.get(done.headers["Location"]).text
    assert texts["ui.thanks_text"] in thanks
    assert f'<a class="button primary" href="/k/{kiosk.code}" id="borja-om">' in thanks
    assert f'url=/k/{kiosk.code}">' in thanks  # the refresh without JavaScript: Swedish


def test_a_translation_file_over_1_mb_is_refused_alike_on_the_page_and_the_cli(
    app, admin_client, runner, tmp_path
):
    rows = translated(template(runner, tmp_path / "mall.csv", "ar"), "ar")
    path = write(tmp_path / "stor.csv", rows)
    with path.open("ab") as fh:
        fh.write(b"\n" * (tr.MAX_FILE + 1 - path.stat().st_size))  # blank lines: 1 byte too many
    done = runner.invoke(args=["translations", "load", str(path), "--language", "ar"])
    assert done.exit_code == 1
    assert "Filen är för stor (högst 1 MB). Ingenting har lästs in." in done.output
    token = form_token(admin_client.get("/admin/sprak").text)
    page = admin_client.post(
        "/admin/sprak/las-in",
        data={"csrf_token": token, "language": "ar", "file": (path.open("rb"), "stor.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Filen är för stor (högst 1 MB). Ingenting har lästs in." in page.text
    with app.app_context():
        session = db.session()
        assert session.execute(text("SELECT COUNT(*) FROM translation_text")).scalar_one() == 0
        loaded = "SELECT COUNT(*) FROM audit_entry WHERE action = 'översättning.läs_in'"
        assert session.execute(text(loaded)).scalar_one() == 0
    small = write(tmp_path / "liten.csv", rows)  # the same rows without the padding are taken
    done = runner.invoke(args=["translations", "load", str(small), "--language", "ar"])
    assert done.exit_code == 0, done.output
