"""Gradient accumulation: K micro-batches give the gradients of the whole batch in one pass."""

from __future__ import annotations

import pytest
import torch

from model.errors import UserError
from model.nn.clip_model import CMRClip
from model.nn.config import CMRClipConfig, TextTowerConfig, VideoTowerConfig
from model.nn.loss import ClipLoss
from model.training.accumulation import join_features, micro_batch_count, split_batch
from model.training.distributed import DistContext
from model.training.engine import Engine

TEXTS = [
    "Severely dilated LV with reduced LVEF. No LGE.",
    "Normal study.",
    "Subendocardial LGE of the inferior wall. Normal RV size.",
    "Normal study.",
    "Small pericardial effusion. Mildly dilated RV.",
]
CPU = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def tiny_clip(dropout: float) -> CMRClip:
    """A tiny multiview model; ``dropout`` > 0 also turns token word dropout on."""
    torch.manual_seed(0)
    video = VideoTowerConfig(
        image_size=16, patch_size=8, frames=2, width=16, heads=2, spatial_depth=1,
        temporal_depth=1, fusion_depth=1, mlp_ratio=2.0, dropout=dropout,
    )  # fmt: skip
    text = TextTowerConfig(
        unlocked_layers=1, pooling="sentences", dropout=dropout, word_drop=dropout
    )
    return CMRClip(CMRClipConfig(embed_dim=16, video=video, text=text))


def a_batch() -> dict:
    """Five studies, some views missing (the multiview tower packs the present ones)."""
    generator = torch.Generator().manual_seed(1)
    view_mask = torch.rand(len(TEXTS), 9, generator=generator) > 0.4
    view_mask[:, 0] = True
    return {
        "video": torch.rand(len(TEXTS), 9, 2, 16, 16, generator=generator),
        "view_mask": view_mask,
        "frame_mask": torch.ones(len(TEXTS), 9, 2, dtype=torch.bool),
        "text": list(TEXTS),
        "study_id": [f"s{i:015x}" for i in range(len(TEXTS))],
    }


def engine_for(clip: CMRClip, accum_freq: int) -> Engine:
    optimizer = torch.optim.SGD(clip.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return Engine(
        clip, ClipLoss(), optimizer, scheduler, CPU, 1.0, "fp32", 0.5, accum_freq=accum_freq
    )


def gradients(clip: CMRClip) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in clip.named_parameters() if p.requires_grad}


def assert_gradients_close(got: dict, expected: dict) -> None:
    """Equal up to float32 sums taken in another order: an element near zero of a large
    gradient (the study token's reaches 15) may differ by ~1e-6 of the gradient's scale."""
    for name, grad in expected.items():
        scale = max(1.0, grad.abs().max().item())
        torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-5 * scale, msg=name)


def test_split_batch_cuts_every_key_into_contiguous_near_equal_parts() -> None:
    batch = a_batch()
    parts = split_batch(batch, 3)
    assert [len(part["text"]) for part in parts] == [2, 1, 2]
    for key, value in batch.items():
        joined = [item for part in parts for item in part[key]]
        assert len(joined) == len(value)
        if isinstance(value, torch.Tensor):
            assert torch.equal(torch.stack(joined), value)
        else:
            assert joined == value


def test_more_micro_batches_than_studies_is_refused_in_words() -> None:
    assert micro_batch_count(4, 4) == 4
    with pytest.raises(UserError, match="--accum-freq 5 .* the 4 studies .* at most 4"):
        micro_batch_count(5, 4)


@pytest.mark.parametrize("accum_freq", [2, 5])
def test_accumulated_gradients_equal_one_pass_over_the_whole_batch(accum_freq: int) -> None:
    clip = tiny_clip(dropout=0.0).train()  # no random draws: one pass is the reference
    one_pass = engine_for(clip, 1)
    loss = one_pass._backward(a_batch(), step=1)
    expected = gradients(clip)
    accumulated = engine_for(clip, accum_freq)
    assert accumulated._backward(a_batch(), step=1) == pytest.approx(loss, rel=1e-6)
    got = gradients(clip)
    assert expected.keys() == got.keys() and "logit_scale" in got
    assert_gradients_close(got, expected)


def test_each_micro_batch_replays_its_random_draws() -> None:
    """With dropout and word dropout on, the accumulated gradients are those of keeping the
    graphs of the micro-batches' forwards (drawn in turn) and backpropagating the joined loss."""
    clip = tiny_clip(dropout=0.3).train()
    engine = engine_for(clip, 2)
    parts = split_batch(a_batch(), 2)
    torch.manual_seed(7)
    features = [engine.features_of(part) for part in parts]
    reference = engine.loss_of(join_features(features, features[-1].scale), TEXTS)
    clip.zero_grad(set_to_none=True)
    reference.backward()
    expected = gradients(clip)
    after_reference = torch.get_rng_state()
    torch.manual_seed(7)
    assert engine._backward(a_batch(), step=1) == pytest.approx(reference.item(), rel=1e-6)
    assert_gradients_close(gradients(clip), expected)
    assert torch.equal(torch.get_rng_state(), after_reference)  # the run's draws go on as before


def test_an_accumulated_step_that_diverges_stops_before_any_gradient() -> None:
    clip = tiny_clip(dropout=0.0).train()
    engine = engine_for(clip, 2)
    engine.loss_fn = lambda *features: torch.tensor(float("nan"))
    with pytest.raises(Exception, match="loss became nan at step 3"):
        engine._backward(a_batch(), step=3)
    assert all(p.grad is None for p in clip.parameters())
