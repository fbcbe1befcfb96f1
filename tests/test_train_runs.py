"""The Train page's runs: a run started outside the page resumes with its own preset, and the
run shown (and acted on) stays the one the user picked while the table refreshes."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.run_selection import shown_run
from dashboard.run_state import RUN_SILENCE_S
from dashboard.runs import (
    delete_run,
    log_tail,
    read_status,
    resume_command,
    run_state,
    runs_table,
    selection_caption,
    throughput_line,
)
from dashboard.settings import Settings
from model.errors import UserError
from model.file_lock import FileLock
from model.training.run_folder import LOCK_FILE, RunFolder
from tests.tiny_dataset import make_tiny_checkpoint, make_tiny_dataset

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _resume_in_process(command: list[str]) -> str:
    """Run ``model train ...`` of ``command`` here (no subprocess); the run's end state."""
    from model.training.train import add_arguments, options_from_args, train

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(command[command.index("train") + 1 :])
    return train(options_from_args(args)).state


def test_a_run_trained_from_the_command_line_with_its_own_preset_resumes(tmp_path: Path) -> None:
    # `model train --preset my.json` keeps no preset.json in the run folder; the default preset
    # (cpu-small) would refuse the run: "the preset's model differs from the run's"
    dataset = make_tiny_dataset(tmp_path / "ds", n=24)
    run = make_tiny_checkpoint(dataset, tmp_path / "runs" / "from-cli").parent
    assert not (run / "preset.json").exists()
    command = resume_command(run, dataset, gpus=0)
    assert "--preset" not in command  # train --resume reads the run's own from config.json
    assert _resume_in_process(command) == "finished"
    assert json.loads((run / "status.json").read_text())["state"] == "finished"


def _finished_run(root: Path, name: str, set_up: float) -> Path:
    """A finished run folder set up at ``set_up`` (its config.json and folder times)."""
    run = root / "runs" / name
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    (run / "config.json").write_text("{}")
    for path in (run / "status.json", run / "config.json", run):
        os.utime(path, (set_up, set_up))
    return run


def _shown(at: AppTest) -> str:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at.subheader[-1].value.split(" — ")[0]


def test_the_run_picked_stays_shown_while_runs_train_and_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    older = _finished_run(root, "older", 1000.0)
    _finished_run(root, "newer", 2000.0)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    assert _shown(at) == "newer"  # nothing picked: the newest run
    table = at.dataframe[0]
    pick = list(table.value["run"]).index("runs/older")
    at.session_state[table.key] = {"selection": {"rows": [pick], "columns": []}}
    assert _shown(at) == "older"
    os.utime(older, (3000.0, 3000.0))  # it writes its status: its folder changed last
    assert _shown(at) == "older"  # the Stop / Resume / Delete below still act on it
    _finished_run(root, "latest", 4000.0)  # a run launched meanwhile takes the first row
    assert _shown(at) == "older"
    assert list(at.dataframe[0].value["run"]) == ["runs/latest", "runs/newer", "runs/older"]


def test_the_run_shown_falls_back_to_the_first_when_it_is_gone() -> None:
    paths = ["/r/b", "/r/a"]
    assert shown_run(paths, [], "/r/deleted") == "/r/b"
    assert shown_run(paths, [1], "/r/b") == "/r/a"
    assert shown_run(paths, [], "/r/a") == "/r/a"


def test_the_runs_table_names_the_score_best_pt_was_kept_for(tmp_path: Path) -> None:
    run = _finished_run(tmp_path, "labelled", 1000.0)
    epochs = [  # the zero-shot AUC (labels) peaks at another epoch than the label-free score
        {"kind": "val", "epoch": 0, "selection_score": 0.40, "val_auc": 0.91, "val_r@1": 0.2},
        {"kind": "val", "epoch": 1, "selection_score": 0.55, "val_auc": 0.70, "val_r@1": 0.3},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in epochs))
    [best] = runs_table([run], tmp_path)["best"]
    assert best == "R@1/5/10 0.550"


def test_a_runs_metrics_are_parsed_again_only_when_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Train page lists every run's metrics every 5 s: an unchanged metrics.jsonl is not
    parsed again, and a line the training appends is seen on the next refresh."""
    run = _finished_run(tmp_path, "refreshed", 1000.0)
    epoch = {"kind": "val", "epoch": 0, "selection_score": 0.40, "val_r@1": 0.2}
    metrics = run / "metrics.jsonl"
    metrics.write_text(json.dumps(epoch) + "\n")
    parsed: list[Path] = []
    parse = RunFolder.read_metrics
    monkeypatch.setattr(
        RunFolder, "read_metrics", lambda folder: parsed.append(folder.root) or parse(folder)
    )
    for _ in range(3):
        [best] = runs_table([run], tmp_path)["best"]
        assert best == "R@1/5/10 0.400"
    assert len(parsed) == 1
    with metrics.open("a") as log:
        log.write(json.dumps({**epoch, "epoch": 1, "selection_score": 0.55}) + "\n")
    [best] = runs_table([run], tmp_path)["best"]
    assert best == "R@1/5/10 0.550" and len(parsed) == 2


def test_a_long_runs_log_is_shown_from_its_end_without_reading_it_whole(tmp_path: Path) -> None:
    """The Train page shows a run's train.log tail every 5 s: a long run's log (here 19 MB) is
    not read into memory whole for its last 40 lines."""
    run = _finished_run(tmp_path, "long", 1000.0)
    line = "12:00:00 INFO model.training step {} loss 0.1234 lr 0.0003 studies/s 95.1\n"
    with (run / "train.log").open("w", encoding="utf-8") as log:
        log.writelines(line.format(step) for step in range(250_000))
    assert (run / "train.log").stat().st_size > 15_000_000
    tracemalloc.start()
    try:
        shown = log_tail(run)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert shown.splitlines() == [line.format(step).strip() for step in range(249_960, 250_000)]
    assert peak < 1_000_000


def test_the_run_panel_says_how_its_best_pt_was_chosen(tmp_path: Path) -> None:
    """A small export's run with no val study: best.pt is its last epoch, and the panel says so
    instead of claiming selection by val retrieval."""
    run = _finished_run(tmp_path, "small", 1000.0)
    (run / "config.json").write_text(json.dumps({"n_val": 0}))
    assert "last epoch" in selection_caption(run) and "R@1" not in selection_caption(run)
    (run / "config.json").write_text(json.dumps({"n_val": 12}))
    assert "highest mean val R@1/5/10" in selection_caption(run)
    assert "alone chose it" not in selection_caption(run)
    (run / "config.json").write_text(json.dumps({"n_val": 7}))  # R@10 is 1 at every epoch
    assert "With 7 val studies R@10 is 1 at every epoch, so R@1/5 alone" in selection_caption(run)
    (run / "config.json").write_text(json.dumps({"n_val": 4}))
    assert "R@5/10 are 1 at every epoch, so R@1 alone chose it" in selection_caption(run)
    (run / "config.json").write_text(json.dumps({"n_val": 1}))
    assert "best.pt is the last epoch: with 1 val study" in selection_caption(run)


def test_the_run_panel_states_its_training_speed() -> None:
    """The wall-clock rate (each batch's loading included) comes first; a run logged before it
    was recorded still shows its compute rate; a run with no train record shows nothing."""
    metrics = pd.DataFrame(
        [
            {"kind": "train", "step": 1, "studies_per_s": 40.0, "wall_studies_per_s": 10.0},
            {"kind": "train", "step": 2, "studies_per_s": 50.0, "wall_studies_per_s": 30.0},
            {"kind": "val", "step": 2, "val_r@1": 0.1},
            {"kind": "train", "step": 3, "studies_per_s": 60.0, "wall_studies_per_s": 20.0},
        ]
    )
    assert throughput_line(metrics) == (
        "Training speed over the last 3 logged steps: 20.0 studies/s with loading, "
        "50.0 studies/s for the step's compute alone."
    )
    older = metrics.drop(columns="wall_studies_per_s")
    assert throughput_line(older).endswith(": 50.0 studies/s for the step's compute alone.")
    first = throughput_line(metrics[metrics["kind"] == "train"].head(1))
    assert first.startswith("Training speed over the first logged step: ")  # not "last 1 …steps"
    assert throughput_line(metrics[metrics["kind"] == "val"].drop(columns="studies_per_s")) == ""


def test_a_running_status_is_believed_only_from_the_process_that_wrote_it(
    tmp_path: Path,
) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.root.mkdir()
    written = folder.update_status(state="running")
    assert written["host"] == socket.gethostname() and written["pid"] == os.getpid()
    assert run_state(read_status(folder.root)) == "running"  # its writer: this process
    # the folder copied here, or left from before a restart: its pid is now an unrelated process
    # that started long after the run's writer did, though before the status's last write
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        copied = {**written, "pid": other.pid}  # the writer's start tick, another process's pid
        copied["updated"] = time.time() + 60
        assert run_state(copied) == "crashed"
        elsewhere = {**written, "host": "gpu-node-7"}  # its pid means nothing here
        assert run_state(elsewhere) == "running on gpu-node-7"
    finally:
        other.kill()
        other.wait()


def test_a_run_whose_folder_a_training_process_holds_is_not_deleted(tmp_path: Path) -> None:
    run = _finished_run(tmp_path, "elsewhere", 1000.0)  # its status says it ended
    trainer = FileLock(run / LOCK_FILE, lambda holder: holder)  # resumed, on another host
    with trainer, pytest.raises(UserError, match="is writing it"):
        delete_run(run, running=False)
    assert (run / "status.json").exists()
    delete_run(run, running=False)
    assert not run.exists()


def test_a_click_on_a_run_someone_deleted_acts_on_no_other_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    _finished_run(root, "older", 1000.0)
    newer = _finished_run(root, "newer", 2000.0)
    for run in (root / "runs" / "older", newer):
        (run / "best.pt").write_bytes(b"")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    assert _shown(at) == "newer"
    set_active = next(b for b in at.button if b.label == "Set active checkpoint")
    shutil.rmtree(newer)  # another user deletes it before this page's next refresh
    set_active.click()
    assert _shown(at) == "older"
    assert "checkpoint" not in Settings(root).read_active()  # not the run shown instead
    assert any("newer no longer exists" in w.value for w in at.warning)


def _run_on(root: Path, host: str, heard_s_ago: float) -> Path:
    """A run folder whose status says another host trains it, last rewritten ``heard_s_ago``."""
    run = _finished_run(root, "remote", 1000.0)
    (run / "last.pt").write_bytes(b"")
    status = {"state": "running", "host": host, "pid": 999_999_999, "proc_start": "1"}
    heard = time.time() - heard_s_ago
    (run / "status.json").write_text(
        json.dumps(status | {"epoch": 3, "epochs": 8, "updated": heard})
    )
    os.utime(run / "status.json", (heard, heard))
    return run


def test_a_run_on_another_machine_counts_as_running_until_it_falls_silent(
    tmp_path: Path,
) -> None:
    run = _run_on(tmp_path, "gpu-node-7", heard_s_ago=60)
    assert run_state(read_status(run)) == "running on gpu-node-7"
    with pytest.raises(UserError, match="still running"):
        delete_run(run, running=False)
    # that machine went down with it: nothing rewrites its status any more
    silent = _run_on(tmp_path / "later", "gpu-node-7", heard_s_ago=RUN_SILENCE_S + 60)
    heard = time.strftime("%H:%M", time.localtime(time.time() - RUN_SILENCE_S - 60))
    state = run_state(read_status(silent))
    assert state.startswith("lost on gpu-node-7") and heard in state
    delete_run(silent, running=False)
    assert not silent.exists() and run.exists()


def test_the_train_page_offers_no_resume_or_delete_of_a_run_another_machine_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    run = _run_on(root, "gpu-node-7", heard_s_ago=60)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert at.subheader[-1].value == "remote — running on gpu-node-7"
    assert at.button(key=f"resume-{run}").disabled  # a second writer of its folder


@pytest.mark.parametrize(
    ("reader_ahead_s", "writer_behind_s"),
    [(2 * RUN_SILENCE_S, 0.0), (0.0, 2 * RUN_SILENCE_S)],
    ids=["this-clock-ahead", "its-clock-behind"],
)
def test_a_run_another_machine_trains_is_not_lost_because_the_clocks_disagree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader_ahead_s: float, writer_behind_s: float
) -> None:
    """Its status was just rewritten there (the file server stamps it now), but that machine's
    clock, or this one's, is two hours off: it still reads running there and is not deleted."""
    run = _run_on(tmp_path, "gpu-node-7", heard_s_ago=writer_behind_s)  # "updated" by its clock
    os.utime(run / "status.json")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + reader_ahead_s)
    assert runs_table([run], tmp_path)["state"].tolist() == ["running on gpu-node-7"]
    with pytest.raises(UserError, match="still running"):
        delete_run(run, running=False)
    assert (run / "last.pt").exists()


def test_judging_this_machines_own_run_writes_no_clock_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only another host's run needs the file server's clock; a local run's own ``updated``
    time is on this clock, so its folder gets no probe file written into it."""
    from dashboard import run_state

    run = tmp_path / "run"
    run.mkdir()
    ended = time.time() - 2 * run_state.RUN_ENDED_S
    status = {"state": "finished", "pid": os.getpid(), "host": socket.gethostname()}
    (run / "status.json").write_text(json.dumps({**status, "updated": ended}))

    def probe(*args: object) -> float:
        raise AssertionError("a clock probe for a local run")

    monkeypatch.setattr(run_state, "silent_s", probe)
    assert run_state.run_ended_since(run, ended - 1) == "finished"


def test_a_checkpoint_copied_without_its_run_folder_is_listed_and_can_be_made_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A best.pt trained on another machine and copied alone into the runs folder (no status,
    config, metrics or log) is a run the Train page lists and the sidebar can choose; it says
    what it is instead of 'unknown, epoch 0/?', and offers no resume (nothing to resume from)."""
    root = tmp_path / "data"
    dataset = make_tiny_dataset(root / "ds" / "tiny", n=8)
    trained = make_tiny_checkpoint(dataset, tmp_path / "elsewhere" / "run")
    copied = root / "runs" / "colleague" / "best.pt"
    copied.parent.mkdir(parents=True)
    shutil.copyfile(trained, copied)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    assert Settings.from_env().checkpoints() == [copied]
    [row] = runs_table(Settings.from_env().runs(), root).to_dict("records")
    assert (row["run"], row["state"], row["epoch"]) == ("runs/colleague", "checkpoint only", "")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[-1].value == "colleague — checkpoint only"
    assert at.button(key=f"resume-{copied.parent}").disabled
    assert not at.button(key=f"set-active-{copied.parent}").disabled


def test_a_checkpoint_dropped_beside_runs_or_datasets_does_not_make_their_folder_a_run(
    tmp_path: Path,
) -> None:
    """A best.pt copied straight into data/runs/, the data root or a dataset folder (not into a
    run folder of its own) does not list that folder as a 'checkpoint only' run: its Delete run
    would remove every run, the whole data root or the dataset with it."""
    root = tmp_path / "data"
    dataset = make_tiny_dataset(root / "ds" / "tiny", n=8)
    trained = make_tiny_checkpoint(dataset, tmp_path / "elsewhere" / "run")
    own = root / "runs" / "colleague" / "best.pt"
    for copy in (own, root / "runs" / "best.pt", root / "best.pt", dataset / "last.pt"):
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trained, copy)
    assert Settings(root).runs() == [own.parent]


def test_a_checkpoint_dropped_into_the_dashboards_own_folders_does_not_make_them_runs(
    tmp_path: Path,
) -> None:
    """A best.pt copied into data/evaluations/, data/prompts/, data/fewshot/ or data/imports/
    (not into a folder of its own under data/runs/) made that folder a 'checkpoint only' run,
    whose Delete run removed every evaluation, prompt set, example set or import with it."""
    root = tmp_path / "data"
    dataset = make_tiny_dataset(root / "ds" / "tiny", n=8)
    trained = make_tiny_checkpoint(dataset, tmp_path / "elsewhere" / "run")
    settings = Settings(root)
    own = settings.runs_dir / "colleague" / "best.pt"
    folders = (
        settings.evaluations_dir,
        settings.prompts_dir,
        settings.fewshot_dir,
        settings.imports_dir,
    )
    for folder in folders:
        (folder / "kept.txt").parent.mkdir(parents=True)
        (folder / "kept.txt").write_text("the user's")
    for copy in (own, *(folder / "best.pt" for folder in folders)):
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trained, copy)
    assert settings.runs() == [own.parent]


def test_a_run_folder_copied_without_its_status_keeps_its_curves_and_resume(
    tmp_path: Path,
) -> None:
    """A run folder copied in whole but for status.json (its log, metrics, config and last.pt
    are there) is a run with a record, not 'checkpoint only': its curves and resume stay."""
    root = tmp_path / "data"
    dataset = make_tiny_dataset(root / "ds" / "tiny", n=8)
    run = root / "runs" / "colleague"
    make_tiny_checkpoint(dataset, run)
    (run / "status.json").unlink()
    [row] = runs_table(Settings(root).runs(), root).to_dict("records")
    assert row["run"] == "runs/colleague" and row["state"] != "checkpoint only"
    assert (run / "metrics.jsonl").is_file() and row["epoch"]


def test_a_live_run_whose_time_budget_is_open_counts_its_epochs_as_an_estimate(
    tmp_path: Path,
) -> None:
    """While the budget chose, the table read "3/84": 84 is only the cap, and the demo build's
    run under load trained 7."""
    folder = RunFolder(tmp_path / "runs" / "budgeted")
    folder.root.mkdir(parents=True)
    folder.update_status(state="running", epoch=3, epochs=84, epochs_estimate=16)
    [epoch] = runs_table([folder.root], tmp_path)["epoch"]
    assert epoch == "3/~16"
    folder.update_status(state="stopped", epoch=3, epochs=84, epochs_estimate=16)
    [epoch] = runs_table([folder.root], tmp_path)["epoch"]
    assert epoch == "3/84"  # a stopped run's resume continues the count from the cap
    folder.update_status(state="running", epoch=9, epochs=16, epochs_estimate=None)
    [epoch] = runs_table([folder.root], tmp_path)["epoch"]
    assert epoch == "9/16"


def test_a_failed_job_shows_beside_the_run_state_only_when_the_run_recorded_nothing_since() -> None:
    from types import SimpleNamespace

    from dashboard.run_state import state_with_job

    failed = SimpleNamespace(state="failed", info={"started": 100.0})
    assert state_with_job("stopped", {"updated": 50.0}, failed) == "stopped (last job failed)"
    assert state_with_job("stopped", {}, failed) == "stopped (last job failed)"
    # the run wrote its own ending during that job: its status already tells it
    assert state_with_job("failed", {"updated": 150.0}, failed) == "failed"
    assert state_with_job("running", {"updated": 50.0}, failed) == "running"
    assert state_with_job("stopped", {"updated": 50.0}, None) == "stopped"
    finished = SimpleNamespace(state="finished", info={"started": 100.0})
    assert state_with_job("stopped", {"updated": 50.0}, finished) == "stopped"


def test_the_run_panel_says_which_studies_its_zero_shot_auc_is_over(tmp_path: Path) -> None:
    """The curve's AUC (0.736 on the demo) is the mean over the shipped prompt set's findings on
    the val studies; the Zero-shot page opens on every split (0.81 for one finding) and the
    Evaluate page on the test split (0.746), and nothing said why the three differ."""
    run = _finished_run(tmp_path, "demo", 1000.0)
    (run / "config.json").write_text(json.dumps({"n_val": 145}))
    caption = selection_caption(run)
    assert "mean over the shipped prompt set's findings on the 145 val studies" in caption
    assert "the Zero-shot page's val split gives each finding's" in caption
