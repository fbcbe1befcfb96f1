"""ClipLoss against a plain NumPy reference: identity targets, duplicate impressions, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.nn.loss import ClipLoss, positive_targets, text_ids_from_texts


def reference_loss(video: np.ndarray, text: np.ndarray, scale: float, ids: list) -> float:
    """Straightforward loops: each row's positives share its text id; targets uniform on them."""
    logits = scale * video @ text.T
    n = len(ids)

    def direction(matrix: np.ndarray) -> float:
        total = 0.0
        for i in range(n):
            row = matrix[i] - matrix[i].max()
            log_probs = row - math.log(np.exp(row).sum())
            positives = [j for j in range(n) if ids[j] == ids[i]]
            total += -sum(log_probs[j] for j in positives) / len(positives)
        return total / n

    return 0.5 * (direction(logits) + direction(logits.T))


def unit_features(batch: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    video = F.normalize(torch.randn(batch, dim, generator=generator, dtype=torch.float64), dim=1)
    text = F.normalize(torch.randn(batch, dim, generator=generator, dtype=torch.float64), dim=1)
    return video, text


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distinct_texts_match_the_reference_and_plain_clip(seed: int) -> None:
    video, text = unit_features(8, 16, seed)
    scale = torch.tensor(14.3, dtype=torch.float64)
    loss = ClipLoss()(video, text, scale)
    expected = reference_loss(video.numpy(), text.numpy(), 14.3, list(range(8)))
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    logits = scale * video @ text.T
    labels = torch.arange(8)
    plain = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
    assert float(loss) == pytest.approx(float(plain), rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_duplicate_impressions_are_positives(seed: int) -> None:
    video, text = unit_features(10, 16, seed)
    texts = ["normal"] * 3 + ["lv dilated"] * 2 + [f"report {i}" for i in range(5)]
    ids = text_ids_from_texts(texts)
    loss = ClipLoss()(video, text, torch.tensor(20.0, dtype=torch.float64), ids)
    expected = reference_loss(video.numpy(), text.numpy(), 20.0, texts)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    without_ids = ClipLoss()(video, text, torch.tensor(20.0, dtype=torch.float64))
    assert abs(float(loss) - float(without_ids)) > 1e-3


def test_identical_texts_do_not_push_each_other_apart() -> None:
    # Studies 0 and 1 share an impression (same text feature); their videos differ along e1 and
    # are equally close to it. Identity targets pull the shared text towards one video and push it
    # from the other (a gradient along e1); multi-positive targets pull towards both equally.
    basis = torch.eye(4, dtype=torch.float64)
    text = basis[[0, 0, 2, 3]]
    video = F.normalize(basis[[0, 0, 2, 3]] + 0.1 * basis[1] * torch.tensor([[1], [-1], [0], [0]]))
    scale = torch.tensor(10.0, dtype=torch.float64)
    grads = []
    for ids in (torch.tensor([5, 5, 1, 2]), None):
        leaf = text.clone().requires_grad_(True)
        ClipLoss()(video, leaf, scale, ids).backward()
        grads.append(abs(leaf.grad[0, 1].item()))
    assert grads[0] < 1e-9 < 1e-3 < grads[1]


def test_perfect_alignment_gives_low_loss_and_random_does_not() -> None:
    video, text = unit_features(16, 32, 3)
    aligned = ClipLoss()(video, video, torch.tensor(100.0, dtype=torch.float64))
    random = ClipLoss()(video, text, torch.tensor(100.0, dtype=torch.float64))
    assert float(aligned) < 0.05 < float(random)


def test_gradients_reach_both_features_and_the_scale() -> None:
    video, text = unit_features(6, 8, 4)
    video.requires_grad_(True)
    text.requires_grad_(True)
    log_scale = torch.tensor(math.log(10.0), dtype=torch.float64, requires_grad=True)
    ClipLoss()(video, text, log_scale.exp()).backward()
    assert video.grad.abs().sum() > 0 and text.grad.abs().sum() > 0
    assert log_scale.grad.abs() > 0


def test_local_loss_equals_global_loss_in_one_process() -> None:
    video, text = unit_features(8, 8, 5)
    ids = torch.tensor([0, 0, 1, 2, 3, 3, 3, 4])
    scale = torch.tensor(30.0, dtype=torch.float64)
    local = ClipLoss(local_loss=True, gather_with_grad=True)(video, text, scale, ids)
    assert float(local) == pytest.approx(float(ClipLoss()(video, text, scale, ids)), rel=1e-6)


def test_positive_targets_rows_sum_to_one() -> None:
    targets = positive_targets(torch.tensor([1, 1, 2]), torch.tensor([1, 2, 1, 3]))
    expected = torch.tensor([[0.5, 0, 0.5, 0], [0.5, 0, 0.5, 0], [0, 1.0, 0, 0]])
    torch.testing.assert_close(targets, expected)


def test_text_ids_are_stable_and_equal_for_equal_texts() -> None:
    ids = text_ids_from_texts(["a", "b", "a"])
    assert ids.dtype == torch.long and ids[0] == ids[2] != ids[1]
    assert torch.equal(ids, text_ids_from_texts(["a", "b", "a"]))
    assert (ids >= 0).all()


def test_mismatched_shapes_are_rejected() -> None:
    video, text = unit_features(4, 8, 0)
    with pytest.raises(ValueError, match="features must both be"):
        ClipLoss()(video, text[:3], torch.tensor(1.0))
    with pytest.raises(ValueError, match="text_ids must be"):
        ClipLoss()(video, text, torch.tensor(1.0), torch.tensor([1, 2]))
