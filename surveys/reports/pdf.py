"""The yearly appendix as a PDF made by the service (ReportLab, no system packages).

Same content and order as the page: title block (with the contact details), "Om
indikatorerna", questionnaires per group, "Resultatet i korthet", then per indicator
its text, Mått, the trend chart, the "Resultat YYYY" table and the förbundschef's
comments, kept together on one page (an indicator runs on from the one before: no
page holds only a chart). The year's bar chart is left out unless the setting asks
for it. A4, page numbers in the footer, every chart embedded as a PNG rendered once
for the figures (``assets``), printed at a fixed scale so text is as large in every chart.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from surveys.reports.assets import charts
from surveys.reports.context import page_context
from surveys.reports.data import ReportData
from surveys.reports.tables import overview_table, result_table

# ASCII85 encoding of images runs in pure Python in ReportLab 4 (about 2 s for the demo's
# 30 charts) and only makes the file larger; binary streams are fine for every PDF reader.
rl_config.useA85 = 0
WIDTH = A4[0] - 4 * cm  # text width with 2 cm margins
RESULT_WIDTHS_GROUP = [3.2, 1.5, 1.6, 2.4, 1.8, 2.3, 1.5, 2.7]  # cm, with a comparison group
PT_PER_PX = 0.75  # a chart's CSS pixel in points (96 dpi): 11 px text prints as 11 px
HEAD_BG = colors.HexColor("#DDE5EC")
STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=STYLES["BodyText"], fontSize=10, leading=13.5)
SMALL = ParagraphStyle(
    "small", parent=BODY, fontSize=8.5, leading=11, textColor=colors.HexColor("#444444")
)
CELL = ParagraphStyle("cell", parent=BODY, fontSize=8.5, leading=10)
HEAD = ParagraphStyle("head", parent=CELL, fontSize=8, leading=9.5)
NUM = ParagraphStyle("num", parent=CELL, alignment=TA_RIGHT)
H1 = ParagraphStyle("h1", parent=STYLES["Title"], fontSize=24, leading=30, alignment=0)
H2 = ParagraphStyle("h2", parent=STYLES["Heading2"], fontSize=15, keepWithNext=1)
H3 = ParagraphStyle("h3", parent=STYLES["Heading3"], fontSize=11.5, keepWithNext=1)


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of plain text (escaped: comments are never markup)."""
    return Paragraph(escape(text), style)


def report_pdf(data: ReportData, *, year: int, with_charts: bool = True) -> bytes:
    """The appendix "Indikatorerna YYYY" as PDF bytes."""
    context = page_context(data, year=year)
    images = charts(data, year=year, fmt="png") if with_charts else {}
    if not context["bar_chart_print"]:
        images = {key: body for key, body in images.items() if key[1] != "ar"}
    out = io.BytesIO()
    title = f"Indikatorerna {year}" + (f" – {data.intervention}" if data.intervention else "")
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=title,
        author=context["forbund_name"] or context["neutral_title"],
        creator="Indikatorenkäter",
    )
    story = _front(context, title) + _overview(context)
    for section in context["sections"]:
        story += _indicator(section, context, images)
    footer = f"{context['forbund_name'] or context['neutral_title']} · {title}"
    if context["preview"]:
        footer += " · Förhandsgranskning – inte publicerad"

    def number_pages(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(2 * cm, 1.2 * cm, footer)
        canvas.drawRightString(A4[0] - 2 * cm, 1.2 * cm, f"Sida {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=number_pages, onLaterPages=number_pages)
    return out.getvalue()


def _front(context: dict, title: str) -> list:
    year = context["year"]
    story: list = [Spacer(1, 4 * cm), _p(context["forbund_name"] or context["neutral_title"], H3)]
    story += [_p(title, H1), _p("Sammanställning av årets resultat med jämförelser")]
    if context["contact"]:
        story += [Spacer(1, 0.6 * cm)] + [_p(line, SMALL) for line in context["contact"]]
    if context["preview"]:
        story += [Spacer(1, 1 * cm), _p("Förhandsgranskning – inte publicerad.", H3)]
    story.append(PageBreak())
    if context["about"]:
        story.append(_p("Om indikatorerna", H2))
        story += [_p(text) for text in context["about"]]
    story += [_p(f"Indikatorer för finansiell samordning {year}", H2)]
    story.append(_p(context["collection_text"]))
    collection = context["collection"]
    rows = [["Respondentgrupp", *[str(y) for y in collection["years"]]]]
    rows += [[r["name"], *map(str, r["counts"])] for r in collection["rows"]]
    rows.append(["Samtliga grupper", *map(str, collection["totals"])])
    story += [Spacer(1, 6), _table(rows, [7 * cm] + [2.2 * cm] * len(collection["years"]))]
    story.append(
        _p(
            "Andelar av dem som svarat på skalan (Vet ej och obesvarat räknas inte med). "
            f"Resultat som bygger på färre än {context['min_cell']} svar visas inte.",
            SMALL,
        )
    )
    return story


def _overview(context: dict) -> list:
    story: list = [_p("Resultatet i korthet", H2)]
    story += [_p(text) for text in context["introduction"]]
    rows = overview_table(context)
    story.append(_table(rows, [2 * cm, 6.5 * cm, 1.6 * cm, 3.2 * cm, 3.5 * cm], numeric_from=2))
    story.append(_p(f"{context['n_note']} {context['change_note']}", SMALL))
    publication = context["publication"]
    if publication:
        note = context["publication_line"] + ". " + (publication.get("method_note") or "")
        story.append(_p(note, SMALL))
    return story


def _indicator(section: dict, context: dict, images: dict) -> list:
    """One indicator, kept on one page where it fits (it then moves to the next page whole)."""
    year, number = context["year"], section["number"]
    head = [_p(f"Indikator {number}", H2)]
    if section["no_measure"]:  # indicator 11: a line, not a page
        line = f"{section['title']} Ingen nationell mätning ännu; indikatorn är under utveckling."
        return [Spacer(1, 4), KeepTogether([*head, _p(line)])]
    story: list[Flowable] = [*head, _p(section["title"], BODY), _p("Mått", H3)]
    for m in section["measures"]:
        extra = m["gate_text"]
        extra = extra or (f" – {m['condition']}" if m["condition"] else "")
        story.append(_p(f"• {m['text']} ({m['where']}){extra}"))
    trend = images.get((number, "tid"))
    if trend:
        story.append(_image(trend))
    story.append(_p(f"Resultat {year}", H3))
    if not section["groups"]:
        story.append(_p(f"Inga svar för den här indikatorn {year}."))
    else:
        story.append(_result_table(section["groups"]))
        notes = " ".join([section["table_note"], *section["left_out_notes"]])
        story.append(_p(notes, SMALL))
    current = images.get((number, "ar"))
    if current:
        story.append(_image(current))
    if section["comment"]:
        story.append(_p("Kommentarer", H3))
        story += [_p(text) for text in section["comment"]]
    return [Spacer(1, 8), KeepTogether(story)]


def _result_table(groups: list[dict]) -> Table:
    rows, spans = result_table(groups)
    # Riket reads "91% (n=3 970)"; a comparison group (issue 21) takes an eighth column
    widths = [4.0, 1.6, 1.8, 2.8, 2.0, 2.5, 2.3] if len(rows[0]) == 7 else RESULT_WIDTHS_GROUP
    widths = [w * cm for w in widths]
    table = _table(rows, widths, numeric_from=1)
    style: list[tuple] = [("SPAN", (0, i), (-1, i)) for i in spans]
    style += [("BACKGROUND", (0, i), (-1, i), HEAD_BG) for i in spans]
    for i, row in enumerate(rows):
        if i not in spans and i > 0 and row[2] == "" and row[1] and not row[1][:1].isdigit():
            style += [
                ("SPAN", (1, i), (-1, i)),
                ("TEXTCOLOR", (1, i), (-1, i), colors.HexColor("#555555")),
            ]
    table.setStyle(TableStyle(style))
    return table


def _table(rows: list[list[str]], widths: list[float], numeric_from: int = 1) -> Table:
    body = [
        [
            _p(cell, HEAD if i == 0 else (NUM if j >= numeric_from and _numeric(cell) else CELL))
            for j, cell in enumerate(row)
        ]
        for i, row in enumerate(rows)
    ]
    table = Table(body, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF1F3")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#B0B8BF")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return table


def _numeric(cell: str) -> bool:
    """A figure ("96%", "+5", "−3", "±0"): right-aligned like the page's numbers."""
    return cell[:1].isdigit() or (cell[:1] in "+−±" and cell[1:2].isdigit())


def _image(png: bytes) -> Image:
    """A chart scaled to the text width (never wider than the page, never upscaled)."""

    with PILImage.open(io.BytesIO(png)) as im:
        width, height = im.size
    scale = min(PT_PER_PX, WIDTH / (width / 2)) / 2  # rendered at 2x: 2 px per CSS pixel
    return Image(io.BytesIO(png), width=width * scale, height=height * scale, hAlign="LEFT")
