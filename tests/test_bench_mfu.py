"""The MFU arithmetic of bench/mfu.py against hand-counted FLOPs, and bench_train's --mfu path.

No timing is asserted; the figures live in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_train  # noqa: E402
from bench.mfu import count_flops, datasheet_peak_tflops, utilisation  # noqa: E402


def test_linear_step_counts_forward_and_both_backward_matmuls() -> None:
    batch, n_in, n_out = 8, 32, 16
    layer = torch.nn.Linear(n_in, n_out)
    inputs = torch.randn(batch, n_in, requires_grad=True)
    frozen_inputs = inputs.detach()
    matmul = 2 * batch * n_in * n_out

    assert count_flops(lambda: layer(inputs).sum().backward()) == 3 * matmul
    # no gradient for inputs that do not need one: forward + weight gradient only
    assert count_flops(lambda: layer(frozen_inputs).sum().backward()) == 2 * matmul


def test_cpu_fused_attention_is_counted() -> None:
    """torch's counter has no formula for the CPU flash kernel; ours adds QK^T and AV."""
    b, h, length, d = 2, 4, 10, 8
    q, k, v = (torch.randn(b, h, length, d) for _ in range(3))
    flops = count_flops(lambda: F.scaled_dot_product_attention(q, k, v))
    assert flops == 2 * (2 * b * h * length * length * d)


@pytest.mark.parametrize(
    ("name", "tflops"),
    [
        ("NVIDIA H200", 989.4),
        ("NVIDIA H100 80GB HBM3", 989.4),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA L40S", 362.0),
        ("NVIDIA L4", 121.0),
        ("Tesla T4", None),
    ],
)
def test_datasheet_peaks_match_the_most_specific_name(name: str, tflops: float | None) -> None:
    assert datasheet_peak_tflops(name) == tflops


def test_utilisation_divides_the_counted_rate_by_each_peak() -> None:
    used = utilisation(4 * 10**12, 0.5, torch.device("cpu"), torch.float32, peak_tflops=8.0)
    assert used.achieved_tflops == pytest.approx(2.0)
    assert used.mfu == pytest.approx(0.25) and used.peak_source == "given"
    assert used.matmul_tflops > 0 and used.of_matmul == pytest.approx(2.0 / used.matmul_tflops)
    assert "MFU 25.0%" in used.line()
    assert utilisation(10**9, 1.0, torch.device("cpu"), torch.float32).mfu is None


def test_bench_train_reports_flops_for_each_tower() -> None:
    flops = {}
    for kind in ("multiview", "static"):
        result = bench_train.measure("cpu-small", kind, 1, 2, torch.device("cpu"), mfu=True)
        flops[kind] = result["utilisation"].flops_per_step
        assert result["train"] > 0 and flops[kind] > 0
    assert flops["multiview"] > flops["static"]  # static sees one frame per view


def test_flops_counted_study_by_study_add_up_to_the_whole_batch() -> None:
    # a plain step of a whole batch may not fit where a checkpointed one trains (paper at batch 4
    # on an H200), so bench_train counts the video tower one study at a time; word dropout off,
    # as it draws each step's token count at random
    preset = bench_train.preset_with_kind("cpu-small", "multiview")
    preset.model.text.word_drop = 0.0
    inputs = bench_train.batch_inputs(6, preset.train.frames, preset.train.image_size, "cpu")

    def fresh() -> bench_train.CMRClip:  # a cold frozen-text cache, as each count starts from
        torch.manual_seed(0)
        return bench_train.CMRClip(preset.model).train()

    model = fresh()
    optimizer = bench_train.build_optimizer(model, preset.train)
    whole = count_flops(bench_train.training_step(model, optimizer, inputs, None))
    counted = bench_train.model_flops(fresh(), inputs, None)
    assert counted == pytest.approx(whole, rel=1e-4)
    assert counted < whole  # the B x B logits and the loss are left out
