"""Pages that only show data import no torch: a fresh server's first Home or Studies visit (the
table, a case's cine views) does not pay for importing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dashboard_fixtures import APP

pytestmark = pytest.mark.slow

VISIT = """
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
"""


def test_home_and_studies_pages_show_a_case_without_importing_torch(data_root: Path) -> None:
    env = {**os.environ, "CMR_DATA_ROOT": str(data_root)}
    done = subprocess.run(
        [sys.executable, "-c", VISIT, APP],
        cwd=Path(APP).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "shown: [] LGE slices: 16" in done.stdout, done.stdout + done.stderr[-2000:]
    assert "torch imported: False" in done.stdout, done.stdout
