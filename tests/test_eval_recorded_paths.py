"""summary.json names its inputs without a user's folders (it is shared with collaborators),
and every reader of it reads both that form and the full paths an older summary holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.evaluation_view import read_models
from model.evaluation.methods import methods_lines
from model.evaluation.recorded_paths import (
    PathRecorder,
    portable,
    portable_command,
    recorded_path,
)


def test_a_path_under_the_data_root_is_kept_relative_to_it(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "runs" / "a").mkdir(parents=True)
    assert portable(root / "runs" / "a" / "best.pt", root) == ("runs/a/best.pt", False)
    assert portable(root / "runs" / ".." / "x.csv", root) == ("x.csv", False)
    assert portable(root, root) == (".", False)
    link = tmp_path / "link"
    link.symlink_to(root)  # the data root reached through a link
    assert portable(link / "runs" / "a", root) == ("runs/a", False)


def test_a_path_outside_it_keeps_its_folder_and_name_without_a_home_folder(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data"
    assert portable("/home/alice/cmr/runs/a/best.pt", root) == ("a/best.pt", True)
    assert portable("/home/alice/labels.csv", root) == ("labels.csv", True)
    recorder = PathRecorder(root)
    assert recorder.record_all(["/home/alice/l.csv", root / "l.csv", "/srv/x/l.csv"]) == [
        "l.csv",
        "l.csv",
        "x/l.csv",
    ]
    assert recorder.marker() == {"relative_to": "data root", "outside": ["l.csv", "x/l.csv"]}


def test_the_command_line_names_no_user_s_folder(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "ds").mkdir(parents=True)
    argv = ["evaluate", "--checkpoint", str(root / "runs/a/best.pt"), "--episodes", "2"]
    argv += ["--out=/home/alice/out", "--general-clip", "ViT-B-32:/home/alice/w/b.pt"]
    argv += ["--data", "data/ds", "--prompts", "no/such/file"]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)  # data/ds: relative to where the command ran, a folder there
        command = portable_command(argv, root)
    assert command == (
        "evaluate",
        "--checkpoint",
        "runs/a/best.pt",
        "--episodes",
        "2",
        "--out=out",
        "--general-clip",
        "ViT-B-32:w/b.pt",
        "--data",
        "ds",
        "--prompts",
        "no/such/file",  # no file: not taken for a path
    )


NEW = {"checkpoint": "runs/a/best.pt", "compare": ["x/last.pt"], "data": "demo/internal"}
NEW |= {"paths": {"relative_to": "data root", "outside": ["x/last.pt"]}}
OLD = {"checkpoint": "/home/alice/data/runs/a/best.pt", "compare": ["/srv/x/last.pt"]}


def test_a_recorded_path_is_found_under_the_reader_s_data_root(tmp_path: Path) -> None:
    assert recorded_path(NEW, NEW["checkpoint"], tmp_path) == tmp_path / "runs/a/best.pt"
    assert recorded_path(NEW, "x/last.pt", tmp_path) is None  # outside the writer's root
    assert recorded_path(NEW, "/etc/passwd", tmp_path) is None  # a new summary has none
    assert recorded_path(NEW, None, tmp_path) is None
    assert recorded_path(OLD, OLD["checkpoint"], tmp_path) == Path(OLD["checkpoint"])
    assert recorded_path({}, "runs/a/best.pt", tmp_path) == Path("runs/a/best.pt")  # as given


@pytest.mark.parametrize("config", [NEW, OLD])
def test_the_picker_and_the_methods_read_both_forms(tmp_path: Path, config: dict) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"config": config}))
    assert read_models(tmp_path) == ["a/best.pt", "x/last.pt"]
    methods = methods_lines({**config, "labels": [], "suite": {}})
    assert methods[0] == "Model: a/best.pt; baselines in the same tables: x/last.pt."
