"""What a page opens on when nobody chose a dataset or checkpoint: the demo's pair on the demo
root, the root's own on a hospital's (where the demo may have been built too)."""

from __future__ import annotations

from pathlib import Path

from dashboard_fixtures import finished_run, make_tiny_dataset

from dashboard.settings import Settings
from model.demo import DemoLayout
from model.training.run_folder import RunFolder


def test_with_nothing_chosen_a_page_opens_on_the_demo_checkpoint_not_a_newer_trial(
    tmp_path: Path,
) -> None:
    """A 1-epoch trial run launched during a demo became every newly opened page's checkpoint
    (a student's afterwards: zero-shot and search on a barely trained model), though the demo's
    own dataset is the one pages open on."""
    demo = finished_run(tmp_path, DemoLayout(tmp_path).run.name, 600)
    trial = finished_run(tmp_path, "cpu-small-trial", 0)
    assert demo == DemoLayout(tmp_path).checkpoint
    assert Settings(tmp_path, session={}).active_checkpoint() == demo
    Settings(tmp_path, session={}).write_active(checkpoint=trial)  # chosen: it is the trial
    assert Settings(tmp_path, session={}).active_checkpoint() == trial


def test_on_a_hospital_root_with_the_demo_built_too_pages_open_on_its_own_dataset_and_run(
    tmp_path: Path,
) -> None:
    """The demo built on a hospital's root (Home's Build the demo) made every newly opened page
    score the hospital's studies with the model trained on synthetic ones, or open on the demo's
    dataset, though the root's own run was there."""
    demo = DemoLayout(tmp_path)
    make_tiny_dataset(demo.dataset("internal"), n=2)
    own = make_tiny_dataset(tmp_path / "ds" / "cardiology", n=2, seed=1)
    hospital = finished_run(tmp_path, "cardiology-gpu-base", 600)
    finished_run(tmp_path, demo.run.name, 0)  # the demo's, newer
    settings = Settings(tmp_path, session={})
    assert settings.active_dataset() == own
    assert settings.active_checkpoint() == hospital
    settings.write_active(dataset=demo.dataset("internal"))  # the demo's dataset, chosen
    assert Settings(tmp_path, session={}).active_checkpoint() == demo.checkpoint


def test_a_hospital_root_without_a_run_of_its_own_opens_on_the_demo_checkpoint(
    tmp_path: Path,
) -> None:
    """No run of the root's own yet: the demo's checkpoint is still better than none."""
    demo = DemoLayout(tmp_path)
    make_tiny_dataset(demo.dataset("internal"), n=2)
    make_tiny_dataset(tmp_path / "ds" / "cardiology", n=2, seed=1)
    finished_run(tmp_path, demo.run.name, 0)
    assert Settings(tmp_path, session={}).active_checkpoint() == demo.checkpoint


def test_a_run_still_training_is_no_page_default_until_it_finishes(tmp_path: Path) -> None:
    """During the demo build's training its best.pt (epoch 1's, R@1 0.01) became every page's
    checkpoint: Embeddings, Zero-shot and the Case browser offered to embed the studies with it,
    a job that competed with the training for the CPU and whose vectors the next better epoch
    made stale. A chosen checkpoint still counts, running or not."""
    demo = DemoLayout(tmp_path)
    make_tiny_dataset(demo.dataset("internal"), n=2)
    best = finished_run(tmp_path, demo.run.name, 0)
    RunFolder(demo.run).update_status(state="running")  # its writer: this process
    assert Settings(tmp_path, session={}).active_checkpoint() is None
    Settings(tmp_path, session={}).write_active(checkpoint=best)
    assert Settings(tmp_path, session={}).active_checkpoint() == best
    (tmp_path / "active.json").unlink()
    RunFolder(demo.run).update_status(state="finished")
    assert Settings(tmp_path, session={}).active_checkpoint() == best
