"""Presets and config dataclasses: shipped presets load, JSON round trip, clear errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from model.errors import UserError
from model.nn.config import Preset, VideoTowerConfig
from model.nn.presets import (
    load_preset,
    model_config_from_dict,
    preset_from_dict,
    preset_names,
    preset_to_dict,
)


def test_shipped_presets_are_the_documented_three() -> None:
    assert {"cpu-small", "gpu-base", "paper"} <= set(preset_names())


@pytest.mark.parametrize("name", ["cpu-small", "gpu-base", "paper"])
def test_preset_loads_and_round_trips_through_json(name: str) -> None:
    preset = load_preset(name)
    assert isinstance(preset, Preset) and preset.name == name
    again = preset_from_dict(json.loads(json.dumps(preset_to_dict(preset))))
    assert again == preset


def test_cpu_small_is_the_fast_multiview_demo() -> None:
    preset = load_preset("cpu-small")
    assert preset.model.video.kind == "multiview"
    assert preset.train.image_size == preset.model.video.image_size == 64
    assert preset.train.frames <= preset.model.video.frames
    assert preset.model.text.cache_frozen


def test_paper_preset_is_cmr_clip_sized() -> None:
    video = load_preset("paper").model.video
    assert (video.kind, video.width, video.patch_size, video.image_size) == ("flat", 768, 16, 224)
    assert video.spatial_depth + video.temporal_depth == 12 and video.frames == 64


def test_preset_loads_from_a_path(tmp_path: Path) -> None:
    data = preset_to_dict(load_preset("cpu-small"))
    data["train"]["epochs"] = 3
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    assert load_preset(path).train.epochs == 3
    assert load_preset(str(path)).train.epochs == 3
    upper = path.rename(tmp_path / "MINE.JSON")  # as some systems name files
    assert load_preset(str(upper)).train.epochs == 3


def test_missing_sections_take_defaults() -> None:
    preset = preset_from_dict({"train": {"epochs": 2}})
    assert preset.train.epochs == 2 and preset.model.video.kind == "multiview"


def test_ints_are_accepted_for_floats() -> None:
    preset = preset_from_dict({"train": {"lr": 1, "epochs": 1}})
    assert preset.train.lr == 1.0 and isinstance(preset.train.lr, float)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model": {"video": {"widht": 64}}}, "unknown key(s) in preset.model.video: widht"),
        ({"train": {"epochs": 2, "colour": 1}}, "unknown key(s) in preset.train: colour"),
        ({"extra": 1}, "unknown key(s) in preset: extra"),
        ({"model": {"video": {"kind": "3d"}}}, "preset.model.video.kind must be one of"),
        ({"train": {"epochs": "ten"}}, "preset.train.epochs must be int"),
        ({"train": {"epochs": True}}, "preset.train.epochs must be an integer"),
        ({"train": {"augment": 1}}, "preset.train.augment must be bool"),
        ({"model": []}, "preset.model must be a JSON object"),
        ({"model": {"video": {"image_size": 60}}}, "must be a multiple of video.patch_size"),
        ({"model": {"video": {"width": 100, "heads": 3}}}, "must be divisible by heads"),
        ({"model": {"video": {"temporal_grid": 3}}}, "video.temporal_grid (3) must divide"),
        ({"model": {"text": {"unlocked_layers": -1}}}, "text.unlocked_layers must be >= 0"),
        ({"train": {"image_size": 32}}, "train.image_size (32) must equal"),
        ({"train": {"frames": 64}}, "exceeds model.video.frames"),
        ({"train": {"batch_size": 0}}, "train.batch_size must be > 0"),
        ({"train": {"precision": "fp8"}}, "preset.train.precision must be one of"),
        ({"train": {"word_drop": 1.0}}, "train.word_drop must be in [0, 1)"),
        ({"model": {"text": {"word_drop": 1.0}}}, "text.word_drop must be in [0, 1)"),
        ({"train": {"fragment_rate": -0.1}}, "train.fragment_rate must be in [0, 1)"),
        ({"model": {"video": {"tubelet": 9}}}, "video.tubelet must be between 1 and frames (8)"),
    ],
)
def test_bad_presets_name_the_problem(data: dict, message: str) -> None:
    with pytest.raises(UserError) as info:
        preset_from_dict(data)
    assert message in str(info.value)


def test_unknown_preset_name_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="known presets: .*cpu-small"):
        load_preset("cpu-huge")


def test_unreadable_preset_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match="cannot read preset"):
        load_preset(path)
    with pytest.raises(UserError, match="not found"):
        load_preset(tmp_path / "absent.json")


def test_model_config_from_dict_validates() -> None:
    good = preset_to_dict(load_preset("gpu-base"))["model"]
    assert model_config_from_dict(good) == load_preset("gpu-base").model
    with pytest.raises(UserError, match="embed_dim must be > 0"):
        model_config_from_dict({**good, "embed_dim": 0})


def test_conv_stem_needs_an_even_patch() -> None:
    with pytest.raises(UserError, match="must be even"):
        replace(VideoTowerConfig(), image_size=63, patch_size=9).validate()
    replace(VideoTowerConfig(), image_size=63, patch_size=9, stem="linear").validate()


def test_package_exports_resolve_lazily() -> None:
    import model.nn as nn_package

    assert nn_package.load_preset is load_preset
    assert set(nn_package.__all__) >= {"CMRClip", "ClipLoss", "Preset", "build_video_tower"}
    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        _ = nn_package.Missing


def test_every_name_the_architecture_page_calls_on_model_nn_imports_from_it() -> None:
    """docs/ARCHITECTURE.md says ``from model.nn import X`` works for every public name, then
    lists the model's interface: each class or function a line of that block starts with
    (``SentenceLoss(...)``, ``text_ids_from_texts(...)``) imports from ``model.nn``."""
    import re

    import model.nn as nn_package

    page = Path(__file__).resolve().parent.parent / "docs" / "ARCHITECTURE.md"
    section = page.read_text(encoding="utf-8").split("\n## Model", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python", 1)[1].split("```", 1)[0]
    names = set(re.findall(r"^(?:\w+ = )?([A-Za-z_]\w*)\(", block, flags=re.MULTILINE))
    assert {"CMRClip", "ClipLoss", "SentenceLoss", "text_ids_from_texts"} <= names
    for name in sorted(names):
        assert getattr(nn_package, name) is not None, name
