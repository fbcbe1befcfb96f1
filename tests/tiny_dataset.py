"""A tiny dataset and checkpoint in the documented formats, for fast tests of any part.

``make_tiny_dataset(root, n=24, seed=0)`` writes ``studies.parquet``, ``tensors/*.npy`` (uint8
[9, 16, 64, 64]), ``linkage.csv``, ``dataset.json``, ``ingest_report.csv`` and, beside them for
evaluation tests, ``labels.csv`` (accession_number + 7 findings + 7 one-hot diagnoses).
Videos are simple beating discs whose size, motion and brightness follow the impression text, so
a model can learn something in a few steps. ``make_tiny_checkpoint(dataset, out)`` trains a tiny
model for two steps and returns the path of its ``last.pt``; ``shared_tiny_checkpoint()`` builds
one (dataset, checkpoint) pair per test process for tests that only read them.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from model.schema import DIAGNOSES, FINDINGS, VIEW_SLOTS

FRAMES = 16
SIZE = 64
_SENTENCES = {
    "lv_dysfunction": (
        "Impaired left ventricular systolic function.",
        "Normal LV systolic function.",
    ),
    "lv_dilation": ("Dilated left ventricle.", "Normal left ventricular size."),
    "lge": ("Late gadolinium enhancement is present.", "No late gadolinium enhancement."),
}


def _video(rng: np.random.Generator, dilated: bool, impaired: bool, lge: bool) -> np.ndarray:
    """uint8 [V, T, H, W]: a disc per cine view beating over T; LGE views bright if ``lge``."""
    yy, xx = np.mgrid[:SIZE, :SIZE] - SIZE / 2
    radius_ed = 16.0 if dilated else 10.0
    shortening = 0.08 if impaired else 0.35
    video = np.zeros((len(VIEW_SLOTS), FRAMES, SIZE, SIZE), dtype=np.float32)
    for t in range(FRAMES):
        radius = radius_ed * (1 - shortening * np.sin(np.pi * t / FRAMES))
        disc = (np.hypot(yy, xx) < radius).astype(np.float32)
        video[:6, t] = 0.2 + 0.6 * disc
    ring = (np.abs(np.hypot(yy, xx) - radius_ed - 2) < 2).astype(np.float32)
    video[6:, :] = 0.1 + (0.8 if lge else 0.1) * ring
    video[7:, 1:] = 0.0  # single-image LGE views carry frame 0 only
    video += rng.normal(0.0, 0.05, video.shape).astype(np.float32)
    return (np.clip(video, 0, 1) * 255).astype(np.uint8)


def make_tiny_dataset(root: str | Path, n: int = 24, seed: int = 0) -> Path:
    """Write a tiny dataset folder (documented ingest format) under ``root``; returns its path."""
    root = Path(root)
    (root / "tensors").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows, links, labels = [], [], []
    for i in range(n):
        flags = {name: bool(rng.random() < 0.5) for name in _SENTENCES}
        study_id = f"s{seed:02d}{i:04d}"
        accession = f"ACC{seed:02d}{i:05d}"
        video = _video(rng, flags["lv_dilation"], flags["lv_dysfunction"], flags["lge"])
        np.save(root / "tensors" / f"{study_id}.npy", video)
        impression = " ".join(_SENTENCES[k][0 if v else 1] for k, v in flags.items())
        split = "train" if i < n * 0.6 else ("val" if i < n * 0.8 else "test")
        rows.append(_row(study_id, i, split, impression))
        links.append({"study_id": study_id, "accession_number": accession})
        diagnosis = "nicm" if flags["lv_dilation"] and flags["lv_dysfunction"] else "normal"
        label = {f: int(flags.get(f, False)) for f in FINDINGS}
        label.update({d: int(d == diagnosis) for d in DIAGNOSES})
        labels.append({"accession_number": accession, **label})
    pd.DataFrame(rows).to_parquet(root / "studies.parquet", index=False)
    pd.DataFrame(links).to_csv(root / "linkage.csv", index=False)
    pd.DataFrame(labels).to_csv(root / "labels.csv", index=False)
    pd.DataFrame(columns=["path", "study_id", "series", "level", "reason"]).to_csv(
        root / "ingest_report.csv", index=False
    )
    settings = {"frames": FRAMES, "size": SIZE, "fov_mm": 224, "salt_id": f"tiny-{seed}"}
    (root / "dataset.json").write_text(json.dumps(settings))
    return root


def _row(study_id: str, i: int, split: str, impression: str) -> dict:
    return {
        "study_id": study_id,
        "patient_key": f"p{study_id}",
        "site": "internal" if i % 5 else "external",
        "split": split,
        "views": ",".join(VIEW_SLOTS),
        "view_frames": [FRAMES] * 7 + [1, 1],
        "cine_phases": 25,
        "pixel_spacing_mm": 1.5,
        "matrix": "192x192",
        "manufacturer": "SIEMENS",
        "scanner": "Avanto",
        "field_strength": 1.5,
        "age_band": "50-59",
        "sex": "F" if i % 2 else "M",
        "impression": impression,
        "source": "dicom",
    }


TINY_PRESET: dict = {
    "name": "tiny",
    "model": {
        "embed_dim": 32,
        "video": {
            "kind": "multiview",
            "image_size": 32,
            "patch_size": 8,
            "frames": 4,
            "width": 32,
            "heads": 2,
            "spatial_depth": 1,
            "temporal_depth": 1,
            "fusion_depth": 1,
            "mlp_ratio": 2.0,
        },
        "text": {"unlocked_layers": 1, "context_length": 32},
    },
    "train": {
        "epochs": 2,
        "batch_size": 8,
        "lr": 1e-3,
        "text_lr": 1e-4,
        "warmup_steps": 1,
        "frames": 4,
        "image_size": 32,
        "augment": False,
        "sentence_drop": 0.3,
        "sentence_loss": 0.5,
        "log_every": 1,
    },
}


def write_tiny_preset(path: str | Path, **train_overrides: object) -> Path:
    """Write the tiny preset JSON (optionally with ``train`` overrides); returns its path."""
    preset = json.loads(json.dumps(TINY_PRESET))
    preset["train"].update(train_overrides)
    path = Path(path)
    path.write_text(json.dumps(preset))
    return path


def make_tiny_checkpoint(dataset: str | Path, out: str | Path) -> Path:
    """Train the tiny preset for two steps on ``dataset`` into run folder ``out``; returns last.pt."""
    from model.training.train import TrainOptions, train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    preset = write_tiny_preset(out.parent / f"{out.name}-preset.json")
    result = train(
        TrainOptions(data=Path(dataset), out=out, preset=str(preset), max_steps=2, device="cpu")
    )
    return result.last_checkpoint


@functools.cache
def shared_tiny_checkpoint() -> tuple[Path, Path]:
    """One tiny dataset (n=16) and its 2-step checkpoint per test process, for read-only use.

    Lives in a temporary folder removed at exit; tests must not modify the checkpoint (writing
    embedding caches into the dataset is fine).
    """
    root = Path(tempfile.mkdtemp(prefix="cmr-tiny-"))
    atexit.register(shutil.rmtree, root, True)
    data = make_tiny_dataset(root / "data", n=16, seed=1)
    return data, make_tiny_checkpoint(data, root / "run")
