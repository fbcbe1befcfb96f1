"""Fast access to top-level DICOM attributes straight from the raw element bytes.

pydicom converts an element the first time it is read, and every keyword lookup goes through its
tag machinery; both cost more than parsing the whole file when a few dozen attributes are needed
from thousands of small images. ``TopLevel`` takes the dataset's element map once, as a plain
dict keyed by integer tag, and decodes the raw bytes of the text (AE/AS/CS/DA/DS/IS/LO/PN/SH/UI...)
and unsigned-short (US) attributes ingest needs, falling back to pydicom's value for elements it
has already converted. Deferred (large) elements are never read here.

Names and descriptions (LO/PN/SH/...) are decoded in the file's SpecificCharacterSet (ISO_IR 144
Cyrillic, GB18030, ISO 2022 Japanese, ...); a file that declares none, Latin-1 alone, or one
Python does not know, is read as UTF-8, else Latin-1, as such exports write either.
"""

from __future__ import annotations

import struct
import warnings

from pydicom.charset import decode_bytes, python_encoding
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

_TAGS: dict[str, int] = {}
_TEXT_ENCODINGS = ("utf-8", "latin-1")
_CHARSET_TAG = 0x00080005  # SpecificCharacterSet
_CHARSET_VRS = {"LO", "LT", "PN", "SH", "ST", "UC", "UT"}  # the VRs it applies to
_VRS: dict[int, str] = {}
# bytes after which ISO 2022 code extensions return to the default set: a name's "^" and "=",
# a text's line breaks and tabs, and the "\\" between values
_DELIMITERS = {"PN": {0x5E, 0x3D}, "": {0x0D, 0x0A, 0x09, 0x0C, 0x5C}}
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


def _vr(element: RawDataElement) -> str:
    if element.VR:
        return str(element.VR)
    tag = int(element.tag)
    if tag not in _VRS:
        try:
            _VRS[tag] = dictionary_VR(tag)
        except KeyError:  # a private or unknown tag
            _VRS[tag] = ""
    return _VRS[tag]


def _decode_in(raw: bytes, encodings: list[str], vr: str) -> str:
    """``raw`` in the file's character set(s): one codec, or ISO 2022 code extensions."""
    if len(encodings) == 1:
        return raw.decode(encodings[0], errors="replace")
    delimiters = _DELIMITERS.get(vr, _DELIMITERS[""])
    with warnings.catch_warnings():  # pydicom warns per undecodable value; the text is kept
        warnings.simplefilter("ignore")
        return decode_bytes(raw, encodings, delimiters)


def _element_text(element: object, encodings: list[str] | None = None) -> str:
    if element is None:
        return ""
    value = element.value  # type: ignore[attr-defined]
    if value is None:
        return ""
    if isinstance(element, RawDataElement):
        raw = bytes(value)
        vr = _vr(element) if encodings else ""
        if encodings and vr in _CHARSET_VRS:
            return _decode_in(raw, encodings, vr).strip(" \x00")
        return _decode(raw).strip(" \x00")
    return str(value).strip()


def _encodings(element: object) -> list[str] | None:
    """Python codecs of a SpecificCharacterSet element; None when it is absent, names a codec
    Python lacks, or is Latin-1 alone (read as UTF-8 first: exports declaring ISO_IR 100 often
    write UTF-8)."""
    if element is None or element.value is None:  # type: ignore[attr-defined]
        return None
    value = element.value  # type: ignore[attr-defined]
    if isinstance(element, RawDataElement):
        terms = _decode(bytes(value)).split("\\")
    else:
        terms = [value] if isinstance(value, str) else [str(term) for term in value]
    codecs = [python_encoding.get(term.strip(" \x00")) for term in terms]
    if any(codec is None for codec in codecs) or set(codecs) == {"iso8859"}:
        return None
    return list(dict.fromkeys(codecs))  # type: ignore[arg-type]


class TopLevel:
    """The top-level attributes of one dataset, read by keyword without converting elements."""

    def __init__(self, ds: Dataset) -> None:
        self.dataset = ds
        self._elements = {int(tag): element for tag, element in ds.items()}
        self._encodings = _encodings(self._elements.get(_CHARSET_TAG))

    def has(self, tag: int) -> bool:
        """Whether the dataset carries ``tag`` at the top level."""
        return tag in self._elements

    def _element(self, keyword: str) -> object:
        return self._elements.get(_tag(keyword))

    def text(self, keyword: str) -> str:
        """A string attribute, stripped; ``""`` when absent."""
        return _element_text(self._element(keyword), self._encodings)

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
