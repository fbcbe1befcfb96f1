"""Fast writer for classic MR Image Storage files (explicit VR little endian, one image a file).

A series is described once as a template of keyword -> value (VRs from pydicom's data dictionary);
its static elements are encoded to bytes once, and each image only encodes the few elements that
change (SOP instance UID, instance number, trigger time, position) plus the pixel data. The result
is standard Part 10 that pydicom and other readers open; the tests read every tag back.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from pydicom.datadict import dictionary_VR, tag_for_keyword

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
IMPLEMENTATION_CLASS_UID = "2.25.301845208812405419412004738651021830921"
IMPLEMENTATION_VERSION = "CMRCLIP_GEN_1"
_LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"}
_PREAMBLE = b"\x00" * 128 + b"DICM"

Value = str | int | float | Sequence[str | int | float] | None


def uid_from(*parts: object) -> str:
    """Deterministic DICOM UID ``2.25.<int>`` from a hash of ``parts`` (e.g. seed, site, study)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:15], "big"))


def _format_number(value: float | int, vr: str) -> str:
    if vr == "IS":
        return str(int(value))
    text = f"{float(value):.6g}"
    return text if len(text) <= 16 else f"{float(value):.8e}"[:16]


def _value_bytes(vr: str, value: Value) -> bytes:
    if value is None:
        return b""
    if vr == "US":
        return struct.pack("<H", int(value))
    if vr == "UL":
        return struct.pack("<I", int(value))
    if vr == "FD":
        return struct.pack("<d", float(value))
    values = value if isinstance(value, list | tuple) else [value]
    if vr in ("DS", "IS"):
        text = "\\".join(_format_number(v, vr) for v in values)
    else:
        text = "\\".join(str(v) for v in values)
    raw = text.encode("latin-1")
    if len(raw) % 2:
        raw += b"\x00" if vr == "UI" else b" "
    return raw


@functools.lru_cache(maxsize=256)
def _tag_and_vr(keyword: str) -> tuple[int, str]:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"unknown DICOM keyword {keyword}")
    return tag, dictionary_VR(tag).split(" ")[0]


def encode_element(keyword: str, value: Value) -> tuple[int, bytes]:
    """(tag, explicit-VR little-endian bytes) of one data element named by its DICOM keyword."""
    tag, vr = _tag_and_vr(keyword)
    payload = _value_bytes(vr, value)
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode()
    if vr in _LONG_VRS:
        head += struct.pack("<HI", 0, len(payload))
    else:
        head += struct.pack("<H", len(payload))
    return tag, head + payload


def _pixel_element(pixels: np.ndarray) -> bytes:
    data = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    return struct.pack("<HH", 0x7FE0, 0x0010) + b"OW" + struct.pack("<HI", 0, len(data)) + data


@functools.lru_cache(maxsize=1)
def _constant_meta() -> tuple[bytes, bytes]:
    """File meta elements before and after MediaStorageSOPInstanceUID (they never change)."""
    version = struct.pack("<HH", 0x0002, 0x0001) + b"OB" + struct.pack("<HI", 0, 2) + b"\x00\x01"
    before = version + encode_element("MediaStorageSOPClassUID", MR_IMAGE_STORAGE)[1]
    after = b"".join(
        encode_element(keyword, value)[1]
        for keyword, value in (
            ("TransferSyntaxUID", EXPLICIT_VR_LITTLE_ENDIAN),
            ("ImplementationClassUID", IMPLEMENTATION_CLASS_UID),
            ("ImplementationVersionName", IMPLEMENTATION_VERSION),
        )
    )
    return before, after


def _file_meta(sop_instance_uid: str) -> bytes:
    """Preamble, ``DICM`` and the group 0002 file meta information."""
    before, after = _constant_meta()
    body = before + encode_element("MediaStorageSOPInstanceUID", sop_instance_uid)[1] + after
    length = struct.pack("<HH", 0x0002, 0x0000) + b"UL" + struct.pack("<HI", 4, len(body))
    return _PREAMBLE + length + body


class SeriesTemplate:
    """Static elements of one series, encoded once; ``image_bytes`` adds the per-image ones."""

    def __init__(self, static: Mapping[str, Value], varying: Sequence[str]):
        encoded = dict(encode_element(k, v) for k, v in static.items() if v is not None)
        self._varying = sorted((tag_for_keyword(k), k) for k in varying)
        varying_tags = [tag for tag, _ in self._varying]
        if any(tag in encoded for tag in varying_tags):
            raise ValueError("a keyword is both static and varying")
        # Static bytes between consecutive varying tags, so each image is one join.
        bounds = [*varying_tags, 0x7FE00010]
        self._segments: list[bytes] = []
        ordered = sorted(encoded.items())
        start = 0
        for bound in bounds:
            chunk = [data for tag, data in ordered[start:] if tag < bound]
            start += len(chunk)
            self._segments.append(b"".join(chunk))

    def image_bytes(self, values: Mapping[str, Value], pixels: np.ndarray) -> bytes:
        """Complete Part 10 file for one image; ``values`` holds every varying keyword."""
        parts = [_file_meta(str(values["SOPInstanceUID"]))]
        for segment, (_, keyword) in zip(self._segments, self._varying, strict=False):
            parts.append(segment)
            parts.append(encode_element(keyword, values[keyword])[1])
        parts.append(self._segments[-1])
        parts.append(_pixel_element(pixels))
        return b"".join(parts)


def write_file(path: Path, data: bytes) -> None:
    """Write one image file (the whole output folder is made visible atomically by the caller).

    A failed write (a full disk) names ``path``: ``os.write`` raises without a file name, and
    the command's one-line message would not say where the disk filled up."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view) :]
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from err
    finally:
        os.close(handle)
