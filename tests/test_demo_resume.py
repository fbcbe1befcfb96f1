"""The demo build continues after an interruption at any step, redoing only what is unfinished."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from model import demo
from model.cli import main
from model.demo import DemoLayout, DemoOptions, build_demo
from model.errors import UserError
from model.file_lock import FileLock
from model.progress import stage_prefixes
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
    """Both sites generated (empty reports and labels, three DICOM files) and ``ingested`` ones
    ingested (a salt, a studies table and two tensors), each recorded as its command finished."""
    for site in ("internal", "external"):
        (layout.raw(site) / "dicom").mkdir(parents=True)
        (layout.raw(site) / "reports.csv").write_text("accession_number,report\n")
        (layout.raw(site) / "labels.csv").write_text("accession_number\n")
        for number in range(3):
            (layout.raw(site) / "dicom" / f"IM{number}.dcm").write_bytes(b"D" * 1000)
        layout.raw_output(site).finish()
    for site in ingested:
        (layout.dataset(site) / "tensors").mkdir(parents=True)
        (layout.dataset(site) / "salt.key").write_text("5" * 64 + "\n")
        (layout.dataset(site) / "studies.parquet").write_bytes(b"")
        for study in ("a", "b"):
            (layout.dataset(site) / "tensors" / f"{study}.npy").write_bytes(b"T" * 4096)
        layout.dataset_output(site).finish()


def _outputs(ran: list[tuple[str, list[str]]], module: str, flag: str) -> list[str]:
    return [argv[argv.index(flag) + 1] for name, argv in ran if name == module]


def test_a_site_generated_before_an_interruption_is_not_generated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while the external site was generated: the rerun must not redo (and so refuse)
    the internal one, whose folder the generator rejects as 'already exists'."""
    layout = DemoLayout(tmp_path)

    def internal_then_stopped(module: str, argv: list[str]) -> int:
        if argv[argv.index("--site") + 1] != "internal":
            return 1
        generate(layout.raw("internal"), SMALL["internal"], "internal", seed=0)
        return 0

    monkeypatch.setattr(demo, "run_command", internal_then_stopped)
    with pytest.raises(UserError, match="demo step generate failed"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    ran = _record_commands(monkeypatch)
    with pytest.raises(UserError, match="run the demo again"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert _outputs(ran, "sample_data.generate", "--out") == [str(layout.raw("external"))]
    assert (layout.raw("internal") / "labels.csv").is_file()


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
    # stopped, not failed: a demo job ended by systemctl stop read "failed (exit code 2)"
    assert main(["demo", "--root", str(tmp_path), "--workers", "1"]) == 130
    assert ran == ["model.training.train"]
    assert not layout.is_built()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:10])


def _damage_raw(layout: DemoLayout) -> None:
    (layout.raw("internal") / "dicom" / "IM1.dcm").unlink()  # a half-deleted folder


def _damage_tensor(layout: DemoLayout) -> None:
    _truncate(layout.dataset("internal") / "tensors" / "b.npy")  # a killed copy


def _unrecorded_dataset(layout: DemoLayout) -> None:
    (layout.root / "demo" / "records" / "ingest-internal.json").unlink()  # killed mid-ingest


@pytest.mark.parametrize(
    ("damage", "module", "why"),
    [
        (_damage_raw, "sample_data.generate", "holds 4 files"),
        (_damage_tensor, "model.data.ingest_cli", "where the finished stage left 4 files"),
        (_unrecorded_dataset, "model.data.ingest_cli", "no record of having finished"),
    ],
)
def test_a_damaged_site_output_is_cleared_and_made_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[DemoLayout], None],
    module: str,
    why: str,
) -> None:
    """A site's output that no longer matches what its finished command left is not reused."""
    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("internal", "external"))
    salt = (layout.dataset("internal") / "salt.key").read_text()
    damage(layout)
    found: dict[str, list[str]] = {}

    def recorded(name: str, argv: list[str]) -> int:
        folder = Path(argv[argv.index("--out") + 1])
        found[name] = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        return 0

    monkeypatch.setattr(demo, "run_command", recorded)
    with caplog.at_level("WARNING"), pytest.raises(UserError, match="run the demo again"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert module in found and len(found) == 2  # the damaged site's stage, then training
    kept = ["salt.key"] if module == "model.data.ingest_cli" else []
    assert found[module] == kept  # cleared before the command ran
    assert why in caplog.text and "redoing it" in caplog.text
    if kept:  # the dataset keeps its study ids, those of the trained run
        assert (layout.dataset("internal") / "salt.key").read_text() == salt


def test_a_dataset_whose_salt_is_damaged_is_cleared_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("internal", "external"))
    _truncate(layout.dataset("internal") / "salt.key")
    ran = _record_commands(monkeypatch)
    with pytest.raises(UserError, match="run the demo again"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert _outputs(ran, "model.data.ingest_cli", "--out") == [str(layout.dataset("internal"))]
    assert not any(layout.dataset("internal").iterdir())


def test_the_embedding_cache_added_later_does_not_count_as_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("internal", "external"))
    (layout.dataset("internal") / "embeddings").mkdir()
    (layout.dataset("internal") / "embeddings" / "cache.npz").write_bytes(b"E" * 100)
    ran = _record_commands(monkeypatch)
    with pytest.raises(UserError, match="run the demo again"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert [name for name, _ in ran] == ["model.training.train"]


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


def test_a_finished_demo_leaves_the_map_of_both_sites_after_indexing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The first Embeddings visit after ``./run.sh`` reads a map the build made (no UMAP fit in
    the dashboard); the build says it is at that step."""
    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("internal", "external"))
    layout.run.mkdir(parents=True)
    layout.checkpoint.write_bytes(b"checkpoint")
    (layout.run / "status.json").write_text(json.dumps({"state": "finished"}))
    ran = _record_commands(monkeypatch)
    with caplog.at_level(logging.INFO, logger="model.demo"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert [name for name, _ in ran] == ["model.index.cli_index", "model.projection_store"]
    datasets = [str(layout.dataset(site)) for site in ("internal", "external")]
    assert ran[-1][1] == [
        "--checkpoint",
        str(layout.checkpoint),
        "--data",
        datasets[0],
        "--data",
        datasets[1],
    ]
    assert "demo step 5/5 map" in caplog.text and layout.is_built()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epochs": 0}, "--epochs must be > 0, got 0"),
        ({"preset": "cpu-smal"}, "unknown preset 'cpu-smal'"),
    ],
)
def test_a_preset_or_epochs_the_train_step_refuses_stops_the_build_before_its_first_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict, message: str
) -> None:
    """They were refused at step 3, after the sites were generated and ingested (minutes)."""
    ran = _record_commands(monkeypatch)
    with pytest.raises(UserError, match=message):
        build_demo(DemoOptions(root=tmp_path, **{**SMALL, **options}))
    assert ran == []
    assert not list(tmp_path.iterdir())


def test_a_steps_progress_names_the_site_each_of_its_parts_is_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Home read "2/5 ingest · ingest: read headers — 15616/104000 · ETA of this step 58s":
    the internal site's headers, with its studies and the whole external site still to come."""
    _fake_sites(DemoLayout(tmp_path), ingested=())
    stages: list[tuple[str, ...]] = []

    def recorded(module: str, argv: list[str]) -> int:
        stages.append(stage_prefixes())
        return 0

    monkeypatch.setattr(demo, "run_command", recorded)
    with pytest.raises(UserError, match="run the demo again"):
        build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert stages == [
        ("2/5 ingest", "internal site"),
        ("2/5 ingest", "external site"),
        ("3/5 train",),
    ]


def test_the_root_defaults_to_the_dashboards_data_root(monkeypatch, tmp_path: Path) -> None:
    """``demo`` without --root builds where ``CMR_DATA_ROOT`` points, as ./run.sh and every page
    read it (it built in ./data, which the dashboard then did not show); unset or empty: ./data."""
    import argparse

    from dashboard.settings import Settings
    from model.schema import DATA_ROOT_ENV

    def root() -> Path:
        parser = argparse.ArgumentParser()
        demo.add_arguments(parser)
        return parser.parse_args([]).root

    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "shared"))
    assert root() == tmp_path / "shared" == Settings.from_env().data_root
    monkeypatch.setenv(DATA_ROOT_ENV, "")
    assert root() == Path("data")
    monkeypatch.delenv(DATA_ROOT_ENV)
    assert root() == Path("data")
