"""General-CLIP baseline helpers and the encoder wrappers (no model weights needed)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch

from model.errors import CheckpointError, UserError
from model.evaluation.baselines import (
    GeneralClipConfig,
    frame_indices,
    general_clip_encoder,
    parse_general_clip,
)
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
    with pytest.raises(UserError, match="is a folder, not a file"):
        parse_general_clip(f"ViT-B-32:{tmp_path}")


@pytest.mark.parametrize("name", ["roberta-ViT-B-32", "ViT-B-16-SigLIP", "nllb-clip-base"])
def test_a_model_whose_tokenizer_is_on_the_hub_is_refused_before_any_download(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def download(*args: object, **kwargs: object) -> None:
        raise AssertionError("open_clip was asked to build a model that downloads")

    monkeypatch.setattr(open_clip, "create_model", download)
    monkeypatch.setattr(open_clip, "get_tokenizer", download)
    with pytest.raises(UserError, match=f"{name}: its tokenizer comes from the Hugging Face hub"):
        general_clip_encoder(GeneralClipConfig(name, image_size=32))


def _weights_files(folder: Path) -> list[tuple[Path, str]]:
    """Files that are no ViT-S-32 weights, and the words the refusal must say."""
    text = folder / "notes.pt"
    text.write_text("hello")
    code = folder / "code.pt"
    code.write_bytes(pickle.dumps(Path))  # a pickle that would import and call code
    narrow = folder / "narrow.pt"  # ViT-S-32's text positions are 384 wide
    torch.save({"positional_embedding": torch.zeros(77, 8)}, narrow)
    partial = folder / "partial.pt"
    torch.save({"logit_scale": torch.tensor(1.0)}, partial)
    not_weights = "is not an open_clip weights file"
    return [
        (text, f"{not_weights} (KeyError"),
        (code, f"{not_weights} (it holds Python objects besides weights"),
        (narrow, "does not fit ViT-S-32 (weights of another model?): text pos_embed width"),
        (partial, "does not fit ViT-S-32 (weights of another model?): Error(s) in loading"),
    ]


def test_a_weights_file_that_does_not_fit_is_one_checkpoint_error(tmp_path: Path) -> None:
    for path, message in _weights_files(tmp_path):
        with pytest.raises(CheckpointError) as refused:
            general_clip_encoder(GeneralClipConfig("ViT-S-32", weights=path, image_size=32))
        text = str(refused.value)
        assert text.startswith(f"--general-clip weights file {path} "), text
        assert message in text and "\n" not in text and len(text) < 400, text


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


def test_a_weights_file_named_like_a_pretrained_tag_is_read_not_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[object] = []

    def download(*args: object, **kwargs: object) -> None:
        downloads.append(args)  # and nothing to load: a download would leave random weights

    monkeypatch.setattr(open_clip.factory, "download_pretrained", download)
    monkeypatch.chdir(tmp_path)
    Path("openai").write_bytes(b"")  # ViT-B-32's "openai" tag names OpenAI's weights online
    with pytest.raises(CheckpointError, match="openai is not an open_clip weights file") as err:
        general_clip_encoder(GeneralClipConfig("ViT-B-32", weights=Path("openai"), image_size=32))
    assert downloads == [] and "download" not in str(err.value)
