"""The demo build continues after an interruption at any step, redoing only what is unfinished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model import demo
from model.demo import DemoLayout, DemoOptions, build_demo
from model.errors import UserError
from model.file_lock import FileLock
from sample_data.generate import generate

SMALL = {"internal": 2, "external": 1, "workers": 1, "epochs": 1}


def _record_commands(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """Replace each step's command by a recorder; training 'stops' so the build ends there."""
    ran: list[tuple[str, list[str]]] = []

    def recorded(module: str, argv: list[str]) -> int:
        ran.append((module, argv))
        return 0

    monkeypatch.setattr(demo, "run_command", recorded)
    return ran


def _fake_sites(layout: DemoLayout, ingested: tuple[str, ...]) -> None:
    """Both sites generated (empty reports and labels) and ``ingested`` ones ingested."""
    for site in ("internal", "external"):
        layout.raw(site).mkdir(parents=True)
        (layout.raw(site) / "reports.csv").write_text("accession_number,report\n")
        (layout.raw(site) / "labels.csv").write_text("accession_number\n")
    for site in ingested:
        layout.dataset(site).mkdir(parents=True)
        (layout.dataset(site) / "studies.parquet").write_bytes(b"")


def _outputs(ran: list[tuple[str, list[str]]], module: str, flag: str) -> list[str]:
    return [argv[argv.index(flag) + 1] for name, argv in ran if name == module]


def test_a_site_generated_before_an_interruption_is_not_generated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while the external site was generated: the rerun must not redo (and so refuse)
    the internal one, whose folder the generator rejects as 'already exists'."""
    layout = DemoLayout(tmp_path)
    generate(layout.raw("internal"), SMALL["internal"], "internal", seed=0)
    ran = _record_commands(monkeypatch)
    with pytest.raises(UserError, match="run the demo again"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert _outputs(ran, "sample_data.generate", "--out") == [str(layout.raw("external"))]


def test_a_site_ingested_before_an_interruption_is_not_ingested_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("internal",))
    ran = _record_commands(monkeypatch)
    with pytest.raises(UserError, match="run the demo again"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert _outputs(ran, "model.data.ingest_cli", "--out") == [str(layout.dataset("external"))]


def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path: Path) -> None:
    """A run folder with no last.pt (killed in its first epoch) cannot be resumed: train fresh."""
    layout = DemoLayout(tmp_path)
    layout.run.mkdir(parents=True)
    (layout.run / "config.json").write_text("{}")
    (layout.run / "status.json").write_text(json.dumps({"state": "running"}))
    assert "--resume" not in demo._train_argv(DemoOptions(root=tmp_path), layout)
    (layout.run / "last.pt").write_bytes(b"checkpoint")
    assert demo._train_argv(DemoOptions(root=tmp_path), layout)[-1] == "--resume"


def test_a_demo_whose_training_was_stopped_stops_before_indexing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("internal", "external"))
    ran: list[str] = []

    def stopped_by_ctrl_c(module: str, argv: list[str]) -> int:
        ran.append(module)
        if module == "model.training.train":  # SIGINT: the run stops after its step, exit 0
            layout.run.mkdir(parents=True)
            layout.checkpoint.write_bytes(b"checkpoint")
            (layout.run / "status.json").write_text(json.dumps({"state": "stopped"}))
        return 0

    monkeypatch.setattr(demo, "run_command", stopped_by_ctrl_c)
    with pytest.raises(UserError, match="run the demo again"):
        build_demo(DemoOptions(root=tmp_path, workers=1))
    assert ran == ["model.training.train"]
    assert not layout.is_built()


def test_a_second_demo_build_under_the_same_root_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's build and `python -m model demo` in a terminal would write the same
    folders: the second one says who is building and writes nothing."""
    ran = _record_commands(monkeypatch)
    layout = DemoLayout(tmp_path)
    held = FileLock(layout.build_lock, lambda holder: holder)
    with held, pytest.raises(UserError, match=r"another demo build \(pid \d+"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert ran == []
    assert not layout.raw("internal").exists()
