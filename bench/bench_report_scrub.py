"""What scrubbing the ingest report costs as the identifiers it looks for grow (run on demand;
prints figures for bench/RESULTS.md).

    python bench/bench_report_scrub.py [--rows 2000] [--patients 2000] [--accessions 50000]

``deidentify_report`` over ``--rows`` report lines whose paths name patients' folders, looking
for the names, IDs, birth dates and accession numbers of ``--patients`` patients (what the DICOM
headers give), against the same with the ``--accessions`` accession numbers keying a hospital's
whole reports and labels CSVs added (scrubbed too since session 41: a header may lack the one
its folder is named by). Median of ``--repeats``.

Then ``other_patients_scrubber`` (session 45): every patient's identifiers of the ingest removed
from each of ``--rows`` impressions (some naming another patient), the scrub built once per
ingest, with and without the accession numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def identifiers(patients: int) -> set[str]:
    """Each patient's name, ID, birth date and accession number, as headers give them."""
    found = set()
    for i in range(patients):
        found |= {f"Family{i:05d}^Given{i:05d}", f"PID{i:07d}", f"19{i % 90 + 10:02d}0101"}
        found.add(f"ACC{i:08d}")
    return found


def report_rows(rows: int) -> list[dict]:
    """Report lines about files in folders named after patients and accession numbers."""
    return [
        {
            "path": f"/export/Family{i:05d}_Given{i:05d}/ACC{90_000_000 + i:08d}/IM{i}.dcm",
            "reason": f"modality CT is not MR (series {i} of /export/Family{i:05d}_Given{i:05d})",
            "series": "CT chest",
        }
        for i in range(rows)
    ]


def median_s(rows: list[dict], found: set[str], repeats: int) -> float:
    from model.data.report_scrub import deidentify_report

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        deidentify_report(rows, Path("/export"), found)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def impressions(rows: int) -> list[str]:
    """Impressions of the demo's kind, every tenth naming another patient and their ID."""
    text = "Dilated LV with severely reduced systolic function. No late gadolinium enhancement."
    return [
        f"{text} Compare with Given{i:05d} Family{i:05d} (PID{i:07d})." if i % 10 == 0 else text
        for i in range(rows)
    ]


def impressions_s(texts: list[str], found: set[str], repeats: int) -> tuple[float, float]:
    """(building the scrub, scrubbing ``texts``), medians in seconds."""
    from model.data.report_scrub import other_patients_scrubber

    builds, scrubs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        scrub = other_patients_scrubber(found)
        built = time.perf_counter()
        scrubbed = [scrub(text) for text in texts]
        scrubs.append(time.perf_counter() - built)
        builds.append(built - start)
    assert "Family00000" not in scrubbed[0], "the scrub missed another patient's name"
    return statistics.median(builds), statistics.median(scrubs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--accessions", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows, headers = report_rows(args.rows), identifiers(args.patients)
    keys = {f"ACC{90_000_000 + i:08d}" for i in range(args.accessions)}
    before = median_s(rows, headers, args.repeats)
    after = median_s(rows, headers | keys, args.repeats)
    print(
        f"{args.rows:,} report lines, {args.patients:,} patients: headers' identifiers "
        f"{before * 1000:.0f} ms; with {args.accessions:,} report/label accession numbers "
        f"{after * 1000:.0f} ms ({after / before:.2f}x)",
        flush=True,
    )
    texts = impressions(args.rows)
    for label, found in (("headers' identifiers", headers), ("with accessions", headers | keys)):
        build, scrub = impressions_s(texts, found, args.repeats)
        print(
            f"{args.rows:,} impressions, {args.patients:,} patients, {label}: scrub built in "
            f"{build * 1000:.0f} ms, applied in {scrub * 1000:.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
