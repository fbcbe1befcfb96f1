"""An evaluation shown under a checkpoint file that now holds other weights says so: a resume
or a demo repair rewrites ``best.pt`` in place, and Home and Evaluate showed the earlier
weights' figures under the current file's name without a word."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_eval_headline_sentence import _result, _summary

from dashboard.evaluated_weights import evaluated_checkpoint, weights_changed_note
from model.checkpoint_meta import CheckpointFacts, CheckpointMeta, file_stamp, write_sidecar

MEASURED = "a1b2c3d4e5f60718"
ROOT = Path("/nowhere")  # the data root: a summary of the older form names its files in full


def _checkpoint(path: Path, fingerprint: str, epoch: int = 3) -> Path:
    """A checkpoint file with a sidecar vouching for it (its contents are never read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"weights of epoch %d" % epoch)
    meta = CheckpointMeta(path, {}, fingerprint, "data0123", epoch, 10 * epoch)
    write_sidecar(path, CheckpointFacts(meta, 14.3), file_stamp(path))
    return path


def _summary_of(checkpoint: Path, fingerprint: str = MEASURED) -> dict:
    return {
        "config": {"checkpoint": str(checkpoint), "compare": []},
        "models": [{"name": "run/best", "fingerprint": fingerprint}],
    }


def test_the_same_weights_say_nothing(tmp_path: Path) -> None:
    best = _checkpoint(tmp_path / "run" / "best.pt", MEASURED)
    assert evaluated_checkpoint(_summary_of(best), ROOT) == (best, MEASURED)
    assert weights_changed_note(_summary_of(best), ROOT) is None


def test_other_weights_under_the_same_name_are_named(tmp_path: Path) -> None:
    best = _checkpoint(tmp_path / "run" / "best.pt", "ffee00112233", epoch=7)
    note = weights_changed_note(_summary_of(best), ROOT)
    assert note is not None
    assert note.startswith("run/best.pt now holds other weights (ffee0011, epoch 7)")
    assert f"this evaluation measured ({MEASURED[:8]})" in note
    assert "run the evaluation again" in note


@pytest.mark.parametrize(
    "summary",
    [
        {},
        {"config": {"checkpoint": "x.pt"}},  # an older summary: no model records
        {"config": {"checkpoint": "x.pt"}, "models": [{"name": "m"}]},  # no fingerprint
        {"config": "damaged", "models": [{"fingerprint": MEASURED}]},
        {"config": {"checkpoint": ""}, "models": ["damaged"]},
    ],
)
def test_summaries_that_do_not_record_both_say_nothing(summary: dict) -> None:
    assert evaluated_checkpoint(summary, ROOT) is None
    assert weights_changed_note(summary, ROOT) is None


def test_a_checkpoint_gone_or_without_a_current_sidecar_says_nothing(tmp_path: Path) -> None:
    """Without a sidecar vouching for the file the weights would have to be read (torch on
    Home): nothing is claimed either way."""
    assert weights_changed_note(_summary_of(tmp_path / "gone" / "best.pt"), ROOT) is None
    best = _checkpoint(tmp_path / "run" / "best.pt", "ffee00112233")
    best.write_bytes(b"rewritten by a resume, sidecar not yet")  # the stamp no longer matches
    assert weights_changed_note(_summary_of(best), ROOT) is None


def test_a_checkpoint_recorded_relative_to_the_data_root_is_found_under_this_one(
    tmp_path: Path,
) -> None:
    """A summary shared with a collaborator names its checkpoint relative to the data root
    (no /home/<user>/ in it): read under the reader's own data root; one recorded outside the
    data root (its folder and name alone) is never taken for a file under it."""
    best = _checkpoint(tmp_path / "runs" / "a" / "best.pt", "ffee00112233", epoch=7)
    paths = {"relative_to": "data root", "outside": ["x/best.pt"]}
    summary = _summary_of(best)
    summary["config"] |= {"checkpoint": "runs/a/best.pt", "paths": paths}
    assert evaluated_checkpoint(summary, tmp_path) == (best, MEASURED)
    assert weights_changed_note(summary, tmp_path).startswith("a/best.pt now holds other")
    _checkpoint(tmp_path / "x" / "best.pt", "ffee00112233")
    summary["config"]["checkpoint"] = "x/best.pt"  # outside the writer's data root
    assert evaluated_checkpoint(summary, tmp_path) is None


@pytest.fixture
def retrained(data_root: Path):
    """A finished evaluation whose checkpoint file now holds other weights."""
    best = _checkpoint(data_root / "runs" / "m" / "best.pt", "ffee00112233", epoch=9)
    folder = data_root / "evaluations" / "eval-20260101-000000"
    (folder / "internal").mkdir(parents=True)
    (folder / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.8\n")
    summary = _summary([_result("m/best", "internal")], ["m"]) | _summary_of(best)
    (folder / "summary.json").write_text(json.dumps(summary))
    yield folder
    shutil.rmtree(folder.parent, ignore_errors=True)
    shutil.rmtree(best.parent, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.usefixtures("retrained")
@pytest.mark.parametrize("page", ["pages/home.py", "pages/evaluate.py"])
def test_home_and_evaluate_say_the_checkpoint_changed(app, page: str) -> None:
    at = app(page)
    warnings = " ".join(w.value for w in at.warning)
    assert "m/best.pt now holds other weights (ffee0011, epoch 9)" in warnings
    assert not at.exception
