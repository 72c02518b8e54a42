"""Issue 18 point 8: backups written whole or not at all; comments escaped, not refused."""

from __future__ import annotations

import io
import stat

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import text
from sqlmodel import select

from surveys import db
from surveys.models import ReportComment
from tests.conftest import count_rows, form_token
from tests.factories import import_seed


def _clean(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def test_backup_over_a_damaged_file_replaces_it(app, runner, tmp_path):
    import_seed(runner, tmp_path)
    target = tmp_path / "natt.kopia"
    target.write_bytes(b"inte en databas" * 1000)  # last night's backup, cut short
    target.chmod(0o644)
    result = runner.invoke(args=["backup", str(target)])
    _clean(result)
    assert result.exit_code == 0, result.output
    assert "Säkerhetskopian är sparad" in result.output
    assert not target.read_bytes().startswith(b"inte en databas")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # nothing left behind next to it, and the copy restores
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".natt")) == []
    runner.invoke(args=["purge", "--before", "2024", "--yes"])
    assert count_rows(app, "response") == 0
    assert runner.invoke(args=["restore", str(target), "--yes"]).exit_code == 0
    assert count_rows(app, "response") == 118


def test_backup_to_a_missing_folder_is_a_swedish_message(app, runner, tmp_path):
    target = tmp_path / "finns-inte" / "kopia.db"
    result = runner.invoke(args=["backup", str(target)])
    _clean(result)
    assert result.exit_code == 1
    assert f"Fel: Säkerhetskopieringen misslyckades: Mappen {target.parent} finns inte" in (
        result.output
    )
    assert not target.parent.exists()


def test_comment_with_angle_brackets_is_kept_and_escaped(admin_client, app, runner, tmp_path):
    import_seed(runner, tmp_path)
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    token = form_token(admin_client.get("/admin/kommentarer/2023").text)
    plain = "Andelen a < b i år, men 96 % > 91 %."
    markup = '<b>fet</b> <script>alert("x")</script> <img src=x onerror=alert(1)> &amp;'
    saved = admin_client.post(
        "/admin/kommentarer/2023",
        data={"csrf_token": token, "text-0": plain, "text-1": markup},
    )
    assert saved.status_code == 302, saved.text
    with app.app_context():
        stored = {c.indicator: c.text for c in db.session().exec(select(ReportComment)).all()}
    assert stored == {0: plain, 1: markup}  # exactly as written
    page = admin_client.get("/rapport/2023").text
    assert '<p class="comment">Andelen a &lt; b i år, men 96 % &gt; 91 %.</p>' in page
    assert (
        "&lt;b&gt;fet&lt;/b&gt; &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; "
        "&lt;img src=x onerror=alert(1)&gt; &amp;amp;" in page
    )
    for injected in ("<script>alert", "<b>fet", "<img src=x"):
        assert injected not in page


def test_a_character_no_document_can_hold_is_refused_and_an_old_one_breaks_no_download(
    admin_client, app, runner, tmp_path
):
    """U+FFFF in a comment was saved, and then every Excel and Word file of the year
    answered 500 (XML cannot hold it). Now it is refused, naming the character; one saved
    by an older version is left out of the files instead of breaking them."""
    import_seed(runner, tmp_path)
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    for odd in ("\uffff", "\ufffe", "\ufdd0", "\U0001fffe"):
        token = form_token(admin_client.get("/admin/kommentarer/2023").text)
        refused = admin_client.post(
            "/admin/kommentarer/2023",
            data={"csrf_token": token, "text-0": f"Bra år{odd}", "text-1": "Ett bra år."},
            follow_redirects=True,
        )
        assert f"innehåller ett tecken som inte är text (U+{ord(odd):04X})" in refused.text
        assert "Ingenting har sparats." in refused.text
        assert count_rows(app, "report_comment") == 0
    token = form_token(admin_client.get("/admin/kommentarer/2023").text)
    taken = admin_client.post(
        "/admin/kommentarer/2023",
        data={"csrf_token": token, "text-0": "Bra år 🙂 – även på arabiska: جيد"},
    )
    assert taken.status_code == 302
    assert count_rows(app, "report_comment") == 1
    with app.app_context():  # as an older version saved them
        session = db.session()
        session.execute(
            text("UPDATE report_comment SET text = :text"), {"text": "Gammal\uffff text\x07."}
        )
        session.execute(
            text(
                "INSERT INTO report_text (key, text, updated_at, updated_by) "
                "VALUES ('kontakt', :text, '2024-01-01 00:00:00', 'a@example.invalid')"
            ),
            {"text": "Ring\ufffe oss"},
        )
        session.commit()
    docx = admin_client.get("/rapport/2023/rapport.docx")
    xlsx = admin_client.get("/rapport/2023/rapport.xlsx")
    assert (docx.status_code, xlsx.status_code) == (200, 200)
    words = "\n".join(p.text for p in Document(io.BytesIO(docx.data)).paragraphs)
    assert "Gammal text." in words
    assert "Ring oss" in words
    cells = [
        str(c)
        for sheet in load_workbook(io.BytesIO(xlsx.data))
        for row in sheet.iter_rows(values_only=True)
        for c in row
    ]
    assert "Gammal text." in cells
