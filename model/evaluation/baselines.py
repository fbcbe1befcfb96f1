"""General-purpose image CLIP baseline (open_clip): each frame encoded alone, then averaged.

``--general-clip MODEL[:WEIGHTS_FILE]`` names an open_clip architecture (e.g. ``ViT-B-32``) and
optionally a local weights file. Nothing is downloaded: without a file the weights are random,
which only exercises the code path (the report says so); a model whose tokenizer or text tower
comes from the Hugging Face hub is refused, and a weights file is read tensors-only. A study's
embedding is the re-normalised mean of the unit embeddings of up to ``frames_per_view`` evenly
spaced valid frames of every present view; texts go through the model's own tokenizer and text
tower.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from model.errors import CheckpointError, UserError
from model.evaluation.encoders import MAX_SCALE, Encoder, memoised
from model.progress import Progress
from model.training.checkpoint import refusal_reason

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class GeneralClipConfig:
    """open_clip architecture, optional local weights, frames sampled per view, forced input
    size, frames per forward pass and the torch device."""

    model: str
    weights: Path | None = None
    frames_per_view: int = 4
    image_size: int | None = None
    batch_size: int = 64
    device: str = "cpu"


def parse_general_clip(spec: str) -> GeneralClipConfig:
    """``MODEL`` or ``MODEL:WEIGHTS_FILE`` -> config; the file must exist (no downloads)."""
    name, _, weights = spec.partition(":")
    if not name or name.startswith("hf-hub"):
        raise UserError(f"--general-clip {spec!r}: give a built-in open_clip model name")
    if weights and Path(weights).is_dir():
        raise UserError(f"--general-clip weights file {weights} is a folder, not a file")
    if weights and not Path(weights).is_file():
        raise UserError(f"--general-clip weights file {weights} does not exist")
    _check_offline(name)  # a misspelt name stops here, not after the rest of the evaluation ran
    return GeneralClipConfig(model=name, weights=Path(weights) if weights else None)


def _check_offline(name: str) -> None:
    """Refuse an open_clip model whose tokenizer or text tower comes from the Hugging Face hub:
    open_clip would download it (config and vocabulary) even without pretrained weights."""
    import open_clip

    if name not in open_clip.list_models():
        raise UserError(f"--general-clip: {name!r} is not an open_clip model name")
    text = (open_clip.get_model_config(name) or {}).get("text_cfg", {})
    if text.get("hf_model_name") or text.get("hf_tokenizer_name") or "siglip" in name.lower():
        raise UserError(
            f"--general-clip {name}: its tokenizer comes from the Hugging Face hub and nothing is "
            "downloaded here; choose a model with open_clip's own tokenizer (e.g. ViT-B-32)"
        )


def _create(config: GeneralClipConfig) -> tuple[torch.nn.Module, object]:
    import open_clip

    _check_offline(config.model)
    try:
        model = open_clip.create_model(
            config.model,
            # absolute: a relative name such as "openai" is a weights tag open_clip downloads
            pretrained=str(config.weights.resolve()) if config.weights else None,
            force_image_size=config.image_size,
            pretrained_image=False,
            pretrained_text=False,
        )
        tokenizer = open_clip.get_tokenizer(config.model)
    except Exception as err:  # an untrusted weights file fails torch.load in many ways
        raise CheckpointError(_load_failure(config, err)) from err
    return model.to(config.device).eval(), tokenizer


def random_weights_notice(config: GeneralClipConfig) -> str | None:
    """What to tell about a baseline without a weights file (None when it has one)."""
    if config.weights is not None:
        return None
    return (
        f"general CLIP {config.model} has random weights (no weights file given, and nothing is "
        f"downloaded): its figures show chance, not a pretrained CLIP; give "
        f"--general-clip {config.model}:WEIGHTS_FILE to compare with one"
    )


def _load_failure(config: GeneralClipConfig, err: Exception) -> str:
    """One line on why the model or its weights file could not be loaded."""
    if config.weights is None:
        return f"--general-clip {config.model}: cannot create it: {refusal_reason(err)}"
    if isinstance(err, AssertionError) or "loading state_dict" in str(err):
        detail = " ".join(str(err).split())
        detail = detail if len(detail) <= 200 else detail[:200] + " ..."
        return (
            f"--general-clip weights file {config.weights} does not fit {config.model} "
            f"(weights of another model?): {detail}"
        )
    reason = refusal_reason(err)
    if not isinstance(err, pickle.UnpicklingError) and reason != type(err).__name__:
        reason = f"{type(err).__name__}: {reason}"  # a bare KeyError '101' says little alone
    return (
        f"--general-clip weights file {config.weights} is not an open_clip weights file ({reason})"
    )


def frame_indices(frame_mask: np.ndarray, per_view: int) -> list[tuple[int, int]]:
    """(view, frame) pairs: up to ``per_view`` evenly spaced valid frames of each present view.

    frame_mask: bool [V, T].
    """
    pairs = []
    for view, valid in enumerate(frame_mask):
        frames = np.flatnonzero(valid)
        if frames.size:
            picks = np.unique(np.linspace(0, frames.size - 1, min(per_view, frames.size)).round())
            pairs.extend((view, int(frames[int(p)])) for p in picks)
    return pairs


def _to_clip_input(
    frames: np.ndarray, size: int, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """uint8 frames [N, H, W] -> normalised RGB float [N, 3, size, size]."""
    images = torch.from_numpy(frames.astype(np.float32) / 255.0)[:, None]
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return (images.expand(-1, 3, -1, -1) - mean) / std


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def general_clip_encoder(config: GeneralClipConfig) -> Encoder:
    """An ``Encoder`` over an open_clip image-text model (per-frame image encoding, averaged)."""
    model, tokenizer = _create(config)
    size = int(
        model.visual.image_size[0]
        if isinstance(model.visual.image_size, tuple)
        else model.visual.image_size
    )
    mean = torch.tensor(getattr(model.visual, "image_mean", None) or OPENAI_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(getattr(model.visual, "image_std", None) or OPENAI_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        embed_dim = int(model.encode_text(tokenizer(["cardiac MRI"]).to(config.device)).shape[-1])

    @torch.no_grad()
    def encode_frames(frames: list[np.ndarray]) -> torch.Tensor:
        """uint8 frames (each [H, W]) -> unit embeddings float [N, D]."""
        images = _to_clip_input(np.stack(frames), size, mean, std).to(config.device)
        return _unit(model.encode_image(images)).float().cpu()

    def studies(dataset: object, ids: list[str]) -> np.ndarray:
        """float32 [N, D]: per study the normalised sum (= mean direction) of frame embeddings."""
        sums = torch.zeros(len(ids), embed_dim)
        frames: list[np.ndarray] = []
        owners: list[int] = []
        with Progress("general CLIP frames", total=len(ids), unit="study") as bar:
            for row, study_id in enumerate(ids):
                video = dataset.load_video(study_id)
                _, frame_mask = dataset.masks(study_id)
                for view, frame in frame_indices(np.asarray(frame_mask), config.frames_per_view):
                    frames.append(video[view, frame])
                    owners.append(row)
                if len(frames) >= config.batch_size or (row == len(ids) - 1 and frames):
                    sums.index_add_(0, torch.tensor(owners), encode_frames(frames))
                    frames, owners = [], []
                bar.update(1)
        return _unit(sums).numpy()

    @torch.no_grad()
    def texts(batch: list[str]) -> np.ndarray:
        tokens = tokenizer(list(batch)).to(config.device)
        return _unit(model.encode_text(tokens)).float().cpu().numpy()

    scale = min(math.exp(float(model.logit_scale.detach())), MAX_SCALE)
    weights = config.weights.name if config.weights else "random weights"
    name = f"general CLIP {config.model}"
    return Encoder(
        name=name if config.weights else f"{name} (random weights)",  # never read as pretrained
        kind="general-clip",
        studies=studies,
        texts=memoised(texts),
        scale=scale,
        description=f"open_clip {config.model} ({weights}), per-frame image encoding averaged",
    )
