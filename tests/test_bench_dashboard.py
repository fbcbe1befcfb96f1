"""bench_dashboard times every page of ``pages/``: its list of pages was kept by hand (as
bench_scale's was, which once lacked Few-shot), so a page added to the app would go unmeasured.
No timing is asserted; the figures live in bench/RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bench_dashboard  # noqa: E402


def test_every_page_of_the_app_is_timed(tmp_path: Path) -> None:
    pages = {path.stem for path in (ROOT / "pages").glob("*.py")}
    assert {Path(page).stem for page in bench_dashboard.PAGES} == pages
    assert bench_dashboard.PAGES[0] == "pages/home.py"
    assert all((ROOT / page).is_file() for page in bench_dashboard.PAGES)  # as switch_page takes
    (tmp_path / "home.py").touch()
    (tmp_path / "atlas.py").touch()  # a page added later is timed without editing the bench
    assert bench_dashboard.page_stems(tmp_path) == ["home", "atlas"]
