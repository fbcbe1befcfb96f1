"""Write an embedded index from a fresh child process, so its files carry nothing of this one.

hnswlib, under Chroma's embedded index, allocates its vector buffer for more studies than the
index holds and writes the whole buffer to disk, its unused tail uninitialised: whatever the
process's heap held there before. The demo build reads patient names (generate, ingest) in the
process that later writes the index, and the training step's allocator settings keep that heap
(``model.allocator``); a test once found a package README's text in such a tail. So the write
runs in a child started afresh (``spawn``: a new interpreter, not a copy of this heap) with
glibc's ``MALLOC_PERTURB_`` set, which fills every chunk the child's allocator hands out with
one byte, and every larger chunk it takes back with another. The buffer's tail then holds zeros
or those bytes, never text. The child logs and reports progress as its parent does.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from typing import TypeVar

from model.progress import configure_logging, continue_stages, stage_prefixes

Result = TypeVar("Result")
SCRUB_ENVIRONMENT = {"MALLOC_PERTURB_": "90"}  # glibc: freed memory is filled with byte 90


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block (children started in it inherit them)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _start_child(level: int, prefixes: tuple[str, ...]) -> None:
    configure_logging(level)
    continue_stages(prefixes)


def run_in_fresh_process(function: Callable[..., Result], *args: object) -> Result:
    """``function(*args)`` in a freshly started child; its result or its exception comes back.

    ``function`` and ``args`` must pickle (a module-level function, plain data)."""
    context = multiprocessing.get_context("spawn")
    level = logging.getLogger().getEffectiveLevel()
    with _environment(SCRUB_ENVIRONMENT):
        pool = context.Pool(1, initializer=_start_child, initargs=(level, stage_prefixes()))
    try:
        return pool.apply(function, args)
    finally:  # let the child exit on its own: terminating it leaks what it registered
        pool.close()
        pool.join()
