"""The batch-matched validation loss: a plain reference on seeded features, chunking, the val
record that carries it, and the random states it must leave alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.data.dataset import CMRDataset
from model.embed import embed_texts
from model.nn.loss import ClipLoss
from model.training import checkpoint as ckpt
from model.training import val_loss
from model.training.checkpoint import load_checkpoint
from model.training.val_loss import (
    TrainingLoss,
    ValFeatures,
    batch_matched_loss,
    chunk_bounds,
    val_features,
    warn_batch_loss,
)
from model.training.validation import ValSet, validate
from tests.test_sentence_loss import reference_loss as sentence_reference
from tests.tiny_dataset import shared_tiny_checkpoint

# ten val impressions as ids: repeats inside a chunk are positives of each other
TEXT_IDS = [3, 1, 3, 4, 1, 5, 9, 2, 6, 5]
REPORTS = [[10, 11], [12], [10], [13, 14, 15], [12], [16, 10], [17], [11, 18], [19], [16]]


def seeded(n: int = len(TEXT_IDS), dim: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    video = F.normalize(torch.randn(n, dim, generator=generator, dtype=torch.float64), dim=1)
    text = F.normalize(torch.randn(n, dim, generator=generator, dtype=torch.float64), dim=1)
    return video, text


def clip_reference(video, text, scale: float, ids: list[int]) -> float:
    """Loops over rows: study -> reports (positives: same impression), report -> studies."""
    n = len(ids)
    logits = [[scale * float(video[i] @ text[j]) for j in range(n)] for i in range(n)]
    total = 0.0
    for direction in (logits, [list(column) for column in zip(*logits, strict=True)]):
        for i, row in enumerate(direction):
            positives = [j for j in range(n) if ids[j] == ids[i]]
            norm = math.log(sum(math.exp(x) for x in row))
            total += -sum(row[j] - norm for j in positives) / len(positives) / n
    return total / 2


def test_chunks_are_consecutive_and_the_partial_last_one_is_dropped() -> None:
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8)]
    assert chunk_bounds(8, 4) == [(0, 4), (4, 8)]
    assert chunk_bounds(3, 4) == []


def test_the_mean_over_full_chunks_matches_a_plain_reference() -> None:
    video, text = seeded()
    features = ValFeatures(video, text, torch.tensor(TEXT_IDS))
    got = batch_matched_loss(features, torch.tensor(8.0), TrainingLoss(batch=4))
    expected = np.mean(
        [clip_reference(video[a:b], text[a:b], 8.0, TEXT_IDS[a:b]) for a, b in ((0, 4), (4, 8))]
    )
    assert got is not None and got[1] == 2
    assert got[0] == pytest.approx(expected, rel=1e-6)
    whole = ClipLoss(distributed=False)(video, text, torch.tensor(8.0), torch.tensor(TEXT_IDS))
    assert got[0] != pytest.approx(float(whole), rel=1e-3)  # not the whole-set softmax
    assert batch_matched_loss(features, torch.tensor(8.0), TrainingLoss(batch=11)) is None


def test_the_sentence_weight_mixes_the_losses_as_a_training_step() -> None:
    video, text = seeded()
    owner = torch.tensor([b for b, report in enumerate(REPORTS) for _ in report])
    sentence_ids = torch.tensor([s for report in REPORTS for s in report])
    generator = torch.Generator().manual_seed(3)
    sentences = F.normalize(torch.randn(len(owner), 6, generator=generator, dtype=torch.float64))
    features = ValFeatures(video, text, torch.tensor(TEXT_IDS), sentences, owner, sentence_ids)
    got = batch_matched_loss(features, torch.tensor(5.0), TrainingLoss(5, sentence_weight=0.25))
    chunks = []
    for a, b in ((0, 5), (5, 10)):
        rows = (owner >= a) & (owner < b)
        clip = clip_reference(video[a:b], text[a:b], 5.0, TEXT_IDS[a:b])
        sentence = sentence_reference(video[a:b], sentences[rows], 5.0, REPORTS[a:b])
        chunks.append(0.75 * clip + 0.25 * sentence)
    assert got is not None and got[0] == pytest.approx(np.mean(chunks), rel=1e-6)


def test_a_val_set_smaller_than_a_batch_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    warn_batch_loss(10, 4)
    warn_batch_loss(0, 4)  # no val studies: warned about elsewhere
    assert not caplog.records
    warn_batch_loss(3, 4)
    assert "has 3 studies, fewer than one training batch of 4" in caplog.text
    warn_batch_loss(1, 10)  # train.log on a small export read "has 1 studies"
    assert "has 1 study, fewer than one training batch of 10" in caplog.text


def _random_states() -> list:
    state = ckpt.capture_rng()
    return [state["torch"], *state["numpy"], state["python"]]


def test_validation_logs_the_batch_matched_loss_and_leaves_every_random_state_alone() -> None:
    data, checkpoint = shared_tiny_checkpoint()
    model, _ = load_checkpoint(checkpoint)
    ds = CMRDataset.open(data)
    ids, _ = ds.reported_ids("val")
    val = ValSet(ds, ids, frames=4, size=32)
    model.train()  # as training hands it over: word dropout would draw if eval were not set
    model.text.cfg.word_drop = 0.3
    torch.manual_seed(11)
    np.random.seed(11)
    before = _random_states()
    loss = TrainingLoss(batch=len(ids) - 1, sentence_weight=0.5)
    metrics = validate(model, ClipLoss(distributed=False), val, training_loss=loss)
    after = _random_states()
    for old, new in zip(before, after, strict=True):
        if isinstance(old, torch.Tensor):
            assert torch.equal(old, new)
        else:
            assert old == new
    assert metrics["val_loss_batches"] == 1 and metrics["val_loss_batch_size"] == len(ids) - 1
    assert 0 < metrics["val_loss_batch"] < math.log(len(ids) - 1) * 2
    without = validate(model, ClipLoss(distributed=False), val)
    assert "val_loss_batch" not in without
    assert {key: metrics[key] for key in without} == without  # retrieval and val_loss unchanged


def test_text_embeddings_from_the_sentences_are_embed_texts_own(monkeypatch) -> None:
    """With a sentence weight the val texts are embedded once, from the sentence features the
    sentence loss needs: the retrieval figures and val_loss read the very vectors they read
    before (embed_texts'), in its chunks of texts too."""
    data, checkpoint = shared_tiny_checkpoint()
    model, _ = load_checkpoint(checkpoint)
    texts = [str(t) for t in CMRDataset.open(data).studies["impression"]]
    video = np.zeros((len(texts), 4), np.float32)
    features = val_features(model, video, texts, with_sentences=True)
    np.testing.assert_array_equal(features.text.numpy(), embed_texts(model, texts))
    assert features.owner.tolist() == sorted(features.owner.tolist())
    monkeypatch.setattr(val_loss, "TEXT_CHUNK", 3)
    chunked = val_features(model, video, texts, with_sentences=True)
    np.testing.assert_array_equal(chunked.text.numpy(), embed_texts(model, texts, batch_size=3))
    flat, owner = model.text.read_sentences(texts)
    assert chunked.owner.tolist() == owner and len(chunked.sentence_ids) == len(flat)
