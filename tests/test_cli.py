"""Every ``python -m model`` command builds its parser, and the demo's defaults are usable."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.cli import COMMANDS, build_parser
from model.demo import DemoLayout, DemoOptions, _train_argv
from model.workers import usable_cpus


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_each_command_prints_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser, chosen = build_parser([command, "--help"])
    assert chosen is not None and chosen.name == command
    with pytest.raises(SystemExit) as stop:
        parser.parse_args([command, "--help"])
    assert stop.value.code == 0
    assert f"usage: python -m model {command}" in capsys.readouterr().out


def test_demo_uses_every_usable_cpu_by_default(tmp_path: Path) -> None:
    parser, _ = build_parser(["demo"])
    args = parser.parse_args(["demo", "--root", str(tmp_path)])
    assert args.workers == usable_cpus() >= 1
    assert DemoOptions(root=tmp_path).workers == usable_cpus()


def test_the_demo_run_logs_val_auc_with_the_generated_labels(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path)
    argv = _train_argv(DemoOptions(root=tmp_path), layout)
    labels = argv[argv.index("--val-labels") + 1]
    assert labels == str(tmp_path / "demo" / "raw" / "internal" / "labels.csv")
    assert "--resume" not in argv
    layout.run.mkdir(parents=True)
    assert _train_argv(DemoOptions(root=tmp_path), layout)[-1] == "--resume"
