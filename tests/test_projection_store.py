"""The Embeddings page's map kept beside the study-embedding cache it was fitted from: read back
by a new process without importing umap, fitted again for another cache version or config, or
when damaged, and only kept in memory where the folder cannot be written."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dashboard_fixtures import APP, make_tiny_dataset, tiny_data_root

import model.atomic as atomic_module
from model import projection_store
from model.cli import main as cli_main
from model.data.dataset import CMRDataset
from model.embed import StudyEmbeddings, cache_path
from model.projection import Projection, ProjectionConfig, fit_projection
from model.projection_store import map_path, stored_projection
from model.training.checkpoint import read_checkpoint_meta

PCA = ProjectionConfig(method="PCA", fit_sample=30)


def _cache(folder: Path, seed: int = 0, n: int = 40) -> tuple[Path, StudyEmbeddings]:
    """An embedding cache file of ``n`` clustered unit vectors, and what it holds."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 16)) + 3 * rng.normal(size=(4, 16))[rng.integers(0, 4, n)]
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    embeddings = StudyEmbeddings([f"s{i}" for i in range(n)], vectors)
    path = folder / "embeddings" / "abc123-0123456789abcdef.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    embeddings.save(path)
    return path, StudyEmbeddings.load(path)


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[ProjectionConfig]:
    """The configs ``stored_projection`` fitted a map with (each call of ``fit_projection``)."""
    fitted: list[ProjectionConfig] = []

    def counted(ids: list[str], vectors: np.ndarray, config: ProjectionConfig) -> Projection:
        fitted.append(config)
        return fit_projection(ids, vectors, config)

    monkeypatch.setattr(projection_store, "fit_projection", counted)
    return fitted


@pytest.fixture
def quick_fits(monkeypatch: pytest.MonkeyPatch) -> list[ProjectionConfig]:
    """As ``fits``, but each map is fitted with PCA whatever the config says: a UMAP map's
    file without compiling UMAP's numba kernels in the test."""
    fitted: list[ProjectionConfig] = []

    def quick(ids: list[str], vectors: np.ndarray, config: ProjectionConfig) -> Projection:
        fitted.append(config)
        return fit_projection(ids, vectors, dataclasses.replace(config, method="PCA"))

    monkeypatch.setattr(projection_store, "fit_projection", quick)
    return fitted


def _same(a: Projection, b: Projection) -> bool:
    return (
        a.ids == b.ids
        and np.array_equal(a.coords, b.coords)
        and np.array_equal(a.anchor_coords, b.anchor_coords)
        and np.array_equal(a.anchors, b.anchors)
        and a.neighbors == b.neighbors
    )


FRESH_PROCESS = """
import json, sys
from pathlib import Path
from streamlit.testing.v1 import AppTest
from model.embed import StudyEmbeddings
from model.projection import ProjectionConfig
from model.projection_store import stored_projection

app, cache = sys.argv[1], Path(sys.argv[2])
at = AppTest.from_file(app, default_timeout=120)
at.run()
at.switch_page("pages/embeddings.py").run()
shown = [str(e.value) for e in (*at.exception, *at.error)]
emb = StudyEmbeddings.load(cache)
coords = stored_projection(cache, emb.ids, emb.vectors, ProjectionConfig()).coords
print(json.dumps({"shown": shown, "umap": "umap" in sys.modules, "coords": coords.tolist()}))
"""


def _copied_root(factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A copy of the shared tiny data root without the maps earlier tests kept in it (an
    Embeddings visit keeps one): a map is kept by its embeddings' digest, which a copy keeps,
    so the copy would read it instead of fitting its own."""
    root = Path(shutil.copytree(tiny_data_root(factory), tmp_path / "data"))
    for kept in root.glob("ds/*/embeddings/*.map-*"):
        kept.unlink()
    return root


def test_a_new_process_reads_the_kept_map_without_importing_umap(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, quick_fits: list[ProjectionConfig]
) -> None:
    """The dashboard restarted (``./run.sh``): its first Embeddings visit reads the map this
    process kept, the same coordinates, and never imports umap (nor fits anything)."""
    root = _copied_root(tmp_path_factory, tmp_path)
    checkpoint = root / "runs" / "tiny" / "best.pt"
    dataset = CMRDataset.open(root / "ds" / "tiny")
    cache = cache_path(dataset, read_checkpoint_meta(checkpoint).fingerprint)
    emb = StudyEmbeddings.load(cache)
    kept = stored_projection(cache, emb.ids, emb.vectors, ProjectionConfig())
    assert map_path(cache, ProjectionConfig()).is_file()
    env = {**os.environ, "CMR_DATA_ROOT": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, APP, str(cache)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["shown"] == []
    assert not found["umap"]
    assert np.array_equal(np.asarray(found["coords"], np.float32), kept.coords)


def test_the_map_is_read_back_whole(tmp_path: Path, fits: list[ProjectionConfig]) -> None:
    cache, emb = _cache(tmp_path)
    first = stored_projection(cache, emb.ids, emb.vectors, PCA)
    again = stored_projection(cache, emb.ids, emb.vectors, PCA)
    assert fits == [PCA] and _same(first, again)
    placed = again.place(emb.vectors[:3])
    assert np.array_equal(placed, first.place(emb.vectors[:3]))


def test_another_config_or_a_rewritten_cache_gets_a_new_map(
    tmp_path: Path, fits: list[ProjectionConfig]
) -> None:
    cache, emb = _cache(tmp_path)
    stored_projection(cache, emb.ids, emb.vectors, PCA)
    other = dataclasses.replace(PCA, fit_sample=20)
    stored_projection(cache, emb.ids, emb.vectors, other)
    assert fits == [PCA, other] and map_path(cache, PCA) != map_path(cache, other)
    cache, emb = _cache(tmp_path, seed=1)  # re-embedded: the same name, other vectors
    rewritten = stored_projection(cache, emb.ids, emb.vectors, PCA)
    assert fits == [PCA, other, PCA]
    assert _same(rewritten, fit_projection(emb.ids, emb.vectors, PCA))
    assert _same(stored_projection(cache, emb.ids, emb.vectors, PCA), rewritten)
    assert len(fits) == 3  # the refitted map was kept in place of the stale one


@pytest.mark.parametrize("copy", [shutil.copy2, shutil.copyfile], ids=["cp -a", "plain cp"])
def test_a_data_root_copied_elsewhere_reads_its_maps_back_not_refitted(
    tmp_path: Path, fits: list[ProjectionConfig], copy
) -> None:
    # a laptop for a talk, a USB disk: the copies are new files (other inodes), with their
    # modification times (cp -a, rsync -a) or without (a plain cp, a zip, a file manager)
    cache, emb = _cache(tmp_path / "old")
    fitted = stored_projection(cache, emb.ids, emb.vectors, PCA)
    shutil.copytree(tmp_path / "old", tmp_path / "new", copy_function=copy)
    moved = tmp_path / "new" / cache.relative_to(tmp_path / "old")
    assert _same(stored_projection(moved, emb.ids, emb.vectors, PCA), fitted)
    assert fits == [PCA]


def test_a_map_kept_before_maps_named_their_embeddings_is_still_read_back(
    tmp_path: Path, fits: list[ProjectionConfig]
) -> None:
    # maps written by earlier versions record the cache file's inode, size and mtime instead
    cache, emb = _cache(tmp_path)
    fitted = stored_projection(cache, emb.ids, emb.vectors, PCA)
    stat = cache.stat()
    version = {"inode": stat.st_ino, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    config = json.dumps({"format": 1, **dataclasses.asdict(PCA)}, sort_keys=True)
    old = json.dumps({"cache": version, "config": config}, sort_keys=True)
    _rewritten(map_path(cache, PCA), source=np.asarray(old))
    assert _same(stored_projection(cache, emb.ids, emb.vectors, PCA), fitted)
    assert fits == [PCA]


def _rewritten(path: Path, **arrays: np.ndarray) -> None:
    """The map file at ``path`` with ``arrays`` in place of its own (its version stamp kept)."""
    with np.load(path) as data:
        kept = dict(data)
    with open(path, "wb") as handle:
        np.savez(handle, **{**kept, **arrays})


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[:200]),  # cut short
        lambda path: path.write_bytes(b"not a map"),
        lambda path: _rewritten(path, neighbors=np.arange(2)),  # whole, but not a map's arrays
        lambda path: _rewritten(path, coords=np.full((40, 2), np.nan, np.float32)),
    ],
)
def test_a_damaged_map_is_fitted_again_not_shown(
    tmp_path: Path, fits: list[ProjectionConfig], caplog: pytest.LogCaptureFixture, damage
) -> None:
    cache, emb = _cache(tmp_path)
    good = stored_projection(cache, emb.ids, emb.vectors, PCA)
    damage(map_path(cache, PCA))
    with caplog.at_level(logging.WARNING, logger="model.projection_store"):
        again = stored_projection(cache, emb.ids, emb.vectors, PCA)
    assert len(fits) == 2 and _same(again, good)
    assert "is damaged" in caplog.text and "fitting it again" in caplog.text
    assert _same(stored_projection(cache, emb.ids, emb.vectors, PCA), good) and len(fits) == 2


def test_a_map_of_other_studies_is_fitted_again(
    tmp_path: Path, fits: list[ProjectionConfig]
) -> None:
    """A map whose arrays do not fit the embeddings (here: another cache's map put in its place,
    same version stamp) is never shown."""
    cache, emb = _cache(tmp_path)
    stored_projection(cache, emb.ids, emb.vectors, PCA)
    other, other_emb = _cache(tmp_path / "other", seed=2, n=30)
    stored_projection(other, other_emb.ids, other_emb.vectors, PCA)
    with np.load(map_path(other, PCA)) as data:
        _rewritten(map_path(cache, PCA), **{k: data[k] for k in data.files if k != "source"})
    again = stored_projection(cache, emb.ids, emb.vectors, PCA)
    assert len(fits) == 3 and again.ids == emb.ids and again.coords.shape == (40, 2)


def test_a_folder_that_cannot_be_written_keeps_the_map_in_memory(
    tmp_path: Path,
    fits: list[ProjectionConfig],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another account's dataset, shared read-only: the map is fitted as before, only not kept."""
    cache, emb = _cache(tmp_path)

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(cache.parent / ".x.tmp"))

    monkeypatch.setattr(atomic_module.tempfile, "mkstemp", refused)
    with caplog.at_level(logging.WARNING, logger="model.projection_store"):
        found = stored_projection(cache, emb.ids, emb.vectors, PCA)
    assert _same(found, fit_projection(emb.ids, emb.vectors, PCA))
    assert not map_path(cache, PCA).exists() and "not kept" in caplog.text
    assert _same(stored_projection(cache, emb.ids, emb.vectors, PCA), found) and len(fits) == 2


def test_the_map_command_keeps_the_map_the_dashboard_reads(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    quick_fits: list[ProjectionConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``python -m model map`` (the demo build's last step) leaves the UMAP map of the
    checkpoint's embeddings in place; a dataset too small for UMAP is passed over."""
    root = _copied_root(tmp_path_factory, tmp_path)
    checkpoint = root / "runs" / "tiny" / "best.pt"
    small = root / "ds" / "small"
    make_tiny_dataset(small, n=3, seed=1)
    argv = ["map", "--checkpoint", str(checkpoint), "--data", str(root / "ds" / "tiny")]
    with caplog.at_level(logging.INFO, logger="model.projection_store"):
        assert cli_main([*argv, "--data", str(small)]) == 0
    cache = cache_path(
        CMRDataset.open(root / "ds" / "tiny"), read_checkpoint_meta(checkpoint).fingerprint
    )
    assert quick_fits == [ProjectionConfig()] and map_path(cache, ProjectionConfig()).is_file()
    assert "too few studies for a UMAP map" in caplog.text
    assert not list((small / "embeddings").glob("*.map-*"))
    emb = StudyEmbeddings.load(cache)
    stored_projection(cache, emb.ids, emb.vectors, ProjectionConfig())
    assert len(quick_fits) == 1  # read back, not fitted again


def test_the_map_command_says_so_when_it_could_keep_no_map(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    quick_fits: list[ProjectionConfig],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dataset whose folder cannot be written (another account's, a read-only mount): the
    command says no map was kept there instead of logging the path of a map that is not there
    (and goes on: the map only saves time, and the demo build's last step must not fail)."""
    root = _copied_root(tmp_path_factory, tmp_path)
    dataset = root / "ds" / "tiny"
    embeddings = dataset / "embeddings"

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(embeddings / ".x.tmp"))

    monkeypatch.setattr(atomic_module.tempfile, "mkstemp", refused)
    argv = ["map", "--checkpoint", str(root / "runs" / "tiny" / "best.pt"), "--data", str(dataset)]
    with caplog.at_level(logging.INFO):
        assert cli_main(argv) == 0
    assert len(quick_fits) == 1 and not list(embeddings.glob("*.map-*"))
    assert f"no UMAP map kept in {embeddings}" in caplog.text
    assert "UMAP map of" not in caplog.text


def test_the_map_command_keeps_the_map_beside_the_cache_of_the_weights_it_embedded(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    quick_fits: list[ProjectionConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run still training replaces its best.pt while the command runs: the map of the new
    weights' embeddings goes beside their cache, never beside the earlier weights' cache (whose
    map the Embeddings page would then show for the earlier checkpoint)."""
    import model.embed

    root = _copied_root(tmp_path_factory, tmp_path)
    run, dataset = root / "runs" / "tiny", root / "ds" / "tiny"
    checkpoint = shutil.copy(run / "best.pt", tmp_path / "live.pt")
    embedded = model.embed.cached_study_embeddings

    def replaced_first(*args: object, **kwargs: object) -> StudyEmbeddings:
        shutil.copy(run / "last.pt", checkpoint)  # the next epoch's weights land meanwhile
        return embedded(*args, **kwargs)

    monkeypatch.setattr(model.embed, "cached_study_embeddings", replaced_first)
    assert cli_main(["map", "--checkpoint", str(checkpoint), "--data", str(dataset)]) == 0
    ds = CMRDataset.open(dataset)
    earlier, later = (
        cache_path(ds, read_checkpoint_meta(run / name).fingerprint)
        for name in ("best.pt", "last.pt")
    )
    assert map_path(later, ProjectionConfig()).is_file()
    assert not map_path(earlier, ProjectionConfig()).exists()


def test_the_map_command_takes_its_datasets_as_index_does() -> None:
    """``--data A B`` and ``--data A --data B`` both name two datasets, as for ``index``."""
    import argparse

    from model.projection_store import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for argv in (["--data", "a", "b"], ["--data", "a", "--data", "b"]):
        args = parser.parse_args(["--checkpoint", "c.pt", *argv])
        assert args.data == [Path("a"), Path("b")]


def test_the_map_command_names_a_missing_dataset_before_fitting_any_map(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    quick_fits: list[ProjectionConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A typo'd last --data stopped the command only after the maps of the datasets before it
    were fitted (UMAP: tens of seconds each); now it stops first, in one line."""
    root = _copied_root(tmp_path_factory, tmp_path)
    missing = root / "ds" / "no-such-dataset"
    argv = ["map", "--checkpoint", str(root / "runs" / "tiny" / "best.pt")]
    with caplog.at_level(logging.ERROR):
        assert cli_main([*argv, "--data", str(root / "ds" / "tiny"), str(missing)]) == 2
    assert quick_fits == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"dataset folder {missing} does not exist"
    ]
