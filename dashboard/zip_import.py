"""Safe extraction of an uploaded zip of DICOM studies into a folder under the data root.

Refuses, with a message naming the problem: entries that escape the target (``../``, absolute
paths, drive letters), symlinks and other special files, archives whose unpacked size or
compression ratio exceeds the limits (zip bombs), too many entries, and archives holding no file
that looks like DICOM. Extraction goes to a temporary sibling folder that is renamed into place
only when complete, so a failed import leaves nothing half-written; the parent folder is then
fsynced (``model.atomic.sync_folder``), so the rename outlives a power cut.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from model.atomic import current_umask, sync_folder
from model.errors import DataError

_DICOM_MAGIC_OFFSET = 128
_UTF8_FLAG = 0x800  # general purpose bit 11: the entry's name is UTF-8
_CHUNK = 1 << 20
Progress = Callable[[int, int], None]  # (bytes unpacked, bytes in all)


@dataclass(frozen=True)
class ZipLimits:
    """Bounds that keep a hostile or mistaken archive from filling the disk."""

    max_total_bytes: int = 20 * 1024**3
    max_entries: int = 200_000
    max_ratio: float = 200.0


@dataclass(frozen=True)
class ZipImportResult:
    """Where the studies were unpacked and how many files / DICOM files there were."""

    folder: Path
    files: int
    dicom_files: int


def member_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its writer spelled it.

    Without the zip's UTF-8 flag Python reads a name as cp437; macOS and Linux archivers often
    write UTF-8 without setting it, and that reading garbles the name (``Müller`` comes out as
    ``M├╝ller``), so a patient's name in a folder would no longer match the DICOM's and escape
    ingest's scrubbing. Such a name is read as UTF-8 when its bytes are valid UTF-8.
    """
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def entry_label(entries: list[zipfile.ZipInfo], info: zipfile.ZipInfo) -> str:
    """How a refusal names an entry: by its place in the zip, never its name. An export's
    folders are often named after the patient (``DOE^JOHN_19650311/``), and the refusal was
    shown on the page with that name and birth date."""
    where = f"zip entry {entries.index(info) + 1:,} of {len(entries):,}"
    return f"{where} (in `unzip -l` order; its name is not shown: it may name a patient)"


def escape_problem(name: str) -> str | None:
    """Why the entry ``name`` could land outside the target folder; None when it cannot."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        return "has an absolute path"
    if any(part == ".." for part in PurePosixPath(clean).parts):
        return "points outside the import folder (../)"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """Links, devices, fifos (Unix file-type bits); plain permission bits alone are fine."""
    file_type = stat.S_IFMT(info.external_attr >> 16)
    return file_type not in (0, stat.S_IFREG, stat.S_IFDIR)


def looks_like_dicom(head: bytes, name: str) -> bool:
    """Part-10 DICOM (``DICM`` at byte 128), a data set stored without the Part 10 header (as
    ingest reads it), or a ``.dcm`` file name."""
    from model.data.dicom_open import starts_like_bare_data_set  # pydicom: only on an import

    has_magic = head[_DICOM_MAGIC_OFFSET : _DICOM_MAGIC_OFFSET + 4] == b"DICM"
    return has_magic or starts_like_bare_data_set(head) or name.lower().endswith(".dcm")


def check_archive(archive: zipfile.ZipFile, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """Validate every entry against ``limits``; return the regular-file entries."""
    entries = archive.infolist()
    if len(entries) > limits.max_entries:
        raise DataError(f"zip holds {len(entries):,} entries; the limit is {limits.max_entries:,}")
    files = []
    total = 0
    for info in entries:
        if problem := escape_problem(info.filename):
            raise DataError(f"{entry_label(entries, info)} {problem}; refusing")
        if _is_symlink(info):
            raise DataError(f"{entry_label(entries, info)} is a link or special file; refusing")
        if info.is_dir():
            continue
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > limits.max_ratio:
            raise DataError(
                f"{entry_label(entries, info)} expands {ratio:.0f}x (limit {limits.max_ratio:.0f}x); "
                "this looks like a zip bomb"
            )
        files.append(info)
    if total > limits.max_total_bytes:
        raise DataError(
            f"zip would unpack to {total / 1024**3:.1f} GiB; the limit is "
            f"{limits.max_total_bytes / 1024**3:.1f} GiB"
        )
    if not files:
        raise DataError("zip is empty")
    if clash := _clash(files):
        raise DataError(f"{entry_label(entries, clash[0])} {clash[1]}; refusing")
    return files


def _clash(files: list[zipfile.ZipInfo]) -> tuple[zipfile.ZipInfo, str] | None:
    """The first file entry that would land where an earlier one did (its path twice, or a file's
    path as a folder of another), with why: known from the zip's directory, so the page refuses
    it before a large upload is saved and unpacked only to fail."""
    paths: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    for info in files:
        parts = PurePosixPath(member_name(info).replace("\\", "/")).parts
        above = {parts[:end] for end in range(1, len(parts))}
        if parts in paths:
            return info, "appears twice"
        if parts in folders:
            return info, "has the name of a folder of another entry"
        if above & paths:
            return info, "lies in a folder whose name is also a file"
        paths.add(parts)
        folders |= above
    return None


class _LargerThanSaid(Exception):
    """An entry held more bytes than its header declared."""


def _copy_bounded(src: BinaryIO, dst: BinaryIO, limit: int) -> bytes:
    """Copy at most ``limit`` bytes (the declared size); return the first 132 bytes."""
    head = b""
    written = 0
    while chunk := src.read(_CHUNK):
        written += len(chunk)
        if written > limit:
            raise _LargerThanSaid
        if len(head) < _DICOM_MAGIC_OFFSET + 4:
            head += chunk[: _DICOM_MAGIC_OFFSET + 4 - len(head)]
        dst.write(chunk)
    return head


def extract_zip(
    source: str | Path | BinaryIO,
    target: Path,
    limits: ZipLimits | None = None,
    progress: Progress | None = None,
) -> ZipImportResult:
    """Unpack ``source`` into the new folder ``target`` (must not exist) after every check.

    ``progress(done_bytes, total_bytes)`` is called as the unpacking advances (each whole
    percent, and at the end): a hospital's zip of 2 GB unpacks for a minute or more."""
    limits = limits or ZipLimits()
    target = Path(target)
    if target.exists():
        raise DataError(f"{target} already exists; choose another import name")
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"the upload is not a readable zip file ({err})") from err
    with archive:
        members = check_archive(archive, limits)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            dicom = _extract_members(archive, members, staging, progress or _no_progress)
            if dicom == 0:
                raise DataError("the zip holds no DICOM files (no .dcm names, no DICOM header)")
            staging.chmod(0o777 & ~current_umask())  # mkdtemp made it owner-only
            staging.rename(target)
            sync_folder(target.parent)  # the import's name, once there, stays after a crash
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return ZipImportResult(folder=target, files=len(members), dicom_files=dicom)


def _no_progress(done: int, total: int) -> None:
    """No one watches the unpacking."""


def _extract_members(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], staging: Path, progress: Progress
) -> int:
    """Write each checked member under ``staging``; return how many look like DICOM."""
    dicom = 0
    total = sum(info.file_size for info in members)
    done = percent = 0
    for info in members:
        label = partial(entry_label, archive.infolist(), info)  # found on an error only
        name = member_name(info)
        if problem := escape_problem(name):  # the name as unpacked, not as checked above
            raise DataError(f"{label()} {problem}; refusing")
        destination = staging.joinpath(*PurePosixPath(name.replace("\\", "/")).parts)
        if staging.resolve() not in destination.resolve().parents:
            raise DataError(f"{label()} points outside the import folder")
        try:  # mkdir's own error would quote the path, often named after the patient
            destination.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as err:
            raise DataError(
                f"{label()} lies in a folder whose name is also a file; refusing"
            ) from err
        except OSError as err:  # a folder name too long for the disk, the disk full, ...
            raise DataError(f"cannot unpack {label()}: {_unpack_problem(err)}") from err
        try:
            with archive.open(info) as src, open(destination, "xb") as dst:
                head = _copy_bounded(src, dst, info.file_size)
        except FileExistsError as err:
            raise DataError(f"{label()} appears twice; refusing") from err
        except _LargerThanSaid as err:
            raise DataError(f"{label()} is larger than its header says; refusing") from err
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as err:
            raise DataError(f"cannot unpack {label()}: {_unpack_problem(err)}") from err
        dicom += looks_like_dicom(head, info.filename)
        done += info.file_size
        if done * 100 // max(total, 1) > percent or info is members[-1]:
            percent = done * 100 // max(total, 1)
            progress(done, total)
    return dicom


def _unpack_problem(err: Exception) -> str:
    """Why an entry could not be unpacked, without zipfile's message (it quotes the name)."""
    if isinstance(err, OSError) and not isinstance(err, zipfile.BadZipFile):
        return err.strerror or type(err).__name__
    if isinstance(err, NotImplementedError):
        return "its compression method is not supported (save the zip with Deflate)"
    if "encrypted" in str(err):
        return "it is encrypted (save the zip without a password)"
    return "the zip is damaged (a failed copy or download?)"
