"""The yearly appendix as a Word document to paste into the annual report (python-docx).

Built from ``rapportmall.docx`` beside this file, so the styles an annual
report uses (Title, Heading 1–3, List Bullet, Table Grid, Caption) exist and
can be restyled by the förbund in Word. Tables are real, editable Word tables;
charts are PNG images rendered once for the figures; comments are paragraphs.

``python -m surveys.reports.word --mall`` writes the template again.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import _Cell

from surveys.reports.assets import charts
from surveys.reports.context import page_context
from surveys.reports.data import ReportData
from surveys.reports.tables import overview_table, result_table

TEMPLATE = Path(__file__).with_name("rapportmall.docx")
CHART_WIDTH = Cm(15.5)


def report_docx(data: ReportData, *, year: int, with_charts: bool = True) -> bytes:
    """The appendix "Indikatorerna YYYY" as .docx bytes."""
    context = page_context(data, year=year)
    images = charts(data, year=year, fmt="png") if with_charts else {}
    if not context["bar_chart_print"]:
        images = {key: body for key, body in images.items() if key[1] != "ar"}
    doc = Document(str(TEMPLATE))
    title = f"Indikatorerna {year}" + (f" – {data.intervention}" if data.intervention else "")
    doc.core_properties.title = title
    doc.core_properties.author = context["forbund_name"] or context["neutral_title"]
    _front(doc, context, title)
    _overview(doc, context)
    for section in context["sections"]:
        _indicator(doc, section, context, images)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _front(doc, context: dict, title: str) -> None:
    year = context["year"]
    doc.add_paragraph(context["forbund_name"] or context["neutral_title"], style="Subtitle")
    doc.add_paragraph(title, style="Title")
    doc.add_paragraph("Sammanställning av årets resultat med jämförelser")
    if context["contact"]:
        doc.add_paragraph("\n".join(context["contact"]))
    if context["preview"]:
        doc.add_paragraph("Förhandsgranskning – inte publicerad.", style="Intense Quote")
    if context["about"]:
        doc.add_heading("Om indikatorerna", level=1)
        for text in context["about"]:
            doc.add_paragraph(text)
    doc.add_heading(f"Indikatorer för finansiell samordning {year}", level=1)
    doc.add_paragraph(context["collection_text"])
    collection = context["collection"]
    rows = [["Respondentgrupp", *[str(y) for y in collection["years"]]]]
    rows += [[r["name"], *map(str, r["counts"])] for r in collection["rows"]]
    rows.append(["Samtliga grupper", *map(str, collection["totals"])])
    _table(doc, rows)
    doc.add_paragraph(
        "Andelar av dem som svarat på skalan (Vet ej och obesvarat räknas inte med). "
        f"Resultat som bygger på färre än {context['min_cell']} svar visas inte.",
        style="Caption",
    )


def _overview(doc, context: dict) -> None:
    doc.add_heading("Resultatet i korthet", level=1)
    for text in context["introduction"]:
        doc.add_paragraph(text)
    rows = overview_table(context)
    _table(doc, rows)
    doc.add_paragraph(f"{context['n_note']} {context['change_note']}", style="Caption")
    publication = context["publication"]
    if publication:
        note = context["publication_line"] + ". " + (publication.get("method_note") or "")
        doc.add_paragraph(note, style="Caption")


def _indicator(doc, section: dict, context: dict, images: dict) -> None:
    year, number = context["year"], section["number"]
    heading = doc.add_heading(f"Indikator {number}", level=1)
    heading.paragraph_format.page_break_before = True
    doc.add_paragraph(section["title"]).runs[0].bold = True
    if section["no_measure"]:
        doc.add_paragraph("Ingen nationell mätning ännu. Indikatorn är fortsatt under utveckling.")
        _comments(doc, section)
        return
    doc.add_heading("Mått", level=2)
    for m in section["measures"]:
        extra = m["gate_text"]
        extra = extra or (f" – {m['condition']}" if m["condition"] else "")
        doc.add_paragraph(f"{m['text']} ({m['where']}){extra}", style="List Bullet")
    if images.get((number, "tid")):
        doc.add_heading("Förbundets utveckling över tid", level=2)
        doc.add_picture(io.BytesIO(images[(number, "tid")]), width=CHART_WIDTH)
    doc.add_heading(f"Resultat {year}", level=2)
    if not section["groups"]:
        doc.add_paragraph(f"Inga svar för den här indikatorn {year}.")
    else:
        _result_table(doc, section["groups"])
        notes = " ".join([section["table_note"], *section["left_out_notes"]])
        doc.add_paragraph(notes, style="Caption")
    if images.get((number, "ar")):
        doc.add_picture(io.BytesIO(images[(number, "ar")]), width=CHART_WIDTH)
        doc.add_paragraph(f"Resultat {year}", style="Caption")
    _comments(doc, section)


def _comments(doc, section: dict) -> None:
    """ "Kommentarer" for every indicator: her text, or an empty paragraph to type into."""
    doc.add_heading("Kommentarer", level=2)
    for text in section["comment"] or [""]:
        doc.add_paragraph(text)


def _result_table(doc, groups: list[dict]) -> None:
    rows, merged = result_table(groups)
    table = _table(doc, rows)
    for i in merged:
        cells = _cells(table, i)
        text = cells[0].text
        cell = cells[0].merge(cells[-1])
        cell.text = text
        cell.paragraphs[0].runs[0].bold = True
        _shade(cell, "DDE5EC")


def _table(doc, rows: list[list[str]]):
    """A real Word table in the template's "Table Grid" style, header row repeated."""
    table = doc.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for i, values in enumerate(rows):
        for j, (cell, value) in enumerate(zip(_cells(table, i), values, strict=True)):
            cell.text = value
            paragraph = cell.paragraphs[0]
            if j > 0 and value[:1].isdigit():
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if i == 0:
                for run in paragraph.runs:
                    run.bold = True
    header = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header.append(repeat)
    for cell in _cells(table, 0):
        _shade(cell, "EEF1F3")
    return table


def _cells(table, index: int) -> list[_Cell]:
    """A row's cells straight from its XML: python-docx's ``row.cells`` walks the whole
    table for every call, which made a document with 16 tables take seconds."""
    return [_Cell(tc, table) for tc in table.rows[index]._tr.tc_lst]


def _shade(cell, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shading)


def make_template(path: Path = TEMPLATE) -> None:
    """Write the report template: A4 portrait, calm fonts, page numbers in the footer."""
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2))
    styles = doc.styles
    styles["Normal"].font.name = "Calibri"
    styles["Normal"].font.size = Pt(10.5)
    for name, size in (("Title", 26), ("Heading 1", 16), ("Heading 2", 12.5), ("Heading 3", 11)):
        styles[name].font.name = "Calibri"
        styles[name].font.size = Pt(size)
        styles[name].font.color.rgb = RGBColor(0x1F, 0x3A, 0x55)
    styles["Caption"].font.size = Pt(8.5)
    styles["Caption"].font.italic = False
    styles["Caption"].font.color.rgb = RGBColor(0x44, 0x44, 0x44)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    footer.add_run("Sida ")
    _field(footer, "PAGE")
    doc.save(str(path))


def _field(paragraph, instruction: str) -> None:
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, instruction), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {text} "
        run._r.append(element)


if __name__ == "__main__":  # pragma: no cover - maintenance helper
    if sys.argv[1:] == ["--mall"]:
        make_template()
        print(f"Mallen är skriven: {TEMPLATE}")
