"""An embedded index that crashes whoever reads it is checked in a child, never opened by the
dashboard's server process.

The folder is damaged as the index tests do (``test_index_damage``): a zeroed ``link_lists.bin``,
then a writer that crashes on it, leaving its records in Chroma's log, which any later read
replays. The page is opened in a subprocess, so a crash there (the old behaviour) fails the test
instead of ending the test run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dashboard_fixtures import tiny_data_root
from index_fakes import make_records

from dashboard.settings import Settings
from model.cli import main
from model.errors import DamagedIndex
from model.index.cli_index import _write
from model.index.client import ChromaLocation, index_failures, open_client
from model.index.embedding_index import EmbeddingIndex
from model.index.read_check import check_readable, folder_state
from model.training.checkpoint import read_checkpoint_meta

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

OPEN_BROWSER = """
import sys
from streamlit.testing.v1 import AppTest

if __name__ == "__main__":
    at = AppTest.from_file(sys.argv[1], default_timeout=120)
    at.run()
    at.switch_page("pages/browser.py").run()
    at.text_input(key="b-query").input("Dilated left ventricle").run()
    for box in [*at.exception, *at.error, *at.info, *at.caption, *at.button]:
        print(type(box).__name__, getattr(box, "label", None) or box.value)
"""


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
    _write(location, fingerprint, make_records(1100, dim=dim), None)  # an HNSW graph on disk
    for links in location.path.glob("*/link_lists.bin"):
        links.write_bytes(bytes(links.stat().st_size))
    with pytest.raises(DamagedIndex, match="SIGSEGV"), index_failures(location):
        _write(location, fingerprint, make_records(1100, dim=dim, seed=1), None)
    return root, location, fingerprint


@pytest.mark.timeout(300)
def test_an_index_that_crashes_its_reader_is_named_damaged_without_opening_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root, location, fingerprint = _damaged_root(tmp_path_factory)
    before = folder_state(location.path)
    with pytest.raises(DamagedIndex, match="crashed a process that read it"):
        check_readable(location, fingerprint)
    assert folder_state(location.path) == before  # the check is not a change to check again

    env = {k: v for k, v in os.environ.items() if not k.startswith("CMR_CHROMA_")}
    env["CMR_DATA_ROOT"] = str(root)
    page = subprocess.run(
        [sys.executable, "-c", OPEN_BROWSER, str(ROOT / "app.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert page.returncode == 0, (page.returncode, page.stderr[-2000:])
    assert "Info **The case index is damaged.**" in page.stdout, page.stdout
    assert "Button Rebuild the case index" in page.stdout
    assert "crashed a process that read it" in page.stdout
    assert "exact in-memory ranking over 24 studies" in page.stdout
    assert "Exception" not in page.stdout and "Error " not in page.stdout
