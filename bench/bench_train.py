"""Training and embedding throughput (studies/s) per preset and video tower kind.

    python -m bench.bench_train [--presets cpu-small] [--kinds multiview,flat,static]
                                 [--steps 5] [--batch-size N] [--device auto]
                                 [--mfu] [--peak-tflops T] [--compile]
                                 [--grad-checkpointing] [--default-allocator]

Random videos of the preset's input size and a pool of report-like texts, so no dataset is
needed. Training = forward + backward + AdamW step; embedding = video forward without grad.
The first two steps (warm-up, text cache fill, compilation with ``--compile``) are not timed.
Prints one line per configuration (with its peak GPU memory on CUDA; a configuration that runs
out of it is reported as such and the others still run); with ``--mfu`` a second one: FLOPs per
training step counted by torch (``model_flops``: the video tower on one study, times the batch,
so a checkpointed batch too large for a plain step is still counted), and the model FLOPs
utilisation against the GPU's datasheet peak (or ``--peak-tflops``) and against a matmul
measured on the same device in the same run (``bench/mfu.py``). The glibc allocator is tuned as
the ``python -m model`` commands tune it (``model/allocator.py``) unless ``--default-allocator``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import time
from collections.abc import Callable

import torch

from bench.mfu import Utilisation, count_flops, synchronize, utilisation
from model.allocator import tune_allocator
from model.nn.clip_model import CMRClip
from model.nn.config import Preset
from model.nn.loss import ClipLoss, text_ids_from_texts
from model.nn.presets import load_preset
from model.schema import VIEW_SLOTS
from model.training.distributed import resolve_device
from model.training.schedule import build_optimizer

TEXTS = [
    "Normal left ventricular size and systolic function. No late gadolinium enhancement.",
    "Dilated left ventricle with severely impaired systolic function, LVEF 28%.",
    "Asymmetric septal hypertrophy, maximal wall thickness 19 mm. Patchy mid-wall LGE.",
    "Small pericardial effusion. Otherwise normal study.",
    "Dilated right ventricle with impaired RV systolic function.",
    "Diffuse subendocardial enhancement, likely cardiac amyloidosis.",
]


def batch_inputs(batch: int, frames: int, size: int, device: torch.device) -> tuple:
    """Random video [B, V, T, S, S] in [0, 1], all views/frames present, and B texts."""
    video = torch.rand(batch, len(VIEW_SLOTS), frames, size, size, device=device)
    view_mask = torch.ones(batch, len(VIEW_SLOTS), dtype=torch.bool, device=device)
    frame_mask = torch.ones(batch, len(VIEW_SLOTS), frames, dtype=torch.bool, device=device)
    texts = [TEXTS[i % len(TEXTS)] for i in range(batch)]
    return video, view_mask, frame_mask, texts


def preset_with_kind(preset_name: str, kind: str) -> Preset:
    """The preset with its video tower swapped for ``kind`` (``flat`` with its linear stem)."""
    preset = load_preset(preset_name)
    preset.model.video.kind = kind
    if kind == "flat":
        preset.model.video.stem = "linear"
    return preset


def time_steps(step: Callable[[], None], steps: int, device: torch.device) -> float:
    """Seconds for ``steps`` calls of ``step`` after two untimed warm-up calls.

    Warm-up fills the text cache and selects kernels; with ``--compile`` it compiles, and the
    second call takes the one recompilation that einops' lazy backend registration triggers.
    """
    for _ in range(2):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return time.perf_counter() - start


def training_step(
    model: CMRClip, optimizer: torch.optim.Optimizer, inputs: tuple, dtype: torch.dtype | None
) -> Callable[[], None]:
    """One optimiser step on ``inputs`` (``batch_inputs``' video, masks and texts), autocast in
    ``dtype`` when given."""
    video, view_mask, frame_mask, texts = inputs
    ids = text_ids_from_texts(texts, video.device)
    loss_fn = ClipLoss()

    def step() -> None:
        with torch.autocast(video.device.type, dtype=dtype, enabled=dtype is not None):
            v, t, s = model(video, view_mask, frame_mask, texts)
            loss = loss_fn(v.float(), t.float(), s.float(), ids)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def model_flops(model: CMRClip, inputs: tuple, dtype: torch.dtype | None) -> int:
    """Training FLOPs (forward and backward) of one step on ``inputs``, less the B x B logits.

    The video tower is counted on one study, times the batch (``batch_inputs`` gives every study
    all views, so each costs the same): a plain step of the whole batch may not fit in memory
    where a checkpointed one does. The text tower is counted on the batch's texts, as training
    runs it (identical sentences once, padded to a common length).
    """
    video, view_mask, frame_mask, texts = inputs
    autocast = functools.partial(torch.autocast, video.device.type, dtype=dtype)

    def video_step() -> None:
        with autocast(enabled=dtype is not None):
            features = model.encode_video(video[:1], view_mask[:1], frame_mask[:1])
        features.float().sum().backward()

    def text_step() -> None:
        with autocast(enabled=dtype is not None):
            features = model.encode_text(texts)
        features.float().sum().backward()

    flops = count_flops(video_step) * len(texts) + count_flops(text_step)
    model.zero_grad(set_to_none=True)
    return flops


def measure(
    preset_name: str,
    kind: str,
    steps: int,
    batch: int | None,
    device: torch.device,
    mfu: bool = False,
    peak_tflops: float | None = None,
    compile_tower: bool = False,
    grad_checkpointing: bool = False,
) -> dict:
    """Training and embedding studies/s of one preset and tower kind (and its utilisation)."""
    preset = preset_with_kind(preset_name, kind)
    cfg = preset.train
    batch = batch or cfg.batch_size
    model = CMRClip(preset.model).to(device)
    optimizer = build_optimizer(model, cfg)
    inputs = batch_inputs(batch, cfg.frames, cfg.image_size, device)
    video, view_mask, frame_mask, _ = inputs
    dtype = torch.bfloat16 if device.type == "cuda" and cfg.precision == "bf16" else None
    train_step = training_step(model, optimizer, inputs, dtype)

    @torch.no_grad()
    def embed_step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            model.encode_video(video, view_mask, frame_mask, normalize=True)

    params = sum(p.numel() for p in model.visual.parameters())
    model.train()
    # Model FLOPs: counted eagerly, before compilation and without checkpointing's recompute.
    flops = model_flops(model, inputs, dtype) if mfu else 0
    model.set_grad_checkpointing(grad_checkpointing)
    if compile_tower:
        model.compile_video_tower()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rates = {"train": steps * batch / time_steps(train_step, steps, device)}
    model.eval()
    rates["embed"] = steps * batch / time_steps(embed_step, steps, device)
    result = {"preset": preset_name, "kind": kind, "batch": batch, "video_params": params, **rates}
    if device.type == "cuda":
        result["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    if mfu:
        step_dtype = dtype or torch.float32
        result["utilisation"] = utilisation(
            flops, rates["train"] / batch, device, step_dtype, peak_tflops
        )
    return result


def report(result: dict) -> None:
    """Print one configuration's line, and its utilisation line with ``--mfu``."""
    memory = f"  peak {result['peak_gib']:.1f} GiB" if "peak_gib" in result else ""
    print(
        f"{result['preset']:10s} {result['kind']:10s} batch {result['batch']:3d} "
        f"video params {result['video_params'] / 1e6:6.2f} M  "
        f"train {result['train']:8.3g} studies/s  embed {result['embed']:8.3g} studies/s{memory}"
    )
    used: Utilisation | None = result.get("utilisation")
    if used is not None:
        print(f"{'':22s}{used.line()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="cpu-small")
    parser.add_argument("--kinds", default="multiview,flat,static")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--mfu", action="store_true", help="count FLOPs, report utilisation")
    parser.add_argument("--peak-tflops", type=float, help="peak for MFU instead of the datasheet")
    parser.add_argument(
        "--compile", action="store_true", help="compile the video tower as train.compile does"
    )
    parser.add_argument(
        "--grad-checkpointing", action="store_true", help="as train.grad_checkpointing does"
    )
    parser.add_argument(
        "--default-allocator", action="store_true", help="leave glibc's thresholds as they are"
    )
    args = parser.parse_args()
    device = resolve_device(args.device)
    tuned = not args.default_allocator and tune_allocator()
    print(f"device {device}, torch threads {torch.get_num_threads()}, allocator tuned {tuned}")
    for preset in args.presets.split(","):
        for kind in args.kinds.split(","):
            options = (args.mfu, args.peak_tflops, args.compile, args.grad_checkpointing)
            try:
                result = measure(preset, kind, args.steps, args.batch_size, device, *options)
            except torch.OutOfMemoryError:
                result = None
            if result is None:  # outside the handler, so its traceback no longer holds tensors
                print(f"{preset:10s} {kind:10s} batch {args.batch_size}: out of device memory")
                gc.collect()
                torch.cuda.empty_cache()
                continue
            report(result)


if __name__ == "__main__":
    main()
