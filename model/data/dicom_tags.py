"""Fast access to top-level DICOM attributes straight from the raw element bytes.

pydicom converts an element the first time it is read, and every keyword lookup goes through its
tag machinery; both cost more than parsing the whole file when a few dozen attributes are needed
from thousands of small images. ``TopLevel`` takes the dataset's element map once, as a plain
dict keyed by integer tag, and decodes the raw bytes of the text (AE/AS/CS/DA/DS/IS/LO/PN/SH/UI...)
and unsigned-short (US) attributes ingest needs, falling back to pydicom's value for elements it
has already converted. Deferred (large) elements are never read here.
"""

from __future__ import annotations

import struct

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

_TAGS: dict[str, int] = {}
_TEXT_ENCODINGS = ("utf-8", "latin-1")
_US_LITTLE, _US_BIG = struct.Struct("<H"), struct.Struct(">H")


def _tag(keyword: str) -> int:
    tag = _TAGS.get(keyword)
    if tag is None:
        tag = _TAGS[keyword] = int(tag_for_keyword(keyword) or 0)
    return tag


def _decode(raw: bytes) -> str:
    for encoding in _TEXT_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("ascii", errors="replace")


def _element_text(element: object) -> str:
    if element is None:
        return ""
    value = element.value  # type: ignore[attr-defined]
    if value is None:
        return ""
    if isinstance(element, RawDataElement):
        return _decode(bytes(value)).strip(" \x00")
    return str(value).strip()


class TopLevel:
    """The top-level attributes of one dataset, read by keyword without converting elements."""

    def __init__(self, ds: Dataset) -> None:
        self.dataset = ds
        self._elements = {int(tag): element for tag, element in ds.items()}

    def has(self, tag: int) -> bool:
        """Whether the dataset carries ``tag`` at the top level."""
        return tag in self._elements

    def _element(self, keyword: str) -> object:
        return self._elements.get(_tag(keyword))

    def text(self, keyword: str) -> str:
        """A string attribute, stripped; ``""`` when absent."""
        return _element_text(self._element(keyword))

    def numbers(self, keyword: str) -> tuple[float, ...] | None:
        """A DS / IS attribute (possibly multi-valued) as floats; None when absent or malformed."""
        element = self._element(keyword)
        if element is None:
            return None
        parts: list
        if isinstance(element, RawDataElement):
            parts = _element_text(element).split("\\")
        else:
            value = element.value  # type: ignore[attr-defined]
            is_sequence = hasattr(value, "__iter__") and not isinstance(value, str | bytes)
            parts = [str(part) for part in value] if is_sequence else [str(value)]
        try:
            values = tuple(float(part) for part in parts if not part.isspace() and part)
        except ValueError:
            return None
        return values or None

    def number(self, keyword: str) -> float | None:
        """The first value of a DS / IS attribute; None when absent or malformed."""
        values = self.numbers(keyword)
        return values[0] if values else None

    def unsigned_short(self, keyword: str) -> int | None:
        """A US attribute (Rows, Columns, BitsAllocated, ...); None when absent."""
        element = self._element(keyword)
        if element is None:
            return None
        if isinstance(element, RawDataElement):
            raw = bytes(element.value or b"")
            if len(raw) < 2:
                return None
            layout = _US_LITTLE if element.is_little_endian else _US_BIG
            return int(layout.unpack_from(raw)[0])
        value = element.value  # type: ignore[attr-defined]
        return None if value in (None, "") else int(value)
