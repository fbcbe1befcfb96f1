"""Hostile DICOM files: structured mutations of real DICOM bytes, for the ingest fuzz test and bench.

``Mutation`` describes one change; ``mutate(data, m)`` applies it. Kinds:

- ``truncate``: cut the file at ``position`` (a fraction of its length);
- ``flip``: flip ``count`` bits at pseudo-random places after the 128-byte preamble;
- ``length``: overwrite the length field of a chosen element with ``value`` (huge, odd, zero);
- ``vr``: overwrite the VR of a chosen element with another VR (or garbage);
- ``value``: overwrite a chosen element's value with ``value`` (e.g. Rows = 65535);
- ``insert``: insert random bytes at ``position``.

Elements are found by their tag bytes in explicit-VR little-endian files (what
``tests/dicom_factory.py`` writes), so the mutations hit the fields a parser trusts.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.data import deid
from model.data.dicom_read import read_headers

# (group, element) of the fields worth lying about
TARGET_TAGS = {
    "Rows": (0x0028, 0x0010),
    "Columns": (0x0028, 0x0011),
    "BitsAllocated": (0x0028, 0x0100),
    "NumberOfFrames": (0x0028, 0x0008),
    "PixelData": (0x7FE0, 0x0010),
    "StudyInstanceUID": (0x0020, 0x000D),
    "SeriesDescription": (0x0008, 0x103E),
    "PixelSpacing": (0x0028, 0x0030),
    "ImagePositionPatient": (0x0020, 0x0032),
    "TransferSyntaxUID": (0x0002, 0x0010),
    "PatientName": (0x0010, 0x0010),
}
KINDS = ("truncate", "flip", "length", "vr", "value", "insert")
VRS = (b"OB", b"OW", b"SQ", b"UN", b"UT", b"US", b"DS", b"XX", b"\0\0")
HUGE = (0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x40000000, 0x10000, 0xFFFF, 0, 1, 3)
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"OV", b"SV"}


@dataclass(frozen=True)
class Mutation:
    """One change to a file's bytes (see the module docstring)."""

    kind: str
    tag: str = "PixelData"
    position: float = 0.5
    value: int = 0
    count: int = 1
    seed: int = 0
    vr: bytes = b"UN"


def _find(data: bytes, tag: str) -> int | None:
    group, element = TARGET_TAGS[tag]
    offset = data.find(struct.pack("<HH", group, element), 128)
    return offset if offset >= 0 else None


def _length_field(data: bytes, offset: int) -> tuple[int, int]:
    """(start, size) of the length field of the explicit-VR element at ``offset``."""
    vr = data[offset + 4 : offset + 6]
    return (offset + 8, 4) if vr in _LONG_VRS else (offset + 6, 2)


def mutate(data: bytes, m: Mutation) -> bytes:
    """``data`` with mutation ``m`` applied (unchanged when the target element is absent)."""
    out = bytearray(data)
    rng = random.Random(m.seed)
    if m.kind == "truncate":
        return bytes(out[: int(len(out) * m.position)])
    if m.kind == "flip":
        for _ in range(m.count):
            at = rng.randrange(128, len(out))
            out[at] ^= 1 << rng.randrange(8)
        return bytes(out)
    if m.kind == "insert":
        at = int(len(out) * m.position)
        return bytes(out[:at] + rng.randbytes(m.count) + out[at:])
    offset = _find(data, m.tag)
    if offset is None:
        return bytes(out)
    if m.kind == "vr":
        out[offset + 4 : offset + 6] = m.vr
    elif m.kind == "length":
        start, size = _length_field(data, offset)
        out[start : start + size] = (m.value % (1 << (8 * size))).to_bytes(size, "little")
    elif m.kind == "value":
        start, size = _length_field(data, offset)
        body = start + size
        width = min(4, int.from_bytes(data[start : start + size], "little"), len(out) - body)
        if width > 0:
            out[body : body + width] = (m.value % (1 << (8 * width))).to_bytes(width, "little")
    return bytes(out)


def random_mutation(rng: random.Random) -> Mutation:
    """A random mutation (for the bench; the test draws them with hypothesis)."""
    return Mutation(
        kind=rng.choice(KINDS),
        tag=rng.choice(sorted(TARGET_TAGS)),
        position=rng.random(),
        value=rng.choice([*HUGE, rng.randrange(1 << 32)]),
        count=rng.randrange(1, 64),
        seed=rng.randrange(1 << 30),
        vr=rng.choice(VRS),
    )


def study_of(path: Path) -> str | None:
    """The StudyInstanceUID of a file whose header ingest can read, else ``None``."""
    try:
        headers = read_headers(path)
    except Exception:  # noqa: BLE001 - hostile files fail in many ways
        return None
    return headers[0].study_uid if headers else None


def unaccounted(dataset: Path, studies: dict[str, str | None]) -> list[str]:
    """Mutated files (paths relative to the source) that ended nowhere.

    ``studies`` maps each mutated file to its StudyInstanceUID (``None``: unreadable header). A
    file is accounted for by a report line naming it, or, when its header reads, by its study:
    written to ``studies.parquet`` or rejected on a report line with its study id.
    """
    report = pd.read_csv(dataset / "ingest_report.csv", dtype=str, keep_default_na=False)
    table = dataset / "studies.parquet"
    known = set(report["study_id"])
    written = pd.read_parquet(table) if table.exists() else pd.DataFrame()
    known |= set(written.get("study_id", []))
    salt = deid.load_or_create_salt(dataset)
    return [
        name
        for name, uid in studies.items()
        if name not in set(report["path"])
        and (uid is None or deid.pseudonym(salt, "study", uid) not in known)
    ]
