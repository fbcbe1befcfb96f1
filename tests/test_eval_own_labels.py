"""``python -m model evaluate`` without ``--labels``: each dataset evaluated with its own labels."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from model.cli import main
from model.provenance import file_sha256
from tests.tiny_dataset import make_tiny_checkpoint, make_tiny_dataset

FAST = ["--episodes", "2", "--bootstrap", "0", "--shots", "1", "--folds", "2"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An internal and an external dataset, each with its own labels.csv, whose hospitals happen
    to use the same accession numbers (with other findings behind them)."""
    root = tmp_path_factory.mktemp("own-labels")
    data = make_tiny_dataset(root / "internal", n=40, seed=0)
    external = make_tiny_dataset(root / "external", n=20, seed=1)
    studies = pd.read_parquet(external / "studies.parquet").assign(site="external")
    studies.to_parquet(external / "studies.parquet", index=False)
    for name in ("linkage.csv", "labels.csv"):
        table = pd.read_csv(external / name, dtype=str)
        table["accession_number"] = table["accession_number"].str.replace("ACC01", "ACC00")
        table.to_csv(external / name, index=False)
    checkpoint = make_tiny_checkpoint(data, root / "run")
    return {"data": data, "external": external, "checkpoint": checkpoint}


def _argv(tiny: dict[str, Path], out: Path) -> list[str]:
    argv = ["evaluate", "--checkpoint", str(tiny["checkpoint"]), "--data", str(tiny["data"])]
    return [*argv, "--external", str(tiny["external"]), "--out", str(out), *FAST]


def _positives(labels: Path, linkage: Path, study_ids: pd.Series) -> pd.Series:
    """Per label column, the positives among ``study_ids`` by ``labels`` joined via ``linkage``."""
    link = pd.read_csv(linkage, dtype=str).set_index("study_id")["accession_number"]
    table = pd.read_csv(labels, dtype=str).set_index("accession_number").astype(float)
    return table.loc[link[study_ids].to_numpy()].eq(1).sum()


def test_each_dataset_is_evaluated_with_its_own_labels(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    assert main(_argv(tiny, out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    # the report names the files it used (outside the data root: by folder and name)
    assert summary["config"]["labels"] == ["internal/labels.csv", "external/labels.csv"]
    own = [tiny["data"] / "labels.csv", tiny["external"] / "labels.csv"]
    assert summary["config"]["sha256"]["labels"] == [file_sha256(path) for path in own]
    for site, dataset in (("internal", tiny["data"]), ("external", tiny["external"])):
        scores = pd.read_csv(out / site / "study_scores.csv")
        evaluated = pd.Series(scores["study_id"].unique())
        expected = _positives(dataset / "labels.csv", dataset / "linkage.csv", evaluated)
        counts = pd.read_csv(out / site / "counts.csv").set_index("label_key")["n_positive"]
        assert counts.to_dict() == expected[counts.index].to_dict(), site


def test_a_dataset_without_labels_is_named_before_any_work(
    tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bare = make_tiny_dataset(tmp_path / "bare", n=10, seed=2)
    (bare / "labels.csv").unlink()
    out = tmp_path / "eval"
    argv = _argv(tiny, out)
    argv[argv.index(str(tiny["external"]))] = str(bare)
    with caplog.at_level(logging.ERROR):
        assert main(argv) == 2
    assert f"no labels for {bare}: no labels.csv in the dataset" in caplog.text
    assert "give --labels" in caplog.text
    assert not out.exists()
