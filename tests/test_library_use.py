"""The model package used as a library, as a notebook uses it: the README's Python block runs
as written, and the mistakes a caller building tensors by hand makes are named."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_dataset import shared_tiny_checkpoint

from model import PROCESS_ENVIRONMENT
from model.data.dataset import CMRDataset, StudyVideoDataset
from model.embed import embed_studies, embed_texts
from model.errors import UserError
from model.nn import ClipLoss, load_preset
from model.nn.sentence_loss import SentenceLoss
from model.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")
README = Path(__file__).resolve().parent.parent / "README.md"


def readme_python_block() -> str:
    """The code block of the README's ``## Python`` section."""
    section = README.read_text(encoding="utf-8").split("\n## Python", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def tiny() -> tuple[Path, Path]:
    return shared_tiny_checkpoint()


@pytest.fixture(scope="module")
def study(tiny: tuple[Path, Path]) -> tuple[torch.nn.Module, dict]:
    """The tiny checkpoint's model and one study as the model reads it."""
    data, checkpoint = tiny
    model, _ = load_checkpoint(checkpoint)
    video = model.cfg.video
    item = StudyVideoDataset(CMRDataset.open(data), frames=video.frames, size=video.image_size)[0]
    return model, item


def readme_command_outputs() -> tuple[str, str]:
    """The checkpoint the README's command-line block trains (``train ... --out RUN``:
    RUN/best.pt) and the dataset it trains on (``--data``)."""
    section = README.read_text(encoding="utf-8").split("\n## Command line", 1)[1]
    train = re.search(r"python -m model train --data (\S+) .*--out (\S+)", section)
    return f"{train.group(2)}/best.pt", train.group(1)


def test_the_readme_python_block_runs_as_written(tiny: tuple[Path, Path]) -> None:
    data, checkpoint = tiny
    code = readme_python_block()
    # the paths the command-line block writes: a notebook run from the project folder finds them
    trained, dataset = readme_command_outputs()
    assert f'"{trained}"' in code and f'"{dataset}"' in code
    code = code.replace(trained, str(checkpoint)).replace(dataset, str(data))
    scope: dict = {}
    exec(compile(code, str(README), "exec"), scope)  # noqa: S102 - the project's own README

    studies, probs, vector = scope["studies"], scope["probs"], scope["vector"]
    assert list(probs.index) == studies.ids and studies.vectors.shape[0] == len(studies.ids)
    assert ((probs.to_numpy() > 0) & (probs.to_numpy() < 1)).all()
    assert scope["prompts"].shape == (1, studies.vectors.shape[1])
    torch.testing.assert_close(vector.norm(dim=-1), torch.ones(1))
    assert torch.isfinite(scope["loss"]) and not scope["model"].training
    ranked = scope["ranked"]
    assert list(ranked.index) == studies.ids and ranked.loc[studies.ids[0], "example"] == "example"
    assert scope["fresh"].cfg == load_preset("cpu-small").model


def test_video_outside_zero_one_is_named_not_embedded(study: tuple) -> None:
    model, item = study
    video = item["video"][None]
    masks = item["view_mask"][None], item["frame_mask"][None]
    with pytest.raises(UserError, match=r"values must be in \[0, 1\].*max 2"):
        model.encode_video(video * 255, *masks)
    with pytest.raises(UserError, match="values must be in"):
        model.encode_video(video - 0.5, *masks)
    nan_video = video.clone()
    nan_video[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(UserError, match="min nan"):
        model.encode_video(nan_video, *masks)
    # a training forward checks a sample of the values: 0-255 frames are still found
    with pytest.raises(UserError, match=r"values must be in \[0, 1\]"):
        model(video * 255, *masks, ["Dilated LV."])


def test_numpy_masks_from_the_dataset_are_read(study: tuple) -> None:
    model, item = study
    video = item["video"][None]
    view_mask, frame_mask = item["view_mask"][None], item["frame_mask"][None]
    with torch.no_grad():
        expected = model.encode_video(video, view_mask, frame_mask)
        from_numpy = model.encode_video(video.numpy(), view_mask.numpy(), frame_mask.numpy())
    torch.testing.assert_close(from_numpy, expected)
    with pytest.raises(UserError, match=r"view_mask must have shape \(1, 9\), got \(9,\)"):
        model.encode_video(video, np.asarray(item["view_mask"]), frame_mask)


def test_losses_refuse_the_log_scale_parameter(study: tuple) -> None:
    model, _ = study
    features = torch.nn.functional.normalize(torch.randn(3, 4), dim=1)
    with pytest.raises(UserError, match=r"pass model.scale\(\)"):
        ClipLoss()(features, features, model.logit_scale)
    owner = torch.arange(3)
    with pytest.raises(UserError, match=r"pass model.scale\(\)"):
        SentenceLoss()(features, features, model.logit_scale, owner, owner)
    assert torch.isfinite(ClipLoss()(features, features, model.scale()))


def test_video_on_another_device_than_the_model_is_named(study: tuple) -> None:
    model, _ = study
    video = torch.empty(1, 9, model.cfg.video.frames, 32, 32, device="meta")
    with pytest.raises(UserError, match="video is on meta but the model on cpu"):
        model.encode_video(video)


def test_one_string_is_refused_not_read_as_its_characters(study: tuple) -> None:
    model, _ = study
    with pytest.raises(UserError, match="list of strings, not one string"):
        embed_texts(model, "Dilated left ventricle.")


def test_embedding_puts_back_the_mode_a_training_loop_set(tiny: tuple[Path, Path]) -> None:
    data, checkpoint = tiny
    model, _ = load_checkpoint(checkpoint)
    ds = CMRDataset.open(data)
    model.train()
    embed_texts(model, ["Dilated LV."])
    assert model.training
    embed_studies(model, ds, ids=ds.ids()[:1])
    assert model.training
    model.eval()
    embed_texts(model, ["Dilated LV."])
    assert not model.training


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "gpu"])
def test_a_device_the_machine_lacks_is_named(tiny: tuple[Path, Path], device: str) -> None:
    _, checkpoint = tiny
    with pytest.raises(UserError, match=re.escape(repr(device))):
        load_checkpoint(checkpoint, device=device)


def test_importing_model_changes_nothing_in_the_process(tmp_path: Path) -> None:
    """A notebook that imports ``model`` keeps its environment (HF_HUB_OFFLINE set at import
    stopped its own ``from_pretrained`` downloads), logging and working folder as they were."""
    code = (
        "import logging, os, sys\n"
        "before = dict(os.environ); handlers = list(logging.getLogger().handlers)\n"
        "import model, model.nn, model.embed, model.zeroshot, model.few_shot, model.errors\n"
        "import model.training.checkpoint\n"
        "print(sorted(k for k in set(os.environ) | set(before) if os.environ.get(k) != before.get(k)))\n"
        "print(logging.getLogger().handlers == handlers, logging.getLogger().level)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in PROCESS_ENVIRONMENT}
    env["PYTHONPATH"] = str(README.parent)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", f"True {logging.WARNING}"]
    assert list(tmp_path.iterdir()) == []
