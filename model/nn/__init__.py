"""Encoder networks: config dataclasses and presets, video towers, text tower, CMRClip, loss.

Names are imported lazily, so ``from model.nn import load_preset`` does not load torch models
or transformers until a model class is actually used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "VideoTowerConfig": "model.nn.config",
    "TextTowerConfig": "model.nn.config",
    "CMRClipConfig": "model.nn.config",
    "TrainConfig": "model.nn.config",
    "Preset": "model.nn.config",
    "load_preset": "model.nn.presets",
    "preset_names": "model.nn.presets",
    "preset_to_dict": "model.nn.presets",
    "preset_from_dict": "model.nn.presets",
    "model_config_from_dict": "model.nn.presets",
    "CMRClip": "model.nn.clip_model",
    "build_video_tower": "model.nn.clip_model",
    "TextTower": "model.nn.text_tower",
    "ClipLoss": "model.nn.loss",
    "text_ids_from_texts": "model.nn.loss",
    "SentenceLoss": "model.nn.sentence_loss",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'model.nn' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
