"""General-CLIP baseline helpers and the encoder wrappers (no model weights needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.errors import UserError
from model.evaluation.baselines import frame_indices, parse_general_clip
from model.evaluation.encoders import Encoder, checkpoint_name, memoised, unique_names


def test_frame_indices_spread_over_valid_frames_and_skip_missing_views() -> None:
    mask = np.zeros((3, 8), dtype=bool)
    mask[0, :8] = True  # full cine
    mask[2, 0] = True  # single image
    pairs = frame_indices(mask, per_view=3)
    assert pairs == [(0, 0), (0, 4), (0, 7), (2, 0)]


def test_parse_general_clip_spec(tmp_path: Path) -> None:
    assert parse_general_clip("ViT-B-32").weights is None
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    parsed = parse_general_clip(f"ViT-B-32:{weights}")
    assert parsed.model == "ViT-B-32" and parsed.weights == weights
    with pytest.raises(UserError, match="does not exist"):
        parse_general_clip("ViT-B-32:/no/such/file.pt")
    with pytest.raises(UserError, match="built-in open_clip model name"):
        parse_general_clip("hf-hub:org/model")


def test_memoised_text_encoder_embeds_each_text_once() -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts])

    texts = memoised(encode)
    first = texts(["a", "bb", "a"])
    second = texts(["bb", "ccc"])
    assert calls == [["a", "bb"], ["ccc"]]
    np.testing.assert_array_equal(first[:, 0], [1, 2, 1])
    np.testing.assert_array_equal(second[:, 0], [2, 3])


def test_model_names_are_readable_and_unique() -> None:
    assert checkpoint_name(Path("runs/flat/best.pt")) == "flat/best"
    assert checkpoint_name(Path("models/static.pt")) == "static"
    encoder = Encoder("m", "checkpoint", lambda ds, ids: np.zeros(0), lambda t: np.zeros(0), 1.0)
    names = [e.name for e in unique_names([encoder, encoder, encoder])]
    assert names == ["m", "m (2)", "m (3)"]
