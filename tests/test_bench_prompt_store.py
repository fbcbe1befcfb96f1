"""bench_prompt_store on the tiny checkpoint: a run with the store removed builds the model
(its tokenizer imported) and writes the store; the next run reads it and builds no model.
No timing is asserted; the figures live in bench/RESULTS.md."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_prompt_store  # noqa: E402
from model.data.dataset import CMRDataset  # noqa: E402
from model.embed import cache_path, cached_study_embeddings  # noqa: E402
from model.training.checkpoint import read_checkpoint_meta  # noqa: E402
from tests.tiny_dataset import shared_tiny_checkpoint  # noqa: E402


def test_an_empty_store_builds_the_model_and_a_filled_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset, checkpoint = shared_tiny_checkpoint()
    copy = Path(shutil.copytree(dataset, tmp_path / "data", ignore=shutil.ignore_patterns("emb*")))
    ds = CMRDataset.open(copy)
    cached_study_embeddings(checkpoint, ds)
    cache = cache_path(ds, read_checkpoint_meta(checkpoint).fingerprint)
    argv = ["bench_prompt_store", "--checkpoint", str(checkpoint), "--embeddings", str(cache)]
    monkeypatch.setattr(sys, "argv", [*argv, "--runs", "2"])
    bench_prompt_store.main()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4, lines
    assert lines[0].startswith("run 0 store empty") and lines[0].endswith("built: True")
    assert lines[1].startswith("run 1 store filled") and lines[1].endswith("built: False")
    assert f"for {len(ds)} studies" in lines[1]
    assert lines[2].startswith("empty: after the imports") and "over 1 runs" in lines[3]
