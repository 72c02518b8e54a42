"""The report page stays light: charts are sized, lazily loaded SVG images, served gzipped
and kept by the browser for as long as the figures they show are published (issue 13).

The figures behind these bounds: with the 30 demo charts inline the page was 674 kB of HTML
and 6,565 DOM nodes (Lighthouse mobile 83); as images it is about 70 kB.
"""

from __future__ import annotations

import gzip
import re
from html import unescape

from sqlmodel import select

from surveys import db
from surveys.models import Intervention, ReportAsset
from surveys.reports import assets
from surveys.reports.build import svg_size

YEAR = 2024  # the demo's latest year
GZIP = {"Accept-Encoding": "gzip"}
IMG = re.compile(r"<img\b[^>]*>")
ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')
CHART_SRC = re.compile(
    r"^/rapport/(\d+)/diagram/(\d+)-(ar|tid)\.svg\?(?:insats=([\w-]+)&)?v=(\w+)$"
)
PAGE_BOUND = 150_000  # bytes of uncompressed HTML (inline charts made it 674,043)


def _images(html: str) -> list[dict[str, str]]:
    return [{k: unescape(v) for k, v in ATTR.findall(tag)} for tag in IMG.findall(html)]


def _demo(runner) -> None:
    assert runner.invoke(args=["demo"]).exit_code == 0


def test_report_page_is_small_and_every_chart_is_a_sized_lazy_image(admin_client, runner):
    _demo(runner)
    page = admin_client.get(f"/rapport/{YEAR}")
    assert page.status_code == 200
    assert len(page.data) < PAGE_BOUND, len(page.data)
    assert "<svg" not in page.text
    assert page.headers["Cache-Control"] == "no-store"  # the page itself is never kept
    images = _images(page.text)
    assert len(images) == 30  # 16 indicators, 15 of them with both charts
    versions = set()
    for image in images:
        match = CHART_SRC.match(image["src"])
        assert match, image["src"]
        assert match.group(1) == str(YEAR)
        versions.add(match.group(5))
        assert image["loading"] == "lazy"
        assert image["decoding"] == "async"
        assert image["alt"].startswith("Diagram: ")
        assert image["alt"].endswith(f"indikator {match.group(2)}. Samma siffror finns i tabellen.")
        chart = admin_client.get(image["src"])
        assert chart.status_code == 200
        # the size reserved on the page is the size the image declares: no layout shift
        assert (int(image["width"]), int(image["height"])) == svg_size(chart.data)
        assert int(image["width"]) > 100
        assert int(image["height"]) > 100
    assert len(versions) == 1


def test_chart_url_is_gzipped_and_kept_only_while_its_figures_are_published(
    admin_client, runner, tmp_path
):
    _demo(runner)
    src = _images(admin_client.get(f"/rapport/{YEAR}").text)[0]["src"]
    chart = admin_client.get(src, headers=GZIP)
    assert chart.status_code == 200
    assert chart.mimetype == "image/svg+xml"
    assert chart.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in chart.headers["Vary"]
    body = gzip.decompress(chart.data)
    assert body.startswith(b"<svg")
    assert len(chart.data) < len(body) / 4
    cache = chart.headers["Cache-Control"]
    assert "private" in cache  # this browser only, never a shared cache
    assert "max-age=31536000" in cache
    assert "immutable" in cache
    assert "no-store" not in cache
    assert "public" not in cache

    # The same chart by any other URL is not kept: no version, another version, a download.
    path, version = src.split("?v=")
    for url in (path, f"{path}?v=0000000000000000", f"{src}&ladda-ner=1"):
        other = admin_client.get(url)
        assert other.status_code == 200
        assert other.data == body
        assert other.headers["Cache-Control"] == "no-store", url

    # New figures, new publication: the page names a new version and the old one is not kept.
    # (Five new answers: fewer would wait, so that two versions cannot be subtracted.)
    answers = tmp_path / "fem.csv"
    answers.write_text(
        "year,questionnaire,insats,gender,"
        + ",".join(f"q{i}" for i in range(1, 12))
        + f"\n{YEAR},styrelse,,,6,6,6,6,6,,,,,,\n" * 5,
        encoding="utf-8",
    )
    assert runner.invoke(args=["import", "answers", str(answers)]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", str(YEAR)]).exit_code == 0
    newer = _images(admin_client.get(f"/rapport/{YEAR}").text)[0]["src"]
    assert newer.split("?v=")[0] == path
    assert newer.split("?v=")[1] != version
    assert admin_client.get(src).headers["Cache-Control"] == "no-store"
    assert "immutable" in admin_client.get(newer).headers["Cache-Control"]


def test_an_insats_page_names_the_insats_charts(admin_client, app, runner):
    _demo(runner)
    with app.app_context():
        insats = db.session().exec(select(Intervention).order_by(Intervention.name)).first()
    whole = _images(admin_client.get(f"/rapport/{YEAR}").text)
    own = _images(admin_client.get(f"/rapport/{YEAR}?insats={insats.id}").text)
    assert own
    for image in own:
        match = CHART_SRC.match(image["src"])
        assert match, image["src"]
        assert match.group(4) == insats.id
    # other figures, so another version (and so another cached image) than the whole förbund's
    assert {CHART_SRC.match(i["src"]).group(5) for i in own}.isdisjoint(
        {CHART_SRC.match(i["src"]).group(5) for i in whole}
    )
    first = own[0]["src"]
    scoped = admin_client.get(first)
    unscoped = admin_client.get(first.replace(f"insats={insats.id}&", ""))
    assert scoped.data != unscoped.data  # the insats's own chart, not the förbund's


def test_preview_and_printable_page_keep_charts_inline(admin_client, runner):
    _demo(runner)
    # chart URLs serve publications: the live preview's figures stay in the page itself
    preview = admin_client.get(f"/rapport/{YEAR}/forhandsgranskning", follow_redirects=True).text
    assert "Förhandsgranskning" in preview
    assert "<img" not in preview
    assert preview.count('<svg role="img"') == 30
    printable = admin_client.get(f"/rapport/{YEAR}/utskrift").text
    assert "<img" not in printable
    # print: a trend per indicator with figures (11 is a line); the year's bar chart is off
    assert printable.count('<svg role="img"') == 15


def test_a_stored_chart_without_a_size_is_drawn_inline_rather_than_unsized(
    admin_client, app, runner
):
    assets.clear_memory()  # earlier tests drew the same demo figures into this process
    _demo(runner)
    with app.app_context():
        s = db.session()
        changed = 0
        for stored in s.exec(select(ReportAsset).where(ReportAsset.name == f"{YEAR}-1-tid.svg")):
            stored.body = b'<svg xmlns="http://www.w3.org/2000/svg"><text>UTAN STORLEK</text></svg>'
            s.add(stored)
            changed += 1
        s.commit()
    assert changed == 3  # the förbund's chart and each insats's (downloads are per scope)
    assets.clear_memory()
    try:
        page = admin_client.get(f"/rapport/{YEAR}").text
    finally:
        assets.clear_memory()  # the stand-in must not reach later tests' pages
    assert page.count('<svg role="img" aria-label="Diagram: Förbundets utveckling') == 1
    assert "UTAN STORLEK" in page
    images = _images(page)
    assert len(images) == 29
    assert all(int(i["width"]) > 0 and int(i["height"]) > 0 for i in images)
