"""What reading a spreadsheet costs ``forget``'s data-root scan (``erasure_zips.zip_hits`` on an
``.xlsx``), against its floor and a peer, in one run.

    PYTHONPATH=. .venv/bin/python bench/bench_erasure_spreadsheets.py [--studies 1300]
        [--repeats 20]

Writes a one-sheet workbook of ``--studies`` rows (a study id and an accession number as text,
in shared strings; six scores and a number of digits per row as numbers), in Excel's layout,
and the same cells as a CSV. Prints the best CPU milliseconds of ``--repeats`` of

- ``zip_hits`` on the workbook, one study sought by its accession number (found);
- the floor: decompressing the workbook's XML parts, nothing searched;
- the peer: ``erasure_text.file_names_any`` on the CSV (how a text table is searched);

and the ratios of ``zip_hits`` to each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_erasure_files import accession, best  # noqa: E402
from model import erasure_text, erasure_zips  # noqa: E402
from model.erasure_files import wanted_of  # noqa: E402

SHEET = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SCORES = 6


def rows(studies: int) -> list[list[str]]:
    """Each study's cells as text: id, accession number, scores, a number of digits."""
    rng = np.random.default_rng(0)
    scores = rng.random((studies, SCORES))
    return [
        [f"S{i:016d}", accession(i), *(f"{s:.6f}" for s in scores[i]), str(70_000_000 + i)]
        for i in range(studies)
    ]


def write_xlsx(path: Path, cells: list[list[str]]) -> None:
    """A workbook of ``cells``: the first two columns shared strings, the rest numbers."""
    strings = [text for row in cells for text in row[:2]]
    sheet_rows = []
    for r, row in enumerate(cells, start=1):
        shared = "".join(f'<c r="{"AB"[c]}{r}" t="s"><v>{2 * (r - 1) + c}</v></c>' for c in (0, 1))
        numbers = "".join(f'<c r="{chr(67 + c)}{r}"><v>{v}</v></c>' for c, v in enumerate(row[2:]))
        sheet_rows.append(f'<row r="{r}">{shared}{numbers}</row>')
    parts = {
        "xl/workbook.xml": f'<workbook xmlns="{SHEET}"><sheets><sheet name="Cohort"/></sheets>'
        "</workbook>",
        "xl/sharedStrings.xml": f'<sst xmlns="{SHEET}">'
        + "".join(f"<si><t>{t}</t></si>" for t in strings)
        + "</sst>",
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{SHEET}"><sheetData>'
        + "".join(sheet_rows)
        + "</sheetData></worksheet>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)


def decompress(path: Path) -> int:
    """The floor: every XML part's bytes, read and dropped."""
    with zipfile.ZipFile(path) as archive:
        return sum(len(archive.read(i)) for i in archive.infolist() if i.filename.endswith(".xml"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=1300)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    cells = rows(args.studies)
    wanted = wanted_of(["S" + "9" * 16], [cells[args.studies // 2][1]])
    with tempfile.TemporaryDirectory() as scratch:
        book, table = Path(scratch) / "cohort.xlsx", Path(scratch) / "cohort.csv"
        write_xlsx(book, cells)
        table.write_text("\n".join(",".join(row) for row in cells) + "\n")
        found = erasure_zips.zip_hits(book, wanted)
        assert found is not None and found.members == ["xl/sharedStrings.xml"], found
        reads = {
            "zip_hits (xlsx)": lambda: erasure_zips.zip_hits(book, wanted),
            "floor: decompress": lambda: decompress(book),
            "peer: csv search": lambda: erasure_text.file_names_any(table, wanted),
        }
        cpu = {name: best(read, args.repeats)[1] * 1e3 for name, read in reads.items()}
        size = book.stat().st_size / 1e3
    print(f"{args.studies} rows, workbook {size:.0f} kB")
    for name, ms in cpu.items():
        print(f"{name:20s} best of {args.repeats}: {ms:7.2f} ms cpu")
    for name in ("floor: decompress", "peer: csv search"):
        print(f"zip_hits / {name.split(': ')[1]}: {cpu['zip_hits (xlsx)'] / cpu[name]:.2f}x")


if __name__ == "__main__":
    main()
