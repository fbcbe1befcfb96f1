"""SentenceLoss: a plain reference on seeded data, targets, and a real two-process gloo group."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from model.nn.sentence_loss import SentenceLoss, sentence_targets

WORLD = 2
LOCAL_BATCH = 3
# Sentence texts per study (as ids): shared sentences inside and across ranks, ragged counts.
REPORTS = [[10, 11, 12], [10, 13], [14], [11, 15, 16, 17], [10], [18, 13]]


def flat_sentences(reports: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    owner = torch.tensor([b for b, report in enumerate(reports) for _ in report])
    ids = torch.tensor([s for report in reports for s in report])
    return owner, ids


def features(seed: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    sentences = sum(len(r) for r in REPORTS)
    video = F.normalize(torch.randn(len(REPORTS), 8, generator=generator), dim=1)
    text = F.normalize(torch.randn(sentences, 8, generator=generator), dim=1)
    return video.double(), text.double()


def reference_loss(video, sentences, scale, reports) -> float:
    """Loops over rows: study -> its sentences' columns, sentence column -> studies holding it."""
    ids = [s for report in reports for s in report]
    logits = [[scale * float(video[b] @ sentences[s]) for s in range(len(ids))] for b in range(len(reports))]  # fmt: skip
    to_sentences = []
    for b, report in enumerate(reports):
        positives = [s for s, text in enumerate(ids) if text in report]
        norm = math.log(sum(math.exp(x) for x in logits[b]))
        to_sentences.append(-sum(logits[b][s] - norm for s in positives) / len(positives))
    to_studies = []
    for s, text in enumerate(ids):
        column = [logits[b][s] for b in range(len(reports))]
        positives = [b for b, report in enumerate(reports) if text in report]
        norm = math.log(sum(math.exp(x) for x in column))
        to_studies.append(-sum(column[b] - norm for b in positives) / len(positives))
    return 0.5 * (sum(to_sentences) / len(to_sentences) + sum(to_studies) / len(to_studies))


def test_matches_the_reference_on_seeded_data() -> None:
    video, sentences = features()
    owner, ids = flat_sentences(REPORTS)
    loss = SentenceLoss()(video, sentences, torch.tensor(9.0, dtype=torch.float64), owner, ids)
    assert loss.item() == pytest.approx(reference_loss(video, sentences, 9.0, REPORTS), rel=1e-9)


def test_targets_mark_shared_sentences_for_every_study_holding_them() -> None:
    owner, ids = flat_sentences(REPORTS)
    positive = sentence_targets(owner, ids, len(REPORTS))
    assert positive.shape == (6, 13) and bool(positive.any(dim=1).all())
    first_column_of_10 = 0
    assert positive[:, first_column_of_10].tolist() == [True, True, False, False, True, False]


def test_aligned_pairs_score_lower_than_shuffled_ones() -> None:
    owner, ids = flat_sentences(REPORTS)
    video, _ = features()
    aligned = video[owner] + 0.05 * torch.randn(len(owner), 8, dtype=torch.float64)
    shuffled = aligned[torch.randperm(len(owner), generator=torch.Generator().manual_seed(1))]
    scale = torch.tensor(20.0, dtype=torch.float64)
    good = SentenceLoss()(video, F.normalize(aligned, dim=1), scale, owner, ids)
    bad = SentenceLoss()(video, F.normalize(shuffled, dim=1), scale, owner, ids)
    assert good < bad


def test_mismatched_lengths_are_refused() -> None:
    video, sentences = features()
    owner, ids = flat_sentences(REPORTS)
    with pytest.raises(ValueError, match="same length"):
        SentenceLoss()(video, sentences[:-1], torch.tensor(1.0), owner, ids)


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    """One rank: its studies and their (ragged) sentences; saves the loss and gradients."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        video, sentences = features()
        owner, ids = flat_sentences(REPORTS)
        rows = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
        mine = (owner >= rows.start) & (owner < rows.stop)
        local_video = video[rows].clone().requires_grad_(True)
        local_sentences = sentences[mine].clone().requires_grad_(True)
        loss = SentenceLoss(gather_with_grad=True)(
            local_video, local_sentences, torch.tensor(7.0, dtype=torch.float64),
            owner[mine] - rows.start, ids[mine],
        )  # fmt: skip
        loss.backward()
        torch.save(
            {"loss": loss.detach(), "video": local_video.grad, "text": local_sentences.grad},
            Path(out_dir) / f"rank{rank}.pt",
        )
        dist.barrier()  # both ranks done before either tears gloo down (a teardown race aborted one)
    finally:
        dist.destroy_process_group()
    # Leave without interpreter teardown: gloo's helper threads can still abort it ("terminate
    # called without an active exception", SIGABRT) after the results are safely on disk.
    os._exit(0)


def test_two_ranks_match_the_full_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    video, sentences = features()
    video.requires_grad_(True)
    sentences.requires_grad_(True)
    owner, ids = flat_sentences(REPORTS)
    full = SentenceLoss()(video, sentences, torch.tensor(7.0, dtype=torch.float64), owner, ids)
    full.backward()
    for result in results:  # every rank computes the global loss
        assert float(result["loss"]) == pytest.approx(full.item(), rel=1e-9)
    # Each rank's (identical) loss back-propagates into every rank's features: WORLD x the grad.
    got_video = torch.cat([r["video"] for r in results])
    got_text = torch.cat([r["text"] for r in results])
    torch.testing.assert_close(got_video, video.grad * WORLD, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(got_text, sentences.grad * WORLD, rtol=1e-6, atol=1e-9)


def test_a_loss_one_rank_computes_alone_does_not_gather(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation scores the val set on rank 0 alone: ``distributed=False`` must not wait for a
    collective the other ranks never join (as ``ClipLoss(distributed=False)``)."""
    import model.nn.sentence_loss as sentence_loss

    monkeypatch.setattr(sentence_loss, "rank_and_world_size", lambda: (0, WORLD))
    video, sentences = features()
    owner, ids = flat_sentences(REPORTS)
    scale = torch.tensor(9.0, dtype=torch.float64)
    loss = SentenceLoss(distributed=False)(video, sentences, scale, owner, ids)
    assert loss.item() == pytest.approx(reference_loss(video, sentences, 9.0, REPORTS), rel=1e-9)
