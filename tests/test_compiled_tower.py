"""``train.compile`` for real: ``CMRClip.compile_video_tower`` through torch.compile (inductor on
the CPU) gives the eager tower's outputs and gradients.

The multiview tower packs only the views present, so its block stacks compile with dynamic
shapes; each batch below misses different views, which changes those shapes. The flat tower
compiles whole. Needs a C++ compiler, as inductor does on a CPU.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import replace

import pytest
import torch

from model.nn.clip_model import CMRClip
from model.nn.presets import load_preset
from tests.test_nn_towers import TINY

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None,
    reason="torch.compile's CPU backend needs a C++ compiler",
)


def batches(views_missing: list[list[int]]) -> list[tuple[torch.Tensor, ...]]:
    """One batch per entry: ``video [3, 9, 4, 32, 32]`` with those views absent in study 0 and
    a short cine in study 2."""
    generator = torch.Generator().manual_seed(0)
    out = []
    for missing in views_missing:
        video = torch.rand(3, TINY.views, TINY.frames, 32, 32, generator=generator)
        view_mask = torch.ones(3, TINY.views, dtype=torch.bool)
        view_mask[0, missing] = False
        frame_mask = torch.ones(3, TINY.views, TINY.frames, dtype=torch.bool)
        frame_mask[2, 0, 2:] = False
        out.append((video, view_mask, frame_mask))
    return out


@pytest.mark.parametrize("kind", ["multiview", "flat"])
def test_compiled_tower_matches_eager_as_the_views_present_change(kind: str) -> None:
    torch.manual_seed(0)
    cfg = load_preset("cpu-small").model
    cfg = replace(cfg, video=replace(TINY, kind=kind, stem="linear" if kind == "flat" else "conv"))
    eager = CMRClip(cfg).train()
    compiled = copy.deepcopy(eager)
    compiled.compile_video_tower()
    # nn.Module.compile sets the module's compiled call: the whole tower, or each block stack
    assert any(getattr(m, "_compiled_call_impl", None) for m in compiled.visual.modules())
    assert not any(getattr(m, "_compiled_call_impl", None) for m in eager.visual.modules())
    for video, view_mask, frame_mask in batches([[2], [2, 5, 6, 7], []]):
        outputs = []
        for model in (eager, compiled):
            model.zero_grad(set_to_none=True)
            features = model.encode_video(video, view_mask, frame_mask, normalize=True)
            (features * torch.linspace(-1.0, 1.0, features.shape[1])).sum().backward()
            grads = [p.grad.clone() for p in model.visual.parameters() if p.grad is not None]
            outputs.append((features.detach(), grads))
        (eager_out, eager_grads), (compiled_out, compiled_grads) = outputs
        torch.testing.assert_close(compiled_out, eager_out, rtol=1e-4, atol=1e-5)
        assert compiled_grads
        for compiled_grad, eager_grad in zip(compiled_grads, eager_grads, strict=True):
            torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-3, atol=1e-4)
