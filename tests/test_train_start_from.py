"""The Train page's *Start from*: a new run fine-tuned from a run's checkpoint (``train
--init-from``) without a terminal. The model is the checkpoint's (a checkpoint loads into no
other), the command carries ``--init-from``, and a checkpoint that cannot be read is one error
with nothing launched and no run folder. The checkpoints here are a few bytes with a sidecar
vouching for them: read without torch, as the page reads them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.run_launch import plan_run, prepare_run
from dashboard.runs import TrainForm
from model.checkpoint_meta import CheckpointFacts, CheckpointMeta, file_stamp, write_sidecar
from model.errors import CheckpointError
from model.nn.presets import load_preset, model_mismatch, preset_from_dict, preset_to_dict
from tests.test_train_runs import APP, _finished_run
from tests.tiny_dataset import make_tiny_dataset


def _checkpoint(run: Path, preset: str = "gpu-base", **video: object) -> Path:
    """``run/best.pt`` whose sidecar says it holds ``preset``'s model (``video`` changed)."""
    config = preset_to_dict(load_preset(preset))
    config["model"]["video"].update(video)
    run.mkdir(parents=True, exist_ok=True)
    path = run / "best.pt"
    path.write_bytes(b"weights")
    meta = CheckpointMeta(path, config, "f" * 16, "d" * 16, epoch=3, step=30)
    write_sidecar(path, CheckpointFacts(meta, None), file_stamp(path))
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_tiny_dataset(tmp_path / "data" / "ds" / "tiny", n=8)


def test_a_run_from_a_checkpoint_takes_its_model_and_says_init_from(
    tmp_path: Path, dataset: Path
) -> None:
    source = _checkpoint(tmp_path / "data" / "runs" / "site-a")
    form = TrainForm(dataset, "tuned", "cpu-small", "flat", frames=4, epochs=3, init_from=source)
    plan = plan_run(form, tmp_path / "runs", gpus=0)
    stored = preset_to_dict(load_preset("gpu-base"))["model"]
    assert plan.preset["model"] == stored  # not the form's flat tower at 4 frames
    assert plan.preset["train"]["frames"] == stored["video"]["frames"] == 16
    assert plan.preset["train"]["epochs"] == 3 and plan.preset["name"] == "cpu-small"
    assert model_mismatch(preset_from_dict(plan.preset), stored) == ""  # what train checks
    assert plan.command[plan.command.index("--init-from") + 1] == str(source)
    fresh = plan_run(dataclasses.replace(form, init_from=None), tmp_path / "runs", gpus=0)
    assert "--init-from" not in fresh.command  # the default: fresh weights, the form's model
    assert fresh.preset["model"]["video"]["kind"] == "flat"
    assert fresh.preset["model"]["video"]["frames"] == 4


def test_a_checkpoint_that_cannot_be_read_is_refused_with_no_run_folder(
    tmp_path: Path, dataset: Path
) -> None:
    broken = tmp_path / "data" / "runs" / "broken" / "last.pt"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"this is not a checkpoint")
    odd = _checkpoint(tmp_path / "data" / "runs" / "odd", kind="spiral")
    for source, said in ((broken, "last.pt"), (odd, "cannot start from .*video.kind")):
        form = TrainForm(dataset, "tuned", init_from=source)
        with pytest.raises(CheckpointError, match=said):
            prepare_run(form, tmp_path / "runs", gpus=0)
        assert not (tmp_path / "runs").exists()


def test_the_train_page_locks_the_model_to_the_checkpoint_and_launches_init_from(
    tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    source = _checkpoint(_finished_run(root, "site-a", 2000.0))
    bad = _finished_run(root, "broken", 1000.0) / "best.pt"
    bad.write_bytes(b"this is not a checkpoint")
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    launched: list[list[str]] = []
    monkeypatch.setattr(
        "dashboard.ui.launch", lambda jobs, kind, cmd, *a, **kw: launched.append(cmd)
    )
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    start = at.selectbox(key="train-start-from")
    assert start.value == "fresh weights"
    assert not next(s for s in at.selectbox if s.label == "Video tower").disabled
    start.select(source).run()
    tower = next(s for s in at.selectbox if s.label == "Video tower")
    frames = next(n for n in at.number_input if n.label == "Frames")
    assert tower.disabled and frames.disabled and frames.value == 16  # gpu-base's, not the preset's
    assert any("follow the checkpoint of site-a" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Launch training").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert launched[0][launched[0].index("--init-from") + 1] == str(source)
    at.selectbox(key="train-start-from").select(bad).run()
    assert len(at.error) == 1 and "best.pt" in at.error[0].value
    assert not any(b.label == "Launch training" for b in at.button)
    bad.unlink()  # deleted meanwhile: said once, not a launch from fresh weights
    at.run()
    assert len(at.error) == 1 and "runs/broken/best.pt" in at.error[0].value
    assert not any(b.label == "Launch training" for b in at.button)
    assert at.selectbox(key="train-start-from").value == "fresh weights"
    assert not at.run().error and len(launched) == 1
