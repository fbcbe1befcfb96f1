"""Write an embedded index from a fresh child process, so its files carry nothing of this one.

hnswlib, under Chroma's embedded index, allocates its vector buffer for more studies than the
index holds and writes the whole buffer to disk, its unused tail uninitialised: whatever the
process's heap held there before. The demo build reads patient names (generate, ingest) in the
process that later writes the index, and the training step's allocator settings keep that heap
(``model.allocator``); a test once found a package README's text in such a tail. So the write
runs in a child that never held this process's heap, with glibc's ``MALLOC_PERTURB_`` set, which
fills every chunk the child's allocator hands out with one byte, and every larger chunk it takes
back with another. The buffer's tail then holds zeros or those bytes, never text.

The children come from multiprocessing's fork server: a new interpreter (not a copy of this
heap), started with ``MALLOC_PERTURB_`` at this process's first call, that imports the modules
whose functions run in children (Chroma with them) and then only forks. Each child is a copy of
that server, which has read nothing but modules, so it starts in milliseconds instead of the
second and a half a new interpreter took to import Chroma again (the dashboard's read checks and
each index command start several). Where there is no fork server (not POSIX), each child is a
new interpreter (``spawn``). Nothing else in ``model`` or ``dashboard`` starts the fork server,
whose environment its children keep; it stays for this process's life (about 150 MiB resident,
shared with the children it forks). The child logs and reports progress as its parent does.

Ctrl-C reaches a terminal's whole process group. The child ignores SIGINT; the interrupted
parent stops the child with SIGTERM, which the child turns into a normal exit that releases what
it registered. A write stopped that way is finished by the next run, as after a kill. The child
dies with the process that asked for it (its parent is the fork server, so a thread of the child
watches that process): a SIGKILLed index command releases the writer lock, and its child must
not go on writing beside the next writer. A child that dies without answering (killed, or
crashed inside Chroma's native code on a damaged index) is ``ChildDied`` in the parent, which
never waits for an answer that cannot come. Given ``timeout_s``, the parent waits no longer than
that for the answer: a child still at work (a read that hangs) is stopped and the call raises
``ChildTimedOut``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import TypeVar

from model.progress import configure_logging, continue_stages, stage_prefixes

log = logging.getLogger(__name__)
Result = TypeVar("Result")
SCRUB_ENVIRONMENT = {"MALLOC_PERTURB_": "90"}  # glibc: freed memory is filled with byte 90
# The modules whose functions run in children, Chroma with them: the fork server imports them once
PRELOADED = (
    "model.index.cli_index",
    "model.index.read_check",
    "model.erasure_index",
    "model.storage_index",
)
START_RETRY_WAITS_S = (0.1, 0.3, 1.0, 2.0)  # a dead fork server is replaced once it is reaped
STOP_GRACE_S = 2.0  # how long a child that ran out of time has to exit before it is killed
_MAIN_SWAP = threading.Lock()  # one child start at a time hides this process's __main__


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


def _die_with(client: int) -> None:
    """SIGTERM this process when ``client``, the process that asked for it, ends. A killed index
    command releases the writer lock at once: its child must not go on writing beside the next
    writer. The fork server, not ``client``, is this process's parent, so a thread watches."""
    threading.Thread(target=_watch, args=(client,), name="client-watch", daemon=True).start()


def _watch(client: int) -> None:
    """Wait for ``client`` to end (its pidfd turns readable), then SIGTERM this process, whose
    main thread exits through Python. Without pidfds (not Linux 5.3 or later) nothing watches."""
    try:
        handle = os.pidfd_open(client)
    except ProcessLookupError:  # ended before the child started watching
        handle = None
    except (AttributeError, OSError):
        return
    if handle is not None:
        select.select([handle], [], [])
        os.close(handle)
    os.kill(os.getpid(), signal.SIGTERM)


def _child_main(
    reply: Connection,
    client: int,
    level: int,
    prefixes: tuple[str, ...],
    function: Callable[..., object],
    args: tuple[object, ...],
) -> None:
    """The child's whole life: run ``function(*args)`` and send back (True, result) or
    (False, the exception)."""
    # a fork server's child starts with the server's handlers; Ctrl-C is the parent's to act on
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    _die_with(client)
    configure_logging(level)
    continue_stages(prefixes)
    try:
        outcome: tuple[bool, object, str] = (True, function(*args), "")
    except Exception as err:  # raised again in the parent, with this traceback as its cause
        outcome = (False, err, traceback.format_exc())
    try:
        reply.send(outcome)
    except Exception:  # an exception or result that does not pickle: its words still do
        words = RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]}")
        reply.send((False, words, outcome[2]))
    reply.close()


class ChildTraceback(Exception):  # noqa: N818 - it carries the child's traceback text
    """Where in the child an exception raised again in the parent came from."""


class ChildDied(RuntimeError):  # noqa: N818 - what happened, said as the message does
    """The child ended without an answer: killed, or crashed in native code (a segfault).
    ``exitcode``: negative for the signal that ended it (multiprocessing's convention)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(_how_it_ended(exitcode))
        self.exitcode = exitcode


class ChildTimedOut(ChildDied):
    """The child did not answer within the time it was given and was stopped."""

    def __init__(self, timeout_s: float, exitcode: int | None) -> None:
        RuntimeError.__init__(
            self, f"process did not finish within {timeout_s:g} s and was stopped"
        )
        self.exitcode = exitcode
        self.timeout_s = timeout_s


@contextlib.contextmanager
def _parent_main_hidden() -> Iterator[None]:
    """Start a child in the block without this process's ``__main__`` script: ``spawn`` runs it
    again in the child when it has a file and no module name. Under Streamlit that is the
    dashboard's page script (its script runner installs it as ``__main__``), which then ran in
    the child outside Streamlit and printed a dozen "missing ScriptRunContext" warnings to the
    server's terminal at every index read check. The child runs a function of ``model``, never
    one of the script's."""
    with _MAIN_SWAP:
        main = sys.modules.get("__main__")
        bare = types.ModuleType("__main__")  # no file, no module name: spawn leaves it alone
        sys.modules["__main__"] = bare
        try:
            yield
        finally:
            if sys.modules.get("__main__") is bare and main is not None:  # not replaced since
                sys.modules["__main__"] = main


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


def run_in_fresh_process(
    function: Callable[..., Result], *args: object, timeout_s: float | None = None
) -> Result:
    """``function(*args)`` in a freshly started child; its result or its exception comes back.

    ``function`` and ``args`` must pickle (a module-level function, plain data). A child that
    dies without answering (a signal, a crash in native code) raises ``ChildDied``; one that has
    not answered within ``timeout_s`` (None: no limit) is stopped and raises ``ChildTimedOut``.
    On KeyboardInterrupt in this process the child is stopped and the interrupt raised."""
    context = _context()
    level = logging.getLogger().getEffectiveLevel()
    answer, reply = context.Pipe(duplex=False)
    child_args = (reply, os.getpid(), level, stage_prefixes(), function, args)
    with _environment(SCRUB_ENVIRONMENT), _sigint_ignored(), _parent_main_hidden():
        child = _start(context, child_args)
    reply.close()  # the child holds the only sending end: its death is this end's EOF
    try:
        if timeout_s is not None and not answer.poll(timeout_s):
            _stop(child)
            raise ChildTimedOut(timeout_s, child.exitcode)
        ok, value, where = answer.recv()
    except EOFError:
        child.join()
        raise ChildDied(child.exitcode) from None
    except KeyboardInterrupt:
        child.terminate()  # the child ignores Ctrl-C; stopping it is this process's job
        raise
    finally:
        answer.close()
        child.join()
    if not ok:
        raise value from ChildTraceback(where)  # type: ignore[misc]
    return value  # type: ignore[return-value]


def _start(
    context: multiprocessing.context.BaseContext, child_args: tuple[object, ...]
) -> multiprocessing.process.BaseProcess:
    """The child, started. A fork server killed a moment ago (the out-of-memory killer may pick
    it) takes no more requests but is not yet reaped, so multiprocessing still counts it as
    running: the request fails, and is made again until a new server is started in its place."""
    waits = iter(START_RETRY_WAITS_S)
    while True:
        child = context.Process(target=_child_main, args=child_args, name="index-writer")
        try:
            child.start()
            return child
        except (EOFError, OSError):  # the server went away before it forked the child
            wait_s = next(waits, None)
            if wait_s is None:
                raise
            log.debug("the fork server did not answer; asking again in %.1f s", wait_s)
            time.sleep(wait_s)


def _context() -> multiprocessing.context.BaseContext:
    """The fork server's context (its server imports ``PRELOADED`` when it starts), or ``spawn``
    where there is no fork server."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOADED))  # never __main__, its default
    return context


def _stop(child: multiprocessing.process.BaseProcess) -> None:
    """SIGTERM the child, then SIGKILL it if it is still there after ``STOP_GRACE_S`` (a hang in
    native code never returns to the interpreter that would act on SIGTERM)."""
    child.terminate()
    child.join(STOP_GRACE_S)
    if child.is_alive():
        child.kill()
        child.join()


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"process was stopped by {name} before it finished"
    return f"process exited with code {exitcode} before it finished"
