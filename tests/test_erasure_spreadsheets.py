"""``forget`` reads the spreadsheets that are zip archives of XML (an ``.xlsx`` as Excel saves
it, an ``.ods`` as LibreOffice does): a withdrawn study's id in a cell's text, its accession
number as a cell's number or in a link, lists the spreadsheet with the parts naming them, never
rewritten; one naming none is not listed; one that is not a zip (a password-protected
``.xlsx``), an old ``.xls`` and a PDF are listed as not read (the summary names 20 of many).
The files are written here part by part, in the layout of each format (no spreadsheet writer is
installed)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from model.erasure import Targets
from model.erasure_report import Erasure, summary_text, write_record
from model.erasure_scan import find_mentions, rewrite_mentions

SID, ACC, NUMBER = "s00000000000000a", "ACC0001", "70000001"
OOXML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
ODF = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def _xlsx(path: Path, strings: list[str], number: str, link: str = "https://example.org") -> bytes:
    """A one-sheet workbook: ``strings`` in column A (shared strings), ``number`` in B1, and a
    hyperlink to ``link`` in the sheet's relationships."""
    cells = "".join(
        f'<row r="{i + 1}"><c r="A{i + 1}" t="s"><v>{i}</v></c>'
        + (f'<c r="B1"><v>{number}</v></c>' if i == 0 else "")
        + "</row>"
        for i in range(len(strings))
    )
    shared = "".join(f"<si><t>{text}</t></si>" for text in strings)
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
        "_rels/.rels": '<Relationships><Relationship Id="rId1" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": f'<workbook xmlns="{OOXML}"><sheets><sheet name="Cohort" sheetId="1"'
        ' r:id="rId1"/></sheets></workbook>',
        "xl/sharedStrings.xml": f'<sst xmlns="{OOXML}" count="{len(strings)}">{shared}</sst>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{OOXML}"><sheetData>{cells}'
        "</sheetData></worksheet>",
        "xl/worksheets/_rels/sheet1.xml.rels": '<Relationships><Relationship Id="rId1" '
        f'Target="{link}" TargetMode="External"/></Relationships>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return path.read_bytes()


def _ods(path: Path, number: str) -> bytes:
    """A one-cell OpenDocument spreadsheet holding ``number`` as a float cell."""
    content = (
        f'<office:document-content xmlns:office="{ODF}"><office:body><office:spreadsheet>'
        f'<table:table table:name="Cohort"><table:table-row><table:table-cell '
        f'office:value-type="float" office:value="{number}"><text:p>{number}</text:p>'
        "</table:table-cell></table:table-row></table:table></office:spreadsheet>"
        "</office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", "<manifest:manifest/>")
    return path.read_bytes()


def test_spreadsheets_naming_them_are_listed_by_part_never_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    cohort = _xlsx(root / "cohort.xlsx", ["study_id", SID, "s00000000000000b"], "70000002")
    linked = _xlsx(root / "links.xlsx", ["notes"], "1", link=f"file:///exports/{NUMBER}/cine.png")
    numbers = _ods(root / "numbers.ods", NUMBER)
    _xlsx(root / "near.xlsx", ["s00000000000000b", "x70000001"], "700000010")  # not theirs
    _ods(root / "near.ods", "70000001.5")
    found = find_mentions(root, [], [SID], [NUMBER])
    assert {p.name: z.members for p, z in found.zips.items()} == {
        "cohort.xlsx": ["xl/sharedStrings.xml"],
        "links.xlsx": ["xl/worksheets/_rels/sheet1.xml.rels"],
        "numbers.ods": ["content.xml"],
    }
    assert all(z.spreadsheet for z in found.zips.values())
    assert not found.opaque and not found.unread and not found.other and not found.rows
    rewrite_mentions(found, {SID}, "now", 1, [NUMBER])
    after = [(root / n).read_bytes() for n in ("cohort.xlsx", "links.xlsx", "numbers.ods")]
    assert after == [cohort, linked, numbers]
    erasure = Erasure(tmp_path / "ds", root, Targets([SID], [NUMBER]), given=1)
    erasure.mentions = found
    summary, record = (
        summary_text(erasure, apply=True),
        json.loads(write_record(erasure).read_text()),
    )
    assert (
        "  spreadsheet cohort.xlsx, never rewritten (make it again without them, or remove it, "
        "yourself): 1 of its parts name them: xl/sharedStrings.xml"
    ) in summary.splitlines()
    assert record["spreadsheets_naming_them"]["numbers.ods"] == {
        "parts": ["content.xml"],
        "parts_not_read": 0,
    }
    assert not record["zip_archives_naming_them"] and not record["spreadsheets_and_pdfs_not_read"]
    assert NUMBER not in summary and NUMBER not in json.dumps(record)


def test_a_spreadsheet_that_does_not_open_is_listed_as_not_read(tmp_path: Path) -> None:
    (tmp_path / "locked.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 OLE: encrypted")
    (tmp_path / "cut.ods").write_bytes(_ods(tmp_path / "whole.ods", NUMBER)[:40])
    (tmp_path / "whole.ods").unlink()
    found = find_mentions(tmp_path, [], [SID], [NUMBER])
    assert sorted(p.name for p in found.opaque) == ["cut.ods", "locked.xlsx"]
    assert not found.zips and not found.unread


def test_a_folder_of_many_pdfs_is_summarised_and_recorded_whole(tmp_path: Path) -> None:
    """A reports folder may hold thousands of PDFs: the summary names the first 20 and counts
    the rest; the record lists every one."""
    for i in range(25):
        (tmp_path / f"report_{i:02d}.pdf").write_bytes(b"%PDF-1.7")
    found = find_mentions(tmp_path, [], [SID], [NUMBER])
    erasure = Erasure(tmp_path / "ds", tmp_path, Targets([SID], [NUMBER]), given=1)
    erasure.mentions = found
    lines = summary_text(erasure, apply=False).splitlines()
    assert sum("not read (a spreadsheet or PDF" in line for line in lines) == 20
    assert (
        "  and 5 more spreadsheets and PDFs not read (the erasure record lists them all)" in lines
    )
    assert (
        len(json.loads(write_record(erasure).read_text())["spreadsheets_and_pdfs_not_read"]) == 25
    )
