"""bench_scale opens every page of ``pages/``: its own list of pages once lacked Few-shot, so a
page added to the app went unmeasured at a hospital's scale. No timing is asserted; the figures
live in bench/RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bench_scale  # noqa: E402


def test_every_page_of_the_app_is_benched(tmp_path: Path) -> None:
    pages = {path.stem for path in (ROOT / "pages").glob("*.py")}
    assert "fewshot" in pages
    assert {name.split("-")[0] for name in bench_scale.PAGES} == pages
    assert bench_scale.PAGES[0] == "home" and "embeddings-site" in bench_scale.PAGES
    (tmp_path / "home.py").touch()
    (tmp_path / "atlas.py").touch()  # a page added later is benched without editing the bench
    assert bench_scale.page_names(tmp_path) == ("home", "atlas")


@pytest.mark.slow
def test_the_few_shot_page_is_benched_ranking_a_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With an example set in its session the Few-shot page ranks the big dataset's studies
    (with none it would draw only its pickers), and opens without an exception."""
    state = bench_scale.page_state("fewshot", tmp_path / "data")
    (examples,) = next(iter(state.values())).values()
    assert examples.positive and examples.negative
    argv = ["bench_scale", "--studies", "30", "--root", str(tmp_path), "--pages", "fewshot"]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("CMR_DATA_ROOT", str(tmp_path))  # main sets it; restored afterwards
    bench_scale.main()
    [line] = [line for line in capsys.readouterr().out.splitlines() if "page fewshot" in line]
    assert line.endswith("ok"), line
