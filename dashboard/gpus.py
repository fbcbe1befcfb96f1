"""The GPUs a training job runs on: detected with ``nvidia-smi``, chosen on the Train page,
passed to the job's environment, and kept with the job so that a resume runs on the same ones.

A job sees only the chosen GPUs (``CUDA_VISIBLE_DEVICES`` by UUID: a shared machine's other
GPUs stay free), and with several of them torchrun gives its ranks most of the dashboard's stop
grace to save.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from dashboard.job import stop_grace_s


def detect_gpus() -> list[str]:
    """Names of the visible NVIDIA GPUs (via ``nvidia-smi -L``); empty on CPU-only machines."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        out = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.startswith("GPU")]


def training_env(chosen: list[str], detected: list[str]) -> dict[str, str]:
    """The environment a run launched on the ``chosen`` GPUs (``detect_gpus`` lines) needs: only
    those visible when they are not all of them (none: the CPU), and under torchrun the time its
    ranks get to save after a Stop, most of the dashboard's grace before it kills them."""
    env: dict[str, str] = {}
    if set(chosen) != set(detected):
        env["CUDA_VISIBLE_DEVICES"] = ",".join(_gpu_id(line) for line in chosen)
    if len(chosen) > 1:
        env["TORCH_ELASTIC_SHUTDOWN_TIMEOUT"] = str(int(stop_grace_s("train") * 0.8))
    return env


def gpus_output(chosen: list[str]) -> str:
    """The GPUs a training job runs on, as its ``outputs["gpus"]`` keeps them for a resume."""
    return "\n".join(chosen)


def resume_gpus(job: Any | None, detected: list[str]) -> list[str]:
    """The GPUs a resume of a run uses: those its last dashboard job ran on (still present),
    else every detected GPU. A resume may run on another number of GPUs; it continues the run."""
    if job is None or "gpus" not in job.outputs:
        return list(detected)
    kept = job.outputs["gpus"].split("\n")
    return [gpu for gpu in detected if gpu in kept]


def _gpu_id(line: str) -> str:
    """``GPU 1: NVIDIA H100 (UUID: GPU-5f...)`` -> ``GPU-5f...`` (its index without a UUID): what
    CUDA_VISIBLE_DEVICES names it by, whatever order CUDA numbers the devices in."""
    if "(UUID: " in line:
        return line.split("(UUID: ", 1)[1].rstrip(")").strip()
    return line.split(":", 1)[0].removeprefix("GPU").strip()
