"""Presets: JSON files of ``{"name", "model", "train"}`` turned into typed ``Preset`` objects.

``load_preset("cpu-small")`` reads ``model/presets/cpu-small.json``; a path to any JSON file works
too. ``preset_to_dict`` / ``preset_from_dict`` round-trip exactly (checkpoints and run folders
store the dict). Unknown keys and wrong types are rejected with a message naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

from model.errors import UserError
from model.nn.config import CMRClipConfig, Preset, TextTowerConfig, TrainConfig, VideoTowerConfig

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
_NESTED: dict[type, dict[str, type]] = {
    Preset: {"model": CMRClipConfig, "train": TrainConfig},
    CMRClipConfig: {"video": VideoTowerConfig, "text": TextTowerConfig},
}


def preset_names() -> list[str]:
    """Names of the presets shipped in ``model/presets``."""
    return sorted(path.stem for path in PRESET_DIR.glob("*.json"))


_MACHINE = {
    "cpu-small": "CPU (a laptop, 2 cores)",
    "gpu-base": "one GPU",
    "paper": "GPUs (the paper's model)",
}


def preset_guide() -> str:
    """One line per shipped preset, for ``train --help``: the machine it is for and, read from
    its file, what it trains (a researcher picks by machine, then by budget)."""
    lines = []
    for name in preset_names():
        train = load_preset(name).train
        length = f"{train.epochs} epochs"
        if train.time_budget_s > 0:
            length = f"up to {length} in {train.time_budget_s:g} s"
        lines.append(
            f"  {name:<10} {_MACHINE.get(name, 'your own')}: {train.frames} frames x "
            f"{train.image_size} px, batch {train.batch_size}, {train.precision}, {length}"
        )
    return "\n".join(lines)


def load_preset(name_or_path: str | Path) -> Preset:
    """Load a shipped preset by name or any preset JSON file by path.

    Raises ``UserError`` for an unknown name, unreadable JSON, unknown keys or invalid values.
    """
    path = Path(name_or_path)
    if path.suffix.lower() != ".json":
        path = PRESET_DIR / f"{name_or_path}.json"
        if not path.is_file():
            known = ", ".join(preset_names())
            raise UserError(f"unknown preset {str(name_or_path)!r} (known presets: {known})")
    if not path.is_file():
        raise UserError(f"preset file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read preset {path}: {exc}") from exc
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
    return preset_from_dict(data)


def preset_to_dict(preset: Preset) -> dict[str, Any]:
    """Plain JSON-ready dict of a preset (nested sections as dicts)."""
    return dataclasses.asdict(preset)


def preset_from_dict(data: Any) -> Preset:
    """Build and validate a ``Preset`` from a dict such as ``preset_to_dict`` returns."""
    preset = _build(Preset, data, "preset")
    preset.validate()
    return preset


def model_config_from_dict(data: Any) -> CMRClipConfig:
    """Build and validate a ``CMRClipConfig`` (the ``model`` section of a preset)."""
    config = _build(CMRClipConfig, data, "model")
    config.validate()
    return config


def model_mismatch(preset: Preset, stored_model: Any) -> str:
    """How ``preset``'s model differs from a stored model config (a checkpoint's), "" if not.

    Keys the stored config lacks (written before they existed) count as their defaults.
    """
    try:
        stored = dataclasses.asdict(model_config_from_dict(stored_model))
    except UserError as err:
        return f"the run's stored model config is not valid here ({err})"
    differences = config_differences(preset_to_dict(preset)["model"], stored)
    if not differences:
        return ""
    return f"preset {preset.name!r} has another model than the run's: {', '.join(differences[:3])}"


def config_differences(ours: Any, theirs: Any, where: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts, as ``key (ours vs theirs)``."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return [
            difference
            for key in sorted(set(ours) | set(theirs))
            for difference in config_differences(
                ours.get(key), theirs.get(key), f"{where}.{key}" if where else key
            )
        ]
    return [] if ours == theirs else [f"{where} ({ours!r} vs {theirs!r})"]


def _build(cls: type, data: Any, where: str) -> Any:
    """Recursively build dataclass ``cls`` from ``data``, rejecting unknown keys and bad types."""
    if not isinstance(data, dict):
        raise UserError(f"{where} must be a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(
            f"unknown key(s) in {where}: {', '.join(unknown)} (allowed: {', '.join(sorted(fields))})"
        )
    hints = typing.get_type_hints(cls)
    nested = _NESTED.get(cls, {})
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in nested:
            values[key] = _build(nested[key], value, f"{where}.{key}")
        else:
            values[key] = _check_type(value, hints[key], f"{where}.{key}")
    return cls(**values)


def _check_type(value: Any, hint: Any, where: str) -> Any:
    """Return ``value`` (ints widened to float where a float is expected) or raise ``UserError``."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            allowed = ", ".join(repr(arg) for arg in typing.get_args(hint))
            raise UserError(f"{where} must be one of {allowed}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _check_type(value, option, where)
            except UserError:
                continue
        raise UserError(f"{where} has an invalid value {value!r}")
    if hint is type(None):
        if value is not None:
            raise UserError(f"{where} must be null")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise UserError(f"{where} must be an integer, got {value!r}")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise UserError(f"{where} must be {hint.__name__}, got {type(value).__name__} {value!r}")
    return value
