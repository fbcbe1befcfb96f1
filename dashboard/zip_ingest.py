"""An uploaded zip's import as one background job: unpack it, ingest it, tidy up.

The Studies page used to unpack the zip in its own script run, which any click on the page (or a
reload) stopped: the user had to upload and send the form again. The page now only saves the
upload beside its unpack folder (``save_upload``, a plain file copy with no Streamlit call in
it, so a click waits for it; the copy and its rename fsynced, so a job started after a power
cut finds it whole) and starts the ingest job with ``zip_ingest_command``; the job runs

``python -m dashboard.zip_ingest ZIP FOLDER -- INGEST_COMMAND...``

which unpacks ZIP into FOLDER (``imports/uploads/NAME``) with its progress in the job's progress
file, removes ZIP, runs the ingest command (which reads FOLDER) and, once ingest succeeded,
removes FOLDER too: the dataset holds all it needs of it (tensors, the studies' table with the
reports' impressions, its own ``labels.csv``), and the unpacked DICOM only filled the disk.
After a failure FOLDER is kept: a corrected import can name it as its DICOM folder instead of
uploading the zip again (a hospital's zip takes minutes), and the next upload of the same name
replaces it.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

from dashboard.zip_import import ZipLimits, check_archive, extract_zip
from model.atomic import sync_folder
from model.errors import DataError, UserError
from model.progress import Progress, configure_logging
from model.workers import sigterm_interrupts

log = logging.getLogger("dashboard.zip_ingest")  # run as __main__ in the job
SPOOL_SUFFIX = ".upload.zip"


def check_upload(upload: BinaryIO, limits: ZipLimits | None = None) -> None:
    """Refuse, on the page and before anything is written, a zip whose entries could not be
    unpacked safely (names leaving the folder, links, zip bombs, no file at all): its central
    directory alone says so. Whether it holds DICOM is known once unpacked, in the job."""
    try:
        with zipfile.ZipFile(upload) as archive:
            check_archive(archive, limits or ZipLimits())
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"the upload is not a readable zip file ({err})") from err
    finally:
        upload.seek(0)


def spool_path(folder: Path) -> Path:
    """Where the page saves the upload that the job unpacks into ``folder``."""
    return folder.with_name(f".{folder.name}{SPOOL_SUFFIX}")


def save_upload(upload: BinaryIO, folder: Path) -> Path:
    """Copy the uploaded zip to ``spool_path(folder)``, whole or not at all (a partial copy
    is removed), durably (the file and its folder fsynced), and return that path."""
    spool = spool_path(folder)
    spool.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=spool.name, suffix=".part", dir=spool.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(upload, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, spool)
        sync_folder(spool.parent)  # the job started next finds it after a power cut too
    except BaseException as err:
        Path(partial).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno and not err.filename:  # a write's: say where
            raise OSError(err.errno, err.strerror, str(spool)) from err
        raise
    finally:
        upload.seek(0)
    return spool


def zip_ingest_command(spool: Path, folder: Path, ingest: list[str]) -> list[str]:
    """The job's command: unpack ``spool`` into ``folder``, then run ``ingest`` on it."""
    return [sys.executable, "-m", "dashboard.zip_ingest", str(spool), str(folder), "--", *ingest]


def unpack(spool: Path, folder: Path) -> None:
    """Unpack ``spool`` into ``folder`` (replacing what a failed import of the name left), its
    progress in megabytes; ``spool`` is removed however it ends."""
    try:
        _remove_hidden_leftovers(folder.parent, spool)
        if folder.is_dir() and not folder.is_symlink():
            log.info("replacing %s, left by an earlier import that did not finish", folder)
            shutil.rmtree(folder)
        with Progress("unpacking the zip (MB)", total=None, unit="MB") as bar:

            def advance(done: int, total: int) -> None:
                if bar.total is None:
                    bar.set_total(math.ceil(total / 1e6))
                bar.update(math.ceil(done / 1e6) - bar.done)

            result = extract_zip(spool, folder, progress=advance)
    finally:
        spool.unlink(missing_ok=True)
    log.info("unpacked %d files (%d DICOM)", result.files, result.dicom_files)


def _remove_hidden_leftovers(uploads: Path, spool: Path) -> None:
    """Remove the hidden staging folders and saved uploads that imports killed outright (a
    crash, an out-of-memory kill) left in ``uploads``: patient DICOM no page shows and no later
    import of another name replaced. Only one ingest job runs at a time, so none is in use (a
    page's upload still being copied, ``*.part``, is left alone)."""
    gone = 0
    for path in uploads.glob(".*"):
        if path == spool or path.is_symlink():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.endswith(SPOOL_SUFFIX):
            path.unlink(missing_ok=True)
        else:
            continue
        gone += 1
    if gone:
        log.info("removed %d partial uploads that earlier imports left when killed", gone)


def run(spool: Path, folder: Path, ingest: list[str]) -> int:
    """Job body: unpack, ingest, remove the unpacked files once ingest succeeded. A Cancel
    (SIGTERM) while unpacking leaves no half-unpacked folder."""
    with sigterm_interrupts():
        try:
            unpack(spool, folder)
            code = subprocess.call(ingest)
        except (UserError, DataError) as err:
            log.error("%s", err)
            return 2
        except KeyboardInterrupt:
            log.error("cancelled: no dataset was written")
            return 130
    if code == 0:
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed the unpacked upload %s: the dataset holds its own copy", folder)
    else:
        log.info("kept the unpacked upload %s: a corrected import may name it", folder)
    return code


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit("usage: python -m dashboard.zip_ingest ZIP FOLDER -- INGEST_COMMAND...")
    configure_logging(logging.INFO)
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[4:]))
