"""Fast unit tests of the training pieces: schedule, batch order, run folder, retrieval, stop."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from model.data.dataset import CMRDataset
from model.embed import embed_studies, encode_studies
from model.errors import UserError
from model.nn.config import TrainConfig
from model.training import validation
from model.training.checkpoint import load_checkpoint
from model.training.distributed import DistContext
from model.training.engine import epoch_batches, rank_shard
from model.training.run_folder import RunFolder
from model.training.schedule import build_scheduler, warmup_cosine_factor, warmup_steps_for
from model.training.train import stop_requests
from model.training.validation import ValSet, retrieval_recalls, selection_score
from tests.tiny_dataset import shared_tiny_checkpoint


def test_warmup_then_cosine_to_the_floor() -> None:
    factors = [warmup_cosine_factor(s, 4, 20, 0.1) for s in range(21)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[4:], factors[5:], strict=False))
    assert factors[20] == pytest.approx(0.1)
    assert factors[12] == pytest.approx(0.1 + 0.9 * 0.5)


def test_scheduler_drives_every_group_and_warmup_fraction() -> None:
    cfg = TrainConfig(lr=1e-3, warmup_steps=0, warmup_fraction=0.1, min_lr_ratio=0.0)
    assert warmup_steps_for(cfg, 100) == 10
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    optimizer = torch.optim.AdamW(
        [{"params": params[:1], "lr": 1e-3}, {"params": params[1:], "lr": 1e-4}]
    )
    scheduler = build_scheduler(optimizer, cfg, total_steps=100)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-4, 1e-5])
    for _ in range(10):
        optimizer.step()
        scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-3, 1e-4])


def test_batch_order_is_a_function_of_seed_and_epoch() -> None:
    first = epoch_batches(10, 4, seed=0, epoch=0)
    assert first == epoch_batches(10, 4, seed=0, epoch=0)
    assert first != epoch_batches(10, 4, seed=0, epoch=1)
    assert len(first) == 2 and all(len(b) == 4 for b in first)
    assert len({i for b in first for i in b}) == 8
    assert epoch_batches(3, 8, seed=0, epoch=0)[0] != []  # a small set still makes a batch


def test_rank_shards_cover_the_global_batch() -> None:
    batch = [5, 1, 7, 3]
    shards = [rank_shard(batch, DistContext(r, 2, r, torch.device("cpu"))) for r in range(2)]
    assert shards == [[5, 1], [7, 3]]


def test_run_folder_status_metrics_and_refusal(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.prepare(resume=False)
    folder.update_status(state="running", epoch=0, step=3, eta_s=float("nan"))
    status = json.loads(folder.status_path.read_text())
    assert status["state"] == "running" and status["pid"] == os.getpid() and status["eta_s"] is None
    with pytest.raises(ValueError):
        folder.update_status(state="exploded")
    for step in (1, 2, 3):
        folder.append_metrics({"kind": "train", "step": step, "loss": float(step)})
    with open(folder.metrics_path, "a") as handle:
        handle.write('{"kind": "train", "st')  # a torn last line
    assert [r["step"] for r in folder.read_metrics()] == [1, 2, 3]
    folder.truncate_metrics_after(2)
    assert [r["step"] for r in folder.read_metrics()] == [1, 2]
    folder.last_checkpoint.write_bytes(b"x")
    with pytest.raises(UserError, match="--resume"):
        RunFolder(tmp_path / "run").prepare(resume=False)
    with pytest.raises(UserError, match="cannot resume"):
        RunFolder(tmp_path / "other").prepare(resume=True)


def test_retrieval_counts_identical_reports_as_hits() -> None:
    texts = ["a", "b", "a", "c"]
    text = np.eye(4, dtype=np.float32)[[0, 1, 0, 3]]  # the same text, the same embedding
    video = np.eye(4, dtype=np.float32)[[0, 1, 0, 3]]  # study 0 looks like report 2 (same text)
    out = retrieval_recalls(video, text, texts)
    assert out["s2r@1"] == 1.0 and out["r2s@1"] == 1.0
    shuffled = np.eye(4, dtype=np.float32)[[1, 3, 0, 0]]
    worse = retrieval_recalls(shuffled, text, texts)
    assert worse["s2r@1"] < 1.0 and worse["r@10"] == 1.0
    metrics = {f"val_r@{k}": v for k, v in ((1, 0.2), (5, 0.5), (10, 0.8))}
    assert selection_score(metrics) == pytest.approx(0.5)


def test_a_collapsed_model_retrieves_at_chance_and_is_not_selected() -> None:
    """Every study and report embedded alike (a collapsed or untrained model): every candidate
    ties, so R@1 is the chance of drawing the right one first. Ties counted in the query's
    favour scored it R@1 = 1, the best selection score a checkpoint can have."""
    texts = [f"impression {i}" for i in range(20)]
    alike = np.full((20, 4), 0.5, dtype=np.float32)
    out = retrieval_recalls(alike, alike, texts)
    assert out["s2r@1"] == pytest.approx(1 / 20) and out["r2s@1"] == pytest.approx(1 / 20)
    assert out["r@10"] == pytest.approx(10 / 20)
    assert out["median_rank_s2r"] == pytest.approx(10.5)


def test_sigterm_sets_the_stop_flag_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_requests() as flag:
        os.kill(os.getpid(), signal.SIGTERM)
        assert flag == [True]
    assert signal.getsignal(signal.SIGTERM) == before


def test_val_set_holds_small_inputs_and_reads_large_ones_afresh(monkeypatch) -> None:
    data, checkpoint = shared_tiny_checkpoint()
    model, _ = load_checkpoint(checkpoint)
    ds = CMRDataset.open(data)
    ids, _ = ds.reported_ids("val")
    held = ValSet(ds, ids, frames=4, size=32)
    assert isinstance(held.batches(), list) and held.batches() is held.batches()  # decoded once
    monkeypatch.setattr(validation, "HELD_BYTES", 0)
    fresh = ValSet(ds, ids, frames=4, size=32)
    assert not isinstance(fresh.batches(), list)  # the loader: decoded at every read
    expected = embed_studies(model, ds, ids, frames=4, size=32).vectors
    for val_set in (held, fresh):
        assert val_set.texts == [
            str(t) for t in ds.studies.set_index("study_id").loc[ids, "impression"]
        ]
        np.testing.assert_array_equal(
            encode_studies(model, val_set.batches(), ids).vectors, expected
        )


def test_more_loader_workers_than_cpus_is_one_line_naming_workers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """gpu-base's 4 workers on a 2-CPU machine printed torch's two multi-line UserWarnings."""
    import warnings

    from model.training import engine

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    engine._say_workers_outnumber_cpus.cache_clear()
    trainer_engine = engine.Engine.__new__(engine.Engine)  # _batches needs only the context
    trainer_engine.ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    with warnings.catch_warnings(record=True) as caught, caplog.at_level("WARNING"):
        warnings.simplefilter("always")
        for _ in range(2):  # two epochs
            loaded = list(trainer_engine._batches(list(range(8)), [[0, 1], [2, 3]], 0, 2))
    assert [index for index, _ in loaded] == [0, 1]
    assert not [w for w in caught if "DataLoader will create" in str(w.message)]
    said = [r.getMessage() for r in caplog.records if "data loader workers" in r.getMessage()]
    assert len(said) == 1 and "--workers 1" in said[0]


def test_a_run_log_puts_the_model_loggers_level_back(tmp_path: Path) -> None:
    """attach_log lowers the ``model`` logger to INFO for train.log; a notebook that trained
    once kept every later ``model`` INFO line (and a later -v found its DEBUG lines hidden)."""
    logger = logging.getLogger("model")
    before = logger.level
    try:
        logger.setLevel(logging.WARNING)
        folder = RunFolder(tmp_path / "run")
        folder.root.mkdir()
        folder.attach_log()
        assert logger.level == logging.INFO
        folder.detach_log()
        assert logger.level == logging.WARNING
    finally:
        logger.setLevel(before)
