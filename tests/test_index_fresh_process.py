"""An embedded index is written from a fresh child process (``model.index.fresh_process``).

hnswlib persists its vector buffer's uninitialised tail; written from the process that read
patient names (the demo build), that tail could carry them. Here: the child is another, freshly
started process with freed memory scrubbed, results and errors come back, the parent's
environment is left as it was, and an index written right after names were left in freed heap
memory of this process's threads holds none of them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

from model.errors import UserError
from model.index.fresh_process import (
    SCRUB_ENVIRONMENT,
    ChildDied,
    ChildTimedOut,
    run_in_fresh_process,
)
from model.progress import stage_prefix, stage_prefixes

ROOT = Path(__file__).resolve().parents[1]


def _refuse(message: str) -> None:
    raise UserError(message)


def _perturb_setting() -> str | None:
    return os.environ.get("MALLOC_PERTURB_")


def _stage_names() -> tuple[str, ...]:
    return stage_prefixes()


def _imported_streamlit() -> bool:
    return "streamlit" in sys.modules


def _crash() -> None:  # as Chroma's native code does on a damaged HNSW graph
    os.kill(os.getpid(), signal.SIGSEGV)


def test_the_child_is_a_fresh_scrubbed_process_and_the_parent_is_untouched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_PERTURB_", raising=False)
    assert run_in_fresh_process(os.getpid) != os.getpid()
    server = run_in_fresh_process(os.getppid)  # each child is forked from one fork server
    assert server != os.getpid() and run_in_fresh_process(os.getppid) == server
    assert run_in_fresh_process(_perturb_setting) == SCRUB_ENVIRONMENT["MALLOC_PERTURB_"]
    assert "MALLOC_PERTURB_" not in os.environ
    with stage_prefix("4/4 index"):  # the demo build's step label reaches the child's progress
        assert run_in_fresh_process(_stage_names) == ("4/4 index",)
    with pytest.raises(UserError, match="no such dataset"):
        run_in_fresh_process(_refuse, "no such dataset")


def test_a_child_started_while_the_dashboard_runs_does_not_run_the_dashboard_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Streamlit installs the running app.py as ``__main__``; a spawned child imports the parent's
    ``__main__`` file again (the case index's read check starts one per index state, in a page's
    script thread), where app.py must not import Streamlit and lay out the pages anew."""
    app = types.ModuleType("__main__")
    app.__file__ = str(ROOT / "app.py")
    monkeypatch.setitem(sys.modules, "__main__", app)
    assert run_in_fresh_process(_imported_streamlit) is False


def test_the_child_does_not_run_the_parents_main_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamlit installs the page script as a file-only ``__main__``; spawn ran it again in the
    child, where its calls printed "missing ScriptRunContext" warnings to the server's terminal."""
    ran = tmp_path / "ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(ran)!r}, 'w').close()\n", encoding="utf-8")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    assert run_in_fresh_process(os.getpid) != os.getpid()
    assert not ran.exists()
    assert sys.modules["__main__"] is page


@pytest.mark.timeout(120)
def test_a_killed_fork_server_is_started_again_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The out-of-memory killer may pick the server that a long-lived dashboard keeps: the next
    child, asked for at once (the dead server not yet reaped), comes from a new one, started
    with freed memory scrubbed as the first was."""
    monkeypatch.delenv("MALLOC_PERTURB_", raising=False)
    server = run_in_fresh_process(os.getppid)
    os.kill(server, signal.SIGKILL)
    assert run_in_fresh_process(os.getppid) not in (server, os.getpid())
    assert (
        run_in_fresh_process(os.getenv, "MALLOC_PERTURB_") == SCRUB_ENVIRONMENT["MALLOC_PERTURB_"]
    )


@pytest.mark.timeout(120)
def test_a_child_that_dies_without_answering_is_an_error_not_a_wait() -> None:
    with pytest.raises(ChildDied, match="stopped by SIGSEGV"):
        run_in_fresh_process(_crash)
    assert run_in_fresh_process(os.getpid) != os.getpid(), "the next call works as before"


def _hang_deaf_to_sigterm(deaf: str) -> None:  # as a read stuck in native code: never sees SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Path(deaf).touch()
    time.sleep(600)


@pytest.mark.timeout(120)
def test_a_child_that_does_not_answer_in_time_is_stopped(tmp_path: Path) -> None:
    deaf = tmp_path / "deaf"
    for timeout_s in (1, 4, 16):  # a loaded machine may take over 1 s to start the child
        with pytest.raises(ChildTimedOut, match=f"did not finish within {timeout_s} s") as caught:
            run_in_fresh_process(_hang_deaf_to_sigterm, str(deaf), timeout_s=timeout_s)
        if deaf.exists():
            break
    assert deaf.exists(), "the child never started"
    assert caught.value.exitcode == -signal.SIGKILL
    assert not multiprocessing.active_children()
    assert run_in_fresh_process(os.getpid, timeout_s=60) != os.getpid()


PLANT_THEN_WRITE = textwrap.dedent(
    f"""
    import ctypes, sys, threading
    from pathlib import Path

    sys.path.insert(0, {str(ROOT / "tests")!r})
    from index_fakes import make_records
    from model.allocator import tune_allocator
    from model.index.cli_index import _write
    from model.index.client import ChromaLocation

    tune_allocator()  # as every python -m model command does
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    secret = b"PLANTEDPATIENTNAME^"

    def plant():  # leftovers of many sizes, freed before the write
        chunks = [libc.malloc(size) for size in range(4_096, 400_000, 4_096)]
        for chunk, size in zip(chunks, range(4_096, 400_000, 4_096)):
            ctypes.memmove(chunk, secret * (size // len(secret)), size // len(secret) * 19)
        for chunk in chunks:
            libc.free(chunk)

    plant()
    threads = [threading.Thread(target=plant) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _write(ChromaLocation(path=Path(sys.argv[1])), "f" * 64, make_records(6), None)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc heap leftovers")
def test_an_index_written_after_names_were_freed_holds_none(tmp_path: Path) -> None:
    folder = tmp_path / "chroma"
    done = subprocess.run(
        [sys.executable, "-c", PLANT_THEN_WRITE, str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert any(path.name == "data_level0.bin" for path in files), files
    assert not [path.name for path in files if b"PLANTEDPATIENT" in path.read_bytes()]


SLEEP_IN_CHILD = textwrap.dedent(
    """
    import sys
    from model.index.fresh_process import run_in_fresh_process

    if __name__ == "__main__":
        record_pid = f"import os; open({sys.argv[1]!r}, 'w').write(str(os.getpid()))"
        run_in_fresh_process(exec, record_pid + "; import time; time.sleep(600)")
    """
)


def _alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _descendants(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    children = [int(child) for child in found.stdout.split()]
    return [*children, *(grandchild for child in children for grandchild in _descendants(child))]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pidfd_open")
@pytest.mark.timeout(180)
def test_the_child_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed index command releases the writer lock: its child must not write on. The
    child's parent is the fork server; the server and the resource tracker go too."""
    script, started = tmp_path / "parent.py", tmp_path / "child.pid"
    script.write_text(SLEEP_IN_CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, str(script), str(started)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
            time.sleep(0.2)  # the pid is written just after the file is made
        assert started.exists() and started.read_text(), "the child never started"
        time.sleep(0.5)  # the child is inside time.sleep(600) by now
        left_behind = _descendants(parent.pid)
        assert int(started.read_text()) in left_behind
    finally:
        parent.kill()
        parent.wait(timeout=60)
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in left_behind) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in left_behind if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "a process went on after the one that started it was killed"
