"""Model FLOPs utilisation for ``bench_train``: FLOPs of one step counted by torch, against a peak.

MFU = (FLOPs one training step performs x steps per second) / the device's peak FLOP rate. The
FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` over one real step (matmuls,
convolutions and fused attention, forward and backward; element-wise work is not counted, as
usual for MFU). Two denominators are reported:

- the vendor's dense (no sparsity) BF16 tensor-core peak for known data-centre GPUs, the usual
  MFU denominator, or one given with ``--peak-tflops``;
- a plain matmul of the same dtype measured on the same device in the same run: what the
  device's BLAS reaches here (on a CPU the only peak there is).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

# Dense BF16 tensor-core peaks from NVIDIA's datasheets, TFLOP/s. First matching name wins, so
# the more specific names come first ("H100 PCIe" before "H100", "L40S" before "L4").
DENSE_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.4),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
)


def datasheet_peak_tflops(device_name: str) -> float | None:
    """Dense BF16 peak of a known GPU by its ``torch.cuda.get_device_name()``; None if unknown."""
    for fragment, tflops in DENSE_BF16_TFLOPS:
        if fragment.lower() in device_name.lower():
            return tflops
    return None


def _cpu_attention_formulas() -> dict:
    """Flop formulas for the CPU fused-attention kernels, which torch's counter leaves out."""
    aten = torch.ops.aten
    formulas: dict = {}
    forward = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    backward = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward", None)
    if forward is not None:
        formulas[forward] = lambda q, k, v, *args, out_shape=None, **kwargs: sdpa_flop_count(
            q, k, v
        )
    if backward is not None:
        formulas[backward] = lambda grad, q, k, v, *args, out_shape=None, **kwargs: (
            sdpa_backward_flop_count(grad, q, k, v)
        )
    return formulas


def count_flops(step: Callable[[], object]) -> int:
    """FLOPs performed by one call of ``step`` (which runs it once more)."""
    counter = FlopCounterMode(display=False, custom_mapping=_cpu_attention_formulas())
    with counter:
        step()
    return int(counter.get_total_flops())


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (no-op on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measured_matmul_tflops(
    device: torch.device, dtype: torch.dtype, size: int | None = None, seconds: float = 0.5
) -> float:
    """The best rate of ``size`` x ``size`` matmuls in ``dtype`` on ``device``, TFLOP/s.

    ``size`` defaults to 8192 on a GPU (smaller products leave a large GPU partly idle and time
    the launch more than the arithmetic) and 2048 on a CPU.
    """
    size = size or (8192 if device.type == "cuda" else 2048)
    generator = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    for _ in range(3):
        torch.matmul(a, b)  # warm-up: library handles, clocks
    synchronize(device)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.matmul(a, b)
        synchronize(device)
        best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best / 1e12


@dataclass(frozen=True)
class Utilisation:
    """FLOPs per step, the rate reached, and MFU against each available peak."""

    flops_per_step: int
    achieved_tflops: float
    matmul_tflops: float
    peak_tflops: float | None
    peak_source: str

    @property
    def mfu(self) -> float | None:
        """Against the datasheet (or given) peak; None when there is none."""
        return self.achieved_tflops / self.peak_tflops if self.peak_tflops else None

    @property
    def of_matmul(self) -> float:
        """Against the matmul measured in the same run."""
        return self.achieved_tflops / self.matmul_tflops if self.matmul_tflops > 0 else 0.0

    def line(self) -> str:
        against = (
            f"MFU {self.mfu:.1%} of {self.peak_tflops:g} TFLOP/s ({self.peak_source})"
            if self.mfu is not None
            else f"MFU: {self.peak_source}"
        )
        return (
            f"{self.flops_per_step / 1e9:.3g} GFLOP/step, {self.achieved_tflops:.3g} TFLOP/s; "
            f"{against}; {self.of_matmul:.1%} of a {self.matmul_tflops:.3g} TFLOP/s matmul here"
        )


def utilisation(
    flops_per_step: int,
    steps_per_s: float,
    device: torch.device,
    dtype: torch.dtype,
    peak_tflops: float | None = None,
) -> Utilisation:
    """MFU of a step of ``flops_per_step`` FLOPs run ``steps_per_s`` times a second."""
    source = "given"
    if peak_tflops is None and device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        if dtype == torch.bfloat16:
            peak_tflops = datasheet_peak_tflops(name)
            source = f"{name} dense BF16 datasheet" if peak_tflops else f"unknown GPU {name}"
        else:
            source = f"no datasheet peak for {dtype} steps"
    elif peak_tflops is None:
        source = "no datasheet peak for a CPU; pass --peak-tflops"
    return Utilisation(
        flops_per_step=flops_per_step,
        achieved_tflops=flops_per_step * steps_per_s / 1e12,
        matmul_tflops=measured_matmul_tflops(device, dtype),
        peak_tflops=peak_tflops,
        peak_source=source,
    )
