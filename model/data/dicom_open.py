"""Opening one file as a DICOM data set, bounded: the file size is checked first, small files are
parsed from memory, and data sets stored without the Part 10 header (no preamble, as older
archives keep them) are read too; ``decode_pixels`` decodes its pixel data. Every failure is a ``DicomReadError`` whose message is the
reason written to the ingest report.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

MAX_FILE_BYTES = 2 * 1024**3
# Files up to this size are read in one call and parsed from memory: pydicom's many small reads
# and tells cost less on a BytesIO (a fifth of the header pass on typical 8 kB cine images).
_BUFFER_BYTES = 1024**2
# (implicit VR, little endian) of a data set read without file meta -> its transfer syntax
_BARE_SYNTAXES = {(False, True): ExplicitVRLittleEndian, (False, False): ExplicitVRBigEndian}


class DicomReadError(Exception):
    """A file that cannot be used; ``str(err)`` is the reason for the ingest report, and
    ``identifiers`` its patient's (``patient_identifiers``) when its header was read."""

    def __init__(self, reason: str, identifiers: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.identifiers = identifiers


def open_data_set(path: Path, **kwargs) -> Dataset:
    """``pydicom.dcmread`` of ``path`` (``kwargs`` passed on); DicomReadError with the reason."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise DicomReadError(f"unreadable file: {err.strerror or err}") from err
    if size == 0:
        raise DicomReadError("empty file")
    if size > MAX_FILE_BYTES:
        raise DicomReadError(f"file too large ({size / 1e9:.1f} GB)")
    source: Path | io.BytesIO = path
    if size <= _BUFFER_BYTES:
        try:
            source = io.BytesIO(path.read_bytes())
        except PermissionError as err:
            raise DicomReadError("unreadable file: permission denied") from err
        except OSError as err:
            raise DicomReadError(f"unreadable file: {err.strerror or err}") from err
    try:
        try:
            return _with_transfer_syntax(pydicom.dcmread(source, **kwargs))
        except InvalidDicomError as err:
            if not _bare_data_set(source):
                raise DicomReadError("not a DICOM file (no DICM preamble)") from err
        return _with_transfer_syntax(pydicom.dcmread(source, force=True, **kwargs))
    except PermissionError as err:
        raise DicomReadError("unreadable file: permission denied") from err
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DicomReadError(f"corrupt or truncated DICOM: {short_reason(err)}") from err


def starts_like_bare_data_set(head: bytes) -> bool:
    """Whether a file starts like a data set stored without the Part 10 header: group 0002/0008."""
    return head[:2] in (b"\x02\x00", b"\x08\x00")


def _bare_data_set(source: Path | io.BytesIO) -> bool:
    """``starts_like_bare_data_set`` for a file without the DICM preamble. Rewinds a buffer."""
    if isinstance(source, io.BytesIO):
        source.seek(0)
        return starts_like_bare_data_set(source.getvalue()[:2])
    with source.open("rb") as handle:
        return starts_like_bare_data_set(handle.read(2))


def _with_transfer_syntax(ds: Dataset) -> Dataset:
    """The encoding of a data set whose file meta names no transfer syntax (a bare data set, or
    a Part 10 file some exporters write without it) as the transfer syntax it would have named:
    pydicom reads such a file's header but refuses to decode its pixels."""
    if "TransferSyntaxUID" not in ds.file_meta:
        syntax = _BARE_SYNTAXES.get(ds.original_encoding, ImplicitVRLittleEndian)
        ds.file_meta.TransferSyntaxUID = syntax
    return ds


def short_reason(err: BaseException) -> str:
    """The first line of an error's message, whole: the ingest report cuts a reason only once
    patient identifiers are scrubbed from it (``report_scrub.REASON_CHARS``); cut here, a path
    quoted in it could end inside a patient's name, a fragment no identifier matches."""
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def decode_pixels(ds: Dataset) -> np.ndarray:
    """``ds.pixel_array`` (compressed transfer syntaxes through the pylibjpeg plugins);
    DicomReadError naming what to install when no decoder for its syntax is, else the reason."""
    try:
        return ds.pixel_array
    except Exception as err:  # decoders raise many types; the reason goes to the report
        reason = _missing_decoder(ds) or f"pixel decode failed: {short_reason(err)}"
        raise DicomReadError(reason) from err


def _missing_decoder(ds: Dataset) -> str | None:
    """Why a compressed file cannot be decoded when no decoder for its transfer syntax is
    installed, naming the packages that would decode it (pydicom's own message names them on
    lines the report's one-line reason leaves out); None when one is installed."""
    syntax = ds.file_meta.get("TransferSyntaxUID")
    try:
        decoder = get_decoder(syntax)
    except (NotImplementedError, ValueError, TypeError):  # no decoder exists for this syntax
        return None
    if decoder.is_available:
        return None
    # pydicom names each plugin as "pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-openjpeg>=2.0"
    options = [plugin.split(" - requires ", 1)[-1] for plugin in decoder.missing_dependencies]
    return f"no decoder installed for {syntax.name}: install {'; or '.join(options)}"
