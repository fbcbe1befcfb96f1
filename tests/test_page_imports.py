"""What a fresh server's first visit to a page imports: pages that only show data import no
torch (a first Home or Studies visit, the table, a case's cine views, does not pay for it), and
no page imports what only ingest, the CLI or an AUC needs (pydicom, scikit-learn, scipy.stats:
about a second together on a loaded 2-core machine, paid before the page showed anything)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dashboard_fixtures import APP

pytestmark = pytest.mark.slow

NOT_FOR_PAGES = ("pydicom", "sklearn", "scipy.stats")

STUDIES_VISIT = """
import sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
at.switch_page("pages/studies.py").run()
at.session_state["studies_view"] = "Case view"
at.session_state["case_id"] = "s000002"
at.run()
shown = [*at.exception, *at.error]
print("shown:", [box.value for box in shown], "LGE slices:", at.slider(key="lge-lge_sax").max)
print("torch imported:", "torch" in sys.modules)
print("imported:", [name for name in sys.argv[2:] if name in sys.modules])
"""

ZERO_SHOT_VISIT = """
import sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=240)
at.switch_page("pages/zeroshot.py")  # the page's address opened on a fresh server
at.run()
shown = [*at.exception, *at.error]
print("shown:", [box.value for box in shown])
print("scored:", any(str(c.value).startswith("Scored ") for c in at.caption))
print("imported:", [name for name in sys.argv[2:] if name in sys.modules])
"""


FIRST_VISIT = """
import sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=240)
at.switch_page(sys.argv[2])  # the page's address opened on a fresh server
at.run()
print("shown:", [box.value for box in [*at.exception, *at.error]])
print("imported:", [name for name in sys.argv[3:] if name in sys.modules])
"""


READ_VISIT = """
import sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=240)
at.switch_page("pages/zeroshot.py")
at.session_state["zs-try-pos"] = "Dilated left ventricle"
at.session_state["zs-try-neg"] = "Normal left ventricular size"
at.session_state["zs-read"] = True  # "How does the model read these two wordings?"
at.run()
print("shown:", [box.value for box in [*at.exception, *at.error]])
print("read:", [c.value for c in at.caption if "wordings are read at cosine" in str(c.value)])
print("imported:", [name for name in sys.argv[2:] if name in sys.modules])
"""


def _visit(script: str, data_root: Path, watched: tuple[str, ...], *args: str) -> str:
    """The output of ``script`` run in a fresh interpreter on ``data_root`` (with ``args`` after
    the app's path), which prints the ``watched`` modules it imported."""
    env = {**os.environ, "CMR_DATA_ROOT": str(data_root)}
    done = subprocess.run(
        [sys.executable, "-c", script, APP, *args, *watched],
        cwd=Path(APP).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr[-2000:]


def test_home_and_studies_pages_show_a_case_without_importing_torch(data_root: Path) -> None:
    out = _visit(STUDIES_VISIT, data_root, NOT_FOR_PAGES)
    assert "shown: [] LGE slices: 16" in out, out
    assert "torch imported: False" in out, out
    assert "imported: []" in out, out


def test_a_first_zero_shot_visit_imports_only_what_scoring_needs(data_root: Path) -> None:
    """The page scores with the text tower (torch) and, the tiny dataset having labels, shows
    AUCs (scipy.stats); it imports nothing for ingest or the CLI."""
    out = _visit(ZERO_SHOT_VISIT, data_root, ("pydicom", "sklearn"))
    assert "shown: []" in out and "scored: True" in out, out
    assert "imported: []" in out, out


def test_a_first_zero_shot_visit_with_stored_prompt_vectors_builds_no_model(
    data_root: Path,
) -> None:
    """Embedding the studies stored the shipped prompts' vectors (``model.text_store``), so a
    fresh server scores the default prompt set, and names the prompts its tower cannot read,
    without building the model (3-4 s on 2 cores): neither its tokenizer nor its module."""
    stores = list((data_root / "ds" / "tiny" / "embeddings").glob("*.texts.npz"))
    assert stores, "embedding the studies stored no prompt vectors"
    out = _visit(ZERO_SHOT_VISIT, data_root, ("tokenizers", "model.nn.clip_model"))
    assert "shown: []" in out and "scored: True" in out, out
    assert "imported: []" in out, out


@pytest.mark.parametrize(
    "page", ["pages/zeroshot.py", "pages/embeddings.py", "pages/fewshot.py", "pages/browser.py"]
)
def test_a_first_visit_with_stored_vectors_and_checkpoint_metadata_imports_no_torch(
    data_root: Path, page: str
) -> None:
    """The checkpoint's metadata sidecar (``model.checkpoint_meta``) tells its fingerprint,
    context length and scale, and the stores hold the study and prompt vectors: a fresh
    server's first visit shows the page (Zero-shot scores the default prompt set) without
    importing torch (about 1.3 s on a loaded 2-core machine)."""
    checkpoints = list((data_root / "runs").rglob("*.pt"))
    assert checkpoints and all(Path(f"{c}.meta.json").is_file() for c in checkpoints)
    out = _visit(FIRST_VISIT, data_root, ("torch", "tokenizers"), page)
    assert "shown: []" in out and "imported: []" in out, out


def test_reading_two_wordings_again_in_a_fresh_process_builds_no_model(
    data_root: Path, tmp_path: Path
) -> None:
    """The first reading of a pair of wordings builds the model, and keeps the report
    sentences' vectors beside the study embeddings (``model.sentence_store``) and the two
    wordings' in the prompt store; a fresh server then reads them, without torch."""
    root = Path(shutil.copytree(data_root, tmp_path / "root"))
    for kept in [*root.rglob("*.sentences.npz"), *root.rglob("*.texts.npz")]:
        kept.unlink()  # an earlier test's reading of the shared root kept them
    first = _visit(READ_VISIT, root, ("torch", "tokenizers"))
    assert "shown: []" in first and "imported: ['torch', 'tokenizers']" in first, first
    again = _visit(READ_VISIT, root, ("torch", "tokenizers"))
    assert "shown: []" in again and "imported: []" in again, again
    read = [line for line in first.splitlines() if line.startswith("read: ")]
    assert read and read[0] != "read: []" and read[0] in again.splitlines(), (first, again)
