"""Untrusted files run no code and reach nothing outside the data root.

Foreign pickles (plain, inside a torch checkpoint, a whole pickled module) are refused with a
CheckpointError and the payload never runs; YAML tags that construct Python objects are refused
in prompt sets and view maps; typed dashboard paths and the files ingest reads stay inside their
roots, symbolic links included. (Zip import: tests/test_zip_import_safety.py.)
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from dicom_factory import StudySpec, write_study

from dashboard.settings import Settings
from model.data.scan import walk_files
from model.data.views import ViewMap
from model.errors import CheckpointError, DataError, UserError
from model.prompts import PromptSet
from model.training.checkpoint import load_checkpoint, read_checkpoint_meta


class Payload:
    """Unpickling this would create ``marker``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _foreign_files(folder: Path, marker: Path) -> list[Path]:
    plain = folder / "plain.pt"
    plain.write_bytes(pickle.dumps({"state_dict": Payload(marker)}))
    wrapped = folder / "wrapped.pt"
    torch.save({"format": "cmr-clip-checkpoint", "config": Payload(marker)}, wrapped)
    module = folder / "module.pt"
    torch.save(torch.nn.Linear(2, 2), module)  # a whole pickled model, not a state dict
    return [plain, wrapped, module]


def test_foreign_pickles_are_refused_and_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    for path in _foreign_files(tmp_path, marker):  # plain pickle, object inside, whole module
        with pytest.raises(CheckpointError, match="refused by the safe loader") as caught:
            load_checkpoint(path)
        assert path.name in str(caught.value) and "\x1b[" not in str(caught.value)
        with pytest.raises(CheckpointError):
            read_checkpoint_meta(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:builtins.open ['{marker}', 'w']",
        "!!python/object/new:builtins.open ['{marker}', 'w']",
        "!!python/name:os.system",
        "!!python/object:argparse.Namespace {{a: 1}}",
    ],
)
def test_yaml_python_tags_are_refused(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "code-ran"
    value = tag.format(marker=marker)
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text(f"findings:\n  lge: {value}\n")
    with pytest.raises(DataError, match="not valid YAML"):
        PromptSet.load(prompts)
    view_map = tmp_path / "views.yaml"
    view_map.write_text(f"CINE_SAX: {value}\n")
    with pytest.raises(DataError, match="cannot be read"):
        ViewMap.load(view_map)
    assert not marker.exists()


def test_symlinks_out_of_the_data_root_are_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "raw").mkdir(parents=True)
    (outside / "dicom").mkdir(parents=True)
    (root / "escape").symlink_to(outside)
    (root / "raw" / "inner").symlink_to(root / "raw")
    settings = Settings(root.resolve())
    for typed in ("escape", "escape/dicom", str(root / "escape" / "dicom"), "raw/../escape"):
        with pytest.raises(UserError, match="outside the data root"):
            settings.inside_root(typed)
    assert settings.inside_root("raw/inner") == (root / "raw").resolve()


def test_ingest_reads_no_file_linked_from_outside_the_source(tmp_path: Path) -> None:
    study = write_study(tmp_path / "outside", StudySpec())
    secret = sorted(p for p in study.rglob("*") if p.is_file())[0]
    src = tmp_path / "src"
    src.mkdir()
    (src / "linked.dcm").symlink_to(secret)
    (src / "linked-folder").symlink_to(study, target_is_directory=True)
    (src / "local.dcm").write_bytes(secret.read_bytes())
    (src / "alias.dcm").symlink_to(src / "local.dcm")
    problems: list = []
    files = walk_files(src, problems)
    assert sorted(os.path.basename(f) for f in files) == ["alias.dcm", "local.dcm"]
    reasons = {os.path.basename(p[0]): p[3] for p in problems}
    assert reasons == {
        "linked.dcm": "symbolic link to outside the source folder",
        "linked-folder": "symbolic link to a folder (not followed)",
    }


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("raw/a\x00b.csv", "embedded null byte"),
        ("~no-such-user-cmr/labels.csv", "home directory"),
        ("raw/" + "x" * 300 + ".csv", "too long"),
        ("loop/labels.csv", "loop"),
    ],
)
def test_a_typed_path_that_cannot_name_a_file_is_a_one_line_refusal(
    tmp_path: Path, typed: str, why: str
) -> None:
    """Such paths raised ValueError / RuntimeError / OSError from the Labels CSV and folder
    fields: the page showed "Something went wrong" and logged a traceback as a bug."""
    root = tmp_path / "root"
    (root / "raw").mkdir(parents=True)
    (root / "loop").symlink_to(root / "loop")
    settings = Settings(root.resolve())
    with pytest.raises(UserError, match=why) as caught:
        settings.inside_root(typed).is_file()
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 250


def test_a_train_log_linked_out_of_its_run_is_not_shown(tmp_path: Path) -> None:
    """The Train page shows a run's train.log: one planted in a shared data root as a link to a
    private file of the account serving the dashboard showed that file's last lines."""
    from dashboard.runs import log_tail

    secret = tmp_path / "private" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("PRIVATE KEY\n")
    planted, own = tmp_path / "runs" / "planted", tmp_path / "runs" / "own"
    planted.mkdir(parents=True)
    own.mkdir()
    (planted / "train.log").symlink_to(secret)
    (own / "train.log").write_text("epoch 1\n")
    assert "PRIVATE KEY" not in log_tail(planted) and "outside" in log_tail(planted)
    assert log_tail(own) == "epoch 1"


def test_a_job_log_linked_to_another_file_is_not_shown(tmp_path: Path) -> None:
    """Every page's job panel shows a job's log.txt: the same planted link, in jobs/<id>/."""
    from dashboard.job import Job

    secret = tmp_path / "private.txt"
    secret.write_text("PRIVATE KEY\n")
    planted, own = tmp_path / "jobs" / "planted", tmp_path / "jobs" / "own"
    planted.mkdir(parents=True)
    own.mkdir()
    (planted / "log.txt").symlink_to(secret)
    (own / "log.txt").write_text("step 1\nstep 2\n")
    assert Job(planted, {"id": "planted"}, "finished").log_tail() == ""
    assert Job(own, {"id": "own"}, "finished").log_tail() == "step 1\nstep 2"
