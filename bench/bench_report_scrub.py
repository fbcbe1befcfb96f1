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

``--demo RAW`` (session 48) instead times the scrubs of the demo's own impressions, in CPU
seconds (``time.process_time``: the machine is shared): every site folder under ``RAW`` (what
``python -m model generate`` wrote: ``reports.csv``, ``phi.json``), each study's impression
scrubbed of its own patient's name, ID, birth date, accession and referrer (``scrub_text``, as
ingest does), then the scrub of every patient's identifiers of the site built and applied; and
(session 49) the SHA-256 of every impression as both scrubs leave it, which a change to the scrubs
must keep for the demo's output to stay byte-identical.
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


def demo_workload(raw: Path) -> list[tuple[list[tuple[str, list[str]]], set[str]]]:
    """Per site under ``raw``: (impression, the study's identifiers as ingest passes them) of
    every study with an impression, and every identifier of the site."""
    import json

    from model.data.reports import load_impressions

    sites = []
    for phi_path in sorted(raw.glob("*/phi.json")):
        studies = json.loads(phi_path.read_text(encoding="utf-8"))["studies"]
        impressions = load_impressions(phi_path.parent / "reports.csv")
        own = []
        for accession, impression in impressions.items():
            name, _, _, mrn, born, *_, referrer, _ = studies[accession]
            own.append((impression, [name, mrn, born, accession, referrer]))
        sites.append((own, {value for _, ids in own for value in ids}))
    return sites


def demo_digest(raw: Path) -> str:
    """SHA-256 of every demo impression as both scrubs leave it: equal before and after a change
    to the scrubs, the demo's output is byte-identical."""
    import hashlib

    from model.data.report_scrub import other_patients_scrubber
    from model.data.reports import scrub_text

    digest = hashlib.sha256()
    for studies, found in demo_workload(raw):
        scrub = other_patients_scrubber(found)
        for impression, identifiers in studies:
            digest.update(scrub_text(impression, identifiers).encode() + b"\0")
            digest.update(scrub(impression).encode() + b"\0")
    return digest.hexdigest()


def demo_cpu_ms(raw: Path, repeats: int) -> tuple[int, float, float, float]:
    """(impressions, own scrub, other patients' scrub built, applied): CPU ms, medians."""
    from model.data.report_scrub import other_patients_scrubber
    from model.data.reports import scrub_text

    sites, own, built, applied = demo_workload(raw), [], [], []
    for _ in range(repeats):
        times = [0.0, 0.0, 0.0]
        for studies, found in sites:
            start = time.process_time()
            for impression, identifiers in studies:
                scrub_text(impression, identifiers)
            middle = time.process_time()
            scrub = other_patients_scrubber(found)
            ready = time.process_time()
            for impression, _ in studies:
                scrub(impression)
            end = time.process_time()
            times = [times[0] + middle - start, times[1] + ready - middle, times[2] + end - ready]
        for kept, spent in zip((own, built, applied), times, strict=True):
            kept.append(spent * 1000)
    own_ms, built_ms, applied_ms = (statistics.median(kept) for kept in (own, built, applied))
    return sum(len(studies) for studies, _ in sites), own_ms, built_ms, applied_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--accessions", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--demo", type=Path, help="time the demo's impressions under this raw/")
    args = parser.parse_args()
    if args.demo:
        count, own, built, applied = demo_cpu_ms(args.demo, args.repeats)
        print(
            f"{count:,} demo impressions: own scrub_text {own:.0f} ms CPU; other patients' "
            f"scrub built {built:.0f} ms, applied {applied:.0f} ms CPU",
            flush=True,
        )
        print(f"scrubbed impressions' sha256: {demo_digest(args.demo)}", flush=True)
        return
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
