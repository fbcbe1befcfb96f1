"""ClipLoss under a real two-process gloo group: gathered loss and gradients match one process."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from model.nn.loss import ClipLoss

WORLD = 2
LOCAL_BATCH = 4
IDS = torch.tensor([0, 1, 1, 2, 3, 0, 4, 5])  # duplicates inside and across ranks


def global_features() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(11)
    video = F.normalize(torch.randn(WORLD * LOCAL_BATCH, 6, generator=generator), dim=1)
    text = F.normalize(torch.randn(WORLD * LOCAL_BATCH, 6, generator=generator), dim=1)
    return video.double(), text.double()


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    """One rank: both loss forms on this rank's slice; saves losses and feature gradients."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    # a deprecated collective would print its warning from every rank at every step
    warnings.simplefilter("error", FutureWarning)
    try:
        video, text = global_features()
        rows = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
        for local_loss in (True, False):
            local_video = video[rows].clone().requires_grad_(True)
            local_text = text[rows].clone().requires_grad_(True)
            loss_fn = ClipLoss(local_loss=local_loss, gather_with_grad=True)
            scale = torch.tensor(12.0, dtype=torch.float64)
            loss = loss_fn(local_video, local_text, scale, IDS[rows])
            loss.backward()
            torch.save(
                {"loss": loss.detach(), "video": local_video.grad, "text": local_text.grad},
                Path(out_dir) / f"local{int(local_loss)}-rank{rank}.pt",
            )
        if rank == 0:  # one rank alone (as rank 0 validates): no collective may run
            alone = ClipLoss(distributed=False)(video[rows], text[rows], scale, IDS[rows])
            torch.save({"loss": alone}, Path(out_dir) / "alone-rank0.pt")
        dist.barrier()  # both ranks done before either tears gloo down (a teardown race aborted one)
    finally:
        dist.destroy_process_group()
    # Leave without interpreter teardown: gloo's helper threads can still abort it ("terminate
    # called without an active exception", SIGABRT) after the results are safely on disk.
    os._exit(0)


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(str(out / "init"), str(out)), nprocs=WORLD, join=True)
    return out


@pytest.mark.parametrize("local_loss", [True, False])
def test_two_ranks_match_the_full_batch(rank_results: Path, local_loss: bool) -> None:
    results = [
        torch.load(rank_results / f"local{int(local_loss)}-rank{r}.pt", weights_only=True)
        for r in range(WORLD)
    ]

    video, text = global_features()
    video.requires_grad_(True)
    text.requires_grad_(True)
    full = ClipLoss()(video, text, torch.tensor(12.0, dtype=torch.float64), IDS)
    full.backward()

    mean_loss = sum(float(r["loss"]) for r in results) / WORLD
    assert mean_loss == pytest.approx(full.item(), rel=1e-6)
    # Every rank's loss back-propagates into every rank's features through all_gather, so a
    # rank's gradient sums over the ranks' losses: WORLD times the full-batch loss's gradient
    # (local form: the ranks' losses add up to WORLD * full; global form: each is the full loss).
    got_video = torch.cat([r["video"] for r in results])
    got_text = torch.cat([r["text"] for r in results])
    torch.testing.assert_close(got_video, video.grad * WORLD, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got_text, text.grad * WORLD, rtol=1e-5, atol=1e-6)


def test_a_loss_one_rank_computes_alone_uses_only_its_own_features(rank_results: Path) -> None:
    alone = torch.load(rank_results / "alone-rank0.pt", weights_only=True)["loss"]
    video, text = global_features()
    rows = slice(0, LOCAL_BATCH)
    expected = ClipLoss()(
        video[rows], text[rows], torch.tensor(12.0, dtype=torch.float64), IDS[rows]
    )
    assert float(alone) == pytest.approx(float(expected), rel=1e-9)
