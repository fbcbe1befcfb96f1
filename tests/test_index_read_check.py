"""An embedded index that crashes whoever reads it is checked in a child, never opened by the
dashboard's server process.

The folder is damaged as the index tests do (``test_index_damage``): a zeroed ``link_lists.bin``,
then a writer that crashes on it, leaving its records in Chroma's log, which any later read
replays. ``python -m model search`` and the page run in one subprocess (one interpreter start,
not two), so a crash in either (the old behaviour) fails the test instead of ending the test
run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from dashboard_fixtures import tiny_data_root
from index_fakes import CHECKPOINT, DIM, make_records

from dashboard import cache
from dashboard.settings import Settings
from model.cli import main
from model.errors import DamagedIndex
from model.index import read_check
from model.index.cli_index import _write
from model.index.client import ChromaLocation, index_failures, open_client
from model.index.collection_spec import collection_name
from model.index.embedding_index import EmbeddingIndex
from model.index.read_check import (
    FOLDER,
    ReadCheck,
    check_readable,
    damaged_collections,
    folder_state,
    unreadable,
)
from model.training.checkpoint import read_checkpoint_meta

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

SEARCH_AND_BROWSE = """
import sys
from streamlit.testing.v1 import AppTest
from model.cli import main

def search(argv):
    print(f"search exited {main(argv)}", file=sys.stderr, flush=True)

def browse(app):
    at = AppTest.from_file(app, default_timeout=120)
    at.run()
    at.switch_page("pages/browser.py").run()
    at.text_input(key="b-query").input("Dilated left ventricle").run()
    for box in [*at.exception, *at.error, *at.info, *at.caption, *at.button]:
        print(type(box).__name__, getattr(box, "label", None) or box.value)

if __name__ == "__main__":
    app, first, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    for step in (["search", "page"] if first == "search" else ["page", "search"]):
        for stream in (sys.stdout, sys.stderr):
            print(f"=== {step}", file=stream, flush=True)
        search(argv) if step == "search" else browse(app)
"""


@dataclass(frozen=True)
class Run:
    """What one step of the child wrote: its exit status (the whole child's for the page, as a
    crash anywhere ends it), standard output and standard error."""

    returncode: int
    stdout: str
    stderr: str


def _crash_readers(location: ChromaLocation, fingerprint: str, dim: int) -> None:
    """Give ``fingerprint``'s index at ``location`` an HNSW graph on disk, zero its links, and
    leave a crashed writer's records in the log: any later read of it crashes."""
    _write(location, fingerprint, make_records(1100, dim=dim), None)
    for links in location.path.glob("*/link_lists.bin"):
        links.write_bytes(bytes(links.stat().st_size))
    with pytest.raises(DamagedIndex, match="SIGSEGV"), index_failures(location):
        _write(location, fingerprint, make_records(1100, dim=dim, seed=1), None)


def _damaged_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ChromaLocation, str]:
    """A data root whose checkpoint index crashes any process that reads it."""
    root = Path(
        shutil.copytree(tiny_data_root(tmp_path_factory), tmp_path_factory.mktemp("r") / "d")
    )
    checkpoint = Settings(root).active_checkpoint()
    assert checkpoint is not None
    argv = ["index", "--checkpoint", str(checkpoint), "--data", str(root / "ds" / "tiny")]
    assert main(argv) == 0
    location = ChromaLocation(path=root / "ds" / "chroma")
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    dim = int(
        EmbeddingIndex(open_client(location, create=False), fingerprint)
        .collection()
        .metadata["dim"]
    )
    _crash_readers(location, fingerprint, dim)
    return root, location, fingerprint


def _environment(root: Path) -> dict[str, str]:
    """This environment, with ``root`` as the data root and no Chroma server configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMR_CHROMA_")}
    env["CMR_DATA_ROOT"] = str(root)
    return env


def _search_and_browse(root: Path, first: str) -> tuple[Run, Run]:
    """In one subprocess (a crash fails the test, not the test run), ``first`` ("search" or
    "page") then the other: ``python -m model search`` of a text query with the root's active
    checkpoint and dataset, as ``model.cli.main``; and the Case browser on ``root`` with a text
    query, its boxes printed one a line. Each step's output, split from the other's."""
    checkpoint = Settings(root).active_checkpoint()
    argv = ["search", "dilated left ventricle", "--checkpoint", str(checkpoint)]
    child = subprocess.run(
        [sys.executable, "-c", SEARCH_AND_BROWSE, str(ROOT / "app.py"), first, *argv]
        + ["--data", str(root / "ds" / "tiny")],
        cwd=ROOT,
        env=_environment(root),
        capture_output=True,
        text=True,
        timeout=240,
    )
    out, err = (_steps(text) for text in (child.stdout, child.stderr))
    said = re.search(r"^search exited (\d+)$", err.get("search", ""), re.MULTILINE)
    assert said, (child.returncode, child.stderr[-2000:])
    search = Run(int(said.group(1)), out["search"], err["search"])
    return search, Run(child.returncode, out.get("page", ""), err.get("page", ""))


def _steps(text: str) -> dict[str, str]:
    """The child's ``text`` split at its "=== STEP" lines: step -> what it wrote."""
    parts = re.split(r"^=== (search|page)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.timeout(300)
def test_an_index_that_crashes_its_reader_is_named_damaged_without_opening_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root, location, fingerprint = _damaged_root(tmp_path_factory)
    before = folder_state(location.path)
    with pytest.raises(DamagedIndex, match="crashed a process that read it"):
        check_readable(location, fingerprint)
    assert folder_state(location.path) == before  # the check is not a change to check again

    search, page = _search_and_browse(root, "search")
    assert search.returncode == 2, (search.returncode, search.stderr[-2000:])
    assert "crashed a process that read it" in search.stderr
    assert "python -m model index --rebuild" in search.stderr
    assert "Traceback" not in search.stderr

    assert page.returncode == 0, (page.returncode, page.stderr[-2000:])
    assert "Info **The case index is damaged.**" in page.stdout, page.stdout
    assert "Button Rebuild the case index" in page.stdout
    assert "crashed a process that read it" in page.stdout
    assert "exact in-memory ranking over 24 studies" in page.stdout
    assert "Exception" not in page.stdout and "Error " not in page.stdout


@pytest.mark.timeout(300)
def test_another_checkpoints_index_that_crashes_its_reader_is_never_read_by_the_page(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """No index for the active checkpoint; the folder holds another checkpoint's, which crashes
    whoever reads it. The page's "No case index" message used to count it in-process."""
    root = Path(
        shutil.copytree(tiny_data_root(tmp_path_factory), tmp_path_factory.mktemp("o") / "d")
    )
    location = ChromaLocation(path=root / "ds" / "chroma")
    _crash_readers(location, CHECKPOINT, DIM)
    damaged = damaged_collections(location)
    assert list(damaged) == [collection_name(CHECKPOINT)]
    assert "crashed a process that read it" in damaged[collection_name(CHECKPOINT)]

    page, search = _search_and_browse(root, "page")[::-1]
    assert page.returncode == 0, (page.returncode, page.stderr[-2000:])
    assert "No case index for the active checkpoint" in page.stdout, page.stdout
    # said in words, its fingerprint left to the index's log
    assert "another checkpoint's index (one damaged, not read)" in page.stdout, page.stdout
    assert CHECKPOINT[:12] not in page.stdout
    assert "Button Build the case index" in page.stdout
    assert "Exception" not in page.stdout and "Error " not in page.stdout

    assert search.returncode == 2, (search.returncode, search.stderr[-2000:])
    assert "no index for checkpoint" in search.stderr and "Traceback" not in search.stderr


@pytest.mark.timeout(120)
def test_a_read_that_hangs_is_stopped_and_named(tmp_path: Path) -> None:
    """A writer's transaction left open holds Chroma's database: a reader waits on it for ever.
    The check stops its child after the time it was given and names the folder."""
    location = ChromaLocation(path=tmp_path / "chroma")
    _write(location, CHECKPOINT, make_records(20), None)
    with contextlib.closing(sqlite3.connect(location.path / "chroma.sqlite3")) as database:
        database.isolation_level = None
        database.execute("BEGIN EXCLUSIVE")
        damaged = damaged_collections(location, timeout_s=3)
        assert list(damaged) == [FOLDER]
        assert unreadable(damaged, CHECKPOINT) == damaged[FOLDER]
        assert "reading the folder did not finish within 3 s" in damaged[FOLDER]
        database.execute("ROLLBACK")
    assert damaged_collections(location, timeout_s=30) == {}


@pytest.mark.timeout(120)
def test_a_read_that_only_hung_is_checked_again_after_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard keeps a verdict per folder state; a read that hung (an overloaded machine,
    a writer's open transaction) is no proof of damage: once the verdict is older than
    HUNG_READ_RECHECK_S the folder is checked again and reads whole, though it never changed."""
    location = ChromaLocation(path=tmp_path / "chroma")
    _write(location, CHECKPOINT, make_records(20), None)
    patient = read_check.READ_CHECK_TIMEOUT_S
    monkeypatch.setattr(read_check, "READ_CHECK_TIMEOUT_S", 2.0)
    state = folder_state(location.path)
    where = location.describe()
    with contextlib.closing(sqlite3.connect(location.path / "chroma.sqlite3")) as database:
        database.isolation_level = None
        database.execute("BEGIN EXCLUSIVE")
        assert list(cache.index_damage(location, where, state)) == [FOLDER]
        database.execute("ROLLBACK")
    # the recheck reads with the product's patience: under load, 2 s of a fresh process
    # importing Chroma is itself a hang
    monkeypatch.setattr(read_check, "READ_CHECK_TIMEOUT_S", patient)
    assert folder_state(location.path) == state
    assert list(cache.index_damage(location, where, state)) == [FOLDER]  # kept a while
    monkeypatch.setattr(cache, "HUNG_READ_RECHECK_S", 0.0)
    assert cache.index_damage(location, where, state) == {}


def test_a_crash_verdict_stays_until_the_folder_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = ChromaLocation(path=tmp_path / "chroma")
    checks: list[ChromaLocation] = []

    def crashed(where: ChromaLocation) -> ReadCheck:
        checks.append(where)
        return ReadCheck({FOLDER: "the folder crashed a process that read it"}, checked=0.0)

    monkeypatch.setattr(read_check, "check_folder", crashed)
    monkeypatch.setattr(cache, "HUNG_READ_RECHECK_S", 0.0)
    for _ in range(3):
        assert list(cache.index_damage(location, location.describe(), ("state", 1))) == [FOLDER]
    assert len(checks) == 1
    cache.index_damage(location, location.describe(), ("state", 2))  # a write changed it
    assert len(checks) == 2


def test_a_small_index_is_read_without_being_rewritten(tmp_path: Path) -> None:
    """The writer saves even a 24-study index's HNSW files (``HnswParams.sync_threshold``): a
    read, the check's own child process or a query in this one, rebuilds nothing from Chroma's
    log, so the folder state the dashboard keys its check on stays and the next rerun reuses
    the verdict. Chroma's default (1,000) left such an index unsaved and each read rewrote it."""
    location = ChromaLocation(path=tmp_path / "chroma")
    records = make_records(24)
    _write(location, CHECKPOINT, records, None)
    before = folder_state(location.path)
    assert any(name.endswith("/link_lists.bin") for name, *_ in before[2:])
    assert read_check.check_folder(location).damaged == {}
    collection = EmbeddingIndex(open_client(location, create=False), CHECKPOINT).collection()
    found = collection.query(query_embeddings=records.vectors[:1], n_results=3)
    assert found["ids"][0][0] == records.ids[0]
    assert folder_state(location.path) == before
