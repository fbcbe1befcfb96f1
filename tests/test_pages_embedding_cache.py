"""The pages over a damaged study embeddings cache file: the reason and the job that computes it
again, not a dead end (the file exists, so before this no page offered the embed job)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from dashboard_fixtures import page_opener, tiny_data_root

from dashboard import cache
from model import embedding_cache
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


def test_the_dashboard_records_each_use_of_the_cache_it_holds_in_memory(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache the dashboard keeps showing is not the least recently used one that tidying
    removes, though the dashboard reads the file only once (later reruns use its memory)."""
    root = Path(shutil.copytree(tiny_data_root(tmp_path_factory), tmp_path / "data"))
    checkpoint = root / "runs" / "tiny" / "best.pt"
    cache = cache_path(
        CMRDataset.open(root / "ds" / "tiny"), read_checkpoint_meta(checkpoint).fingerprint
    )
    long_ago = time.time() - 30 * 86_400
    for path in cache.parent.iterdir():  # written, and last read, a month ago
        os.utime(path, (long_ago, long_ago))
    open_page = page_opener(root, monkeypatch)
    open_page("pages/embeddings.py")
    written = cache.stat().st_mtime_ns
    for path in cache.parent.iterdir():  # unused since; the cache unchanged, so not read again
        if path != cache:
            os.utime(path, (long_ago, long_ago))
    assert embedding_cache.last_use(cache) == pytest.approx(long_ago)
    open_page("pages/embeddings.py")
    assert embedding_cache.last_use(cache) > long_ago + 86_400
    assert cache.stat().st_mtime_ns == written


def test_a_rerun_records_the_use_of_the_cache_it_reads_once(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Embeddings page reads the cache for its map and again to place prompts on it: one
    use mark write per rerun (more only add writes), and every rerun writes one, so the cache
    the page shows stays the most recently used."""
    root = Path(shutil.copytree(tiny_data_root(tmp_path_factory), tmp_path / "data"))
    written: list[Path] = []
    write = embedding_cache._write_mark

    def counting(mark: Path) -> None:
        written.append(mark)
        write(mark)

    monkeypatch.setattr(embedding_cache, "_write_mark", counting)
    at = page_opener(root, monkeypatch)(
        "pages/embeddings.py", **{"e-method": "PCA", "e-prompts": "Dilated left ventricle"}
    )
    assert [str(p.value) for p in at.text_input] == ["Dilated left ventricle"]
    assert len(written) == 1
    at.run()  # the next rerun, with nothing changed: its use is recorded too
    assert not at.exception and len(written) == 2 and written[0] == written[1]


def test_a_cache_removed_while_the_page_opens_it_is_offered_as_not_computed_not_damaged(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tidying (another process's embed) may remove the least recently used cache between the
    page finding it and reading it: nothing is damaged, it is only to be computed again."""
    root = Path(shutil.copytree(tiny_data_root(tmp_path_factory), tmp_path / "data"))
    load = cache.study_embeddings

    def removed_first(path: str, version: tuple[float, ...]) -> object:
        Path(path).unlink()
        return load(path, version)

    monkeypatch.setattr(cache, "study_embeddings", removed_first)
    at = page_opener(root, monkeypatch)("pages/embeddings.py")
    assert "Compute study embeddings" in [b.label for b in at.button]
    shown = " ".join(str(e.value) for e in (*at.info, *at.markdown, *at.caption))
    assert "Study embeddings not computed yet" in shown and "damaged" not in shown


@pytest.mark.parametrize("page", ["pages/embeddings.py", "pages/zeroshot.py"])
def test_a_cache_removed_between_the_pages_check_and_its_use_is_offered_as_not_computed(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    page: str,
) -> None:
    """Tidying may remove the cache after the page found it whole and before the map (or the
    scoring) reads it again by its new version: the page offers the embed job, as for a cache
    never computed, not an error until the next refresh."""
    root = Path(shutil.copytree(tiny_data_root(tmp_path_factory), tmp_path / "data"))
    version_of = cache.version_of
    checked: list[str] = []

    def removed_after_the_check(*paths: str | Path) -> tuple[float, ...]:
        for path in paths:
            if str(path).endswith(".npz") and Path(path).is_file():
                if checked:  # the page's check read it: another process tidies it now
                    Path(path).unlink()
                checked.append(str(path))
        return version_of(*paths)

    monkeypatch.setattr(cache, "version_of", removed_after_the_check)
    at = page_opener(root, monkeypatch)(page)
    assert checked, "the page never looked at the cache"
    assert "Compute study embeddings" in [b.label for b in at.button]
    shown = " ".join(str(e.value) for e in (*at.info, *at.markdown, *at.caption))
    assert "Study embeddings not computed yet" in shown
