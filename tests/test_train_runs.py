"""The Train page's runs: a run started outside the page resumes with its own preset, and the
run shown (and acted on) stays the one the user picked while the table refreshes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dashboard.runs import resume_command
from tests.tiny_dataset import make_tiny_checkpoint, make_tiny_dataset


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
    preset = json.loads(Path(command[command.index("--preset") + 1]).read_text())
    assert preset == json.loads((run / "config.json").read_text())["preset"]
    assert _resume_in_process(command) == "finished"
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
