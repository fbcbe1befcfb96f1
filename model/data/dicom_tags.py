"""Fast access to top-level DICOM attributes straight from the raw element bytes.

pydicom converts an element the first time it is read, which costs more than parsing the whole
file when a few dozen attributes are needed from thousands of small images. These helpers decode
the raw bytes of the text (AE/AS/CS/DA/DS/IS/LO/PN/SH/UI...) and unsigned-short (US) attributes
ingest needs, falling back to pydicom's value for elements it has already converted.
"""

from __future__ import annotations

import struct

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

_TAGS: dict[str, int] = {}
_TEXT_ENCODINGS = ("utf-8", "latin-1")


def _tag(keyword: str) -> int:
    tag = _TAGS.get(keyword)
    if tag is None:
        tag = _TAGS[keyword] = int(tag_for_keyword(keyword) or 0)
    return tag


def _element(ds: Dataset, keyword: str) -> object:
    return ds.get_item(_tag(keyword), keep_deferred=True)


def _decode(raw: bytes) -> str:
    for encoding in _TEXT_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("ascii", errors="replace")


def text(ds: Dataset, keyword: str) -> str:
    """A string attribute, stripped; ``""`` when absent."""
    element = _element(ds, keyword)
    if element is None:
        return ""
    if isinstance(element, RawDataElement):
        if element.value is None:
            return ""
        return _decode(bytes(element.value)).strip(" \x00")
    value = element.value  # type: ignore[union-attr]
    return "" if value is None else str(value).strip()


def numbers(ds: Dataset, keyword: str) -> tuple[float, ...] | None:
    """A DS / IS attribute (possibly multi-valued) as floats; None when absent or malformed."""
    element = _element(ds, keyword)
    if element is None:
        return None
    if isinstance(element, RawDataElement):
        parts: list = text(ds, keyword).split("\\")
    else:
        value = element.value  # type: ignore[union-attr]
        is_sequence = hasattr(value, "__iter__") and not isinstance(value, str | bytes)
        parts = list(value) if is_sequence else [value]
    try:
        values = tuple(float(str(part).strip()) for part in parts if str(part).strip() != "")
    except ValueError:
        return None
    return values or None


def number(ds: Dataset, keyword: str) -> float | None:
    """The first value of a DS / IS attribute; None when absent or malformed."""
    values = numbers(ds, keyword)
    return values[0] if values else None


def unsigned_short(ds: Dataset, keyword: str) -> int | None:
    """A US attribute (Rows, Columns, BitsAllocated, ...); None when absent."""
    element = _element(ds, keyword)
    if element is None:
        return None
    if isinstance(element, RawDataElement):
        raw = bytes(element.value or b"")
        if len(raw) < 2:
            return None
        return int(struct.unpack("<H" if element.is_little_endian else ">H", raw[:2])[0])
    value = element.value  # type: ignore[union-attr]
    return None if value in (None, "") else int(value)
