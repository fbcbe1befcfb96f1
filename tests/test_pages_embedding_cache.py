"""The pages over a damaged study embeddings cache file: the reason and the job that computes it
again, not a dead end (the file exists, so before this no page offered the embed job)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dashboard_fixtures import page_opener, tiny_data_root

from model.data.dataset import CMRDataset
from model.embed import cache_path
from model.training.checkpoint import read_checkpoint_meta


@pytest.fixture
def damaged_cache(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A copy of the tiny data root whose best.pt embeddings cache file was cut short."""
    root = Path(shutil.copytree(tiny_data_root(tmp_path_factory), tmp_path / "data"))
    checkpoint = root / "runs" / "tiny" / "best.pt"
    cache = cache_path(
        CMRDataset.open(root / "ds" / "tiny"), read_checkpoint_meta(checkpoint).fingerprint
    )
    cache.write_bytes(cache.read_bytes()[:100])  # a copy cut short, a full disk
    return root


def test_a_damaged_embeddings_cache_offers_the_embed_job(
    damaged_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_page = page_opener(damaged_cache, monkeypatch)
    for page in ("pages/embeddings.py", "pages/browser.py"):
        at = open_page(page)  # no error shown
        assert "Compute study embeddings" in [b.label for b in at.button], page
        shown = " ".join(str(e.value) for e in (*at.info, *at.markdown, *at.caption))
        assert "Study embeddings are damaged" in shown and "is unreadable" in shown, page
