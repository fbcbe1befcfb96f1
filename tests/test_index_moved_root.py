"""A data root copied or moved whole keeps its case index usable (README, *Moving or copying a
data root*): the index's record of a dataset's own label columns is still found for the copy, so
search and the Case browser neither call the index older than its labels nor ask for a rebuild."""

from __future__ import annotations

import shutil

import pandas as pd
from tiny_dataset import make_tiny_checkpoint, make_tiny_dataset

from model.cli import main

N = 12


def test_a_copied_root_keeps_its_index_record_of_own_label_columns(tmp_path, caplog):
    root = tmp_path / "root"
    data = make_tiny_dataset(root / "ds" / "hospital", n=N)
    labels = pd.read_csv(data / "labels.csv", dtype=str)
    labels.assign(sarcoid=["1", "0"] * (len(labels) // 2)).to_csv(data / "labels.csv", index=False)
    checkpoint = make_tiny_checkpoint(data, tmp_path / "runs" / "tiny")
    assert main(["index", "--checkpoint", str(checkpoint), "--data", str(data)]) == 0
    moved = tmp_path / "moved"
    shutil.copytree(root, moved, symlinks=True)  # copy2: modification times kept, as cp -a
    copy = moved / "ds" / "hospital"
    search = ["search", "LV", "--checkpoint", str(checkpoint), "--data", str(copy), "--where"]
    caplog.clear()
    assert main([*search, '{"sarcoid": 1}']) == 0
    assert "The case index" not in caplog.text, "the copy's index holds its labels"
    edited = pd.read_csv(copy / "labels.csv", dtype=str)
    edited["sarcoid"] = edited["sarcoid"].map({"1": "0", "0": "1"})
    edited.to_csv(copy / "labels.csv", index=False)
    caplog.clear()
    assert main([*search, '{"sarcoid": 1}']) == 0
    assert "The case index is older than this dataset's labels" in caplog.text, (
        "an edit in the copy still counts"
    )
