"""A dataset's fingerprint: the id a checkpoint, a run's config.json, an embedding cache and an
evaluation record of the data they were made from.

It depends on content only: the bytes of ``studies.parquet`` and, for each study's tensor, its
size and a digest of ``SAMPLE_BLOCKS`` blocks spread over the file (its ``.npy`` header and
first frames, its last frames, and frames of every view between). A dataset copied without its
modification times (``cp -r`` without ``-p``, ``rsync`` without ``-t``, a backup restored) keeps
its fingerprint; a study ingested again from other images, or a tensor replaced, changes it.
Reading every tensor whole would cost minutes on a large dataset (20,000 studies are about 12
GB); the sampled blocks are read by a few threads, so a cold disk serves them in parallel.
Even so it costs about 80 us a study, so each process does not read them again while the files
stat the same: a memo in the account's cache keeps it (``model.data.fingerprint_memo``).

Fingerprints recorded before this (up to 2026-12) hashed each tensor's size and modification
time instead: ``mtime_fingerprint`` still computes one, so a checkpoint of that time resumes
on its own unchanged dataset (``CMRDataset.matches_fingerprint``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from model.data.fingerprint_memo import memoised
from model.schema import DatasetPaths

SAMPLE_BLOCKS = 16  # blocks read per tensor: 16 KiB of a default 590 KB one, each view sampled
BLOCK_BYTES = 1024
READERS = 8  # threads reading tensors: overlaps a cold disk's waits (the reads drop the GIL)


def dataset_fingerprint(paths: DatasetPaths, study_ids: Iterable[str]) -> str:
    """16 hex digits of the content of the dataset at ``paths`` (its ``study_ids``' tensors):
    ``content_fingerprint``, read once per state of its files (``model.data.fingerprint_memo``)."""
    ids = sorted(study_ids)
    return memoised(paths, ids, lambda: content_fingerprint(paths, ids))


def content_fingerprint(paths: DatasetPaths, study_ids: Iterable[str]) -> str:
    """``dataset_fingerprint`` read from the files themselves (no memo)."""
    digest = hashlib.sha256(paths.studies.read_bytes())
    ids = sorted(study_ids)
    with ThreadPoolExecutor(READERS) as pool:
        samples = pool.map(tensor_digest, (paths.tensor(study_id) for study_id in ids))
        for study_id, sample in zip(ids, samples, strict=True):
            digest.update(f"{study_id}:{sample};".encode())
    return digest.hexdigest()[:16]


def tensor_digest(path: os.PathLike[str] | str) -> str:
    """``"<size>:<hex>"``: a file's size and a digest of ``SAMPLE_BLOCKS`` blocks spread evenly
    from its first byte to its last (all of it when smaller); ``"-1"`` when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return "-1"
    try:
        size = os.fstat(fd).st_size
        if size <= SAMPLE_BLOCKS * BLOCK_BYTES:
            data = os.pread(fd, size, 0)
        else:
            step = (size - BLOCK_BYTES) // (SAMPLE_BLOCKS - 1)
            data = b"".join(os.pread(fd, BLOCK_BYTES, i * step) for i in range(SAMPLE_BLOCKS))
    except OSError:
        return "-1"
    finally:
        os.close(fd)
    return f"{size}:{hashlib.blake2b(data, digest_size=8).hexdigest()}"


def mtime_fingerprint(paths: DatasetPaths, study_ids: Iterable[str]) -> str:
    """The fingerprint as recorded up to 2026-12: ``studies.parquet``'s bytes and each tensor's
    size and modification time (a copy without its times read as another dataset)."""
    digest = hashlib.sha256(paths.studies.read_bytes())
    for study_id in sorted(study_ids):
        path = paths.tensor(study_id)
        stat = path.stat() if path.exists() else None
        size, mtime = (stat.st_size, stat.st_mtime_ns) if stat else (-1, -1)
        digest.update(f"{study_id}:{size}:{mtime};".encode())
    return digest.hexdigest()[:16]
