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

Ctrl-C reaches a terminal's whole process group. The child starts with SIGINT ignored, so it
never dies half-way through the pool's bookkeeping (a dead worker's task is never answered and
the parent would wait for it forever); the interrupted parent stops the child with SIGTERM, which
the child turns into a normal exit that releases what it registered. A write stopped that way is
finished by the next run, as after a kill.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
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


def _exit_on_terminate(signum: int, frame: object) -> None:
    """SIGTERM from the parent: exit through Python, which releases what the child registered."""
    raise SystemExit(128 + signum)


def _start_child(level: int, prefixes: tuple[str, ...]) -> None:
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    configure_logging(level)
    continue_stages(prefixes)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT for the block; a process started in it keeps ignoring it from its start."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not this thread's to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_in_fresh_process(function: Callable[..., Result], *args: object) -> Result:
    """``function(*args)`` in a freshly started child; its result or its exception comes back.

    ``function`` and ``args`` must pickle (a module-level function, plain data). On
    KeyboardInterrupt in this process the child is stopped and the interrupt raised."""
    context = multiprocessing.get_context("spawn")
    level = logging.getLogger().getEffectiveLevel()
    with _environment(SCRUB_ENVIRONMENT), _sigint_ignored():
        pool = context.Pool(1, initializer=_start_child, initargs=(level, stage_prefixes()))
    try:
        return pool.apply(function, args)
    except KeyboardInterrupt:
        pool.terminate()  # the child ignores Ctrl-C; stopping it is this process's job
        raise
    finally:  # otherwise let the child exit on its own
        pool.close()
        pool.join()
