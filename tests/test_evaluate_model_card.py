"""The Evaluate page's "Model card": the card of the checkpoint the evaluation shown measured,
with that evaluation's figures (not the newest evaluation of those weights, as the Train
page's), and none while the file holds other weights than it measured."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_eval_headline_sentence import _result, _summary
from test_evaluated_weights import MEASURED, _checkpoint, _summary_of

from dashboard import model_card
from dashboard.evaluated_weights import measured_checkpoint
from model.checkpoint_meta import read_sidecar
from model.evaluation.recorded_paths import RELATIVE_TO


@pytest.fixture
def evaluations(data_root: Path):
    """The data root's evaluations folder, removed after the test (the data root is shared)."""
    folder = data_root / "evaluations"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _evaluation_of(folder: Path, fingerprint: str) -> Path:
    """A finished evaluation of the data root's ``runs/tiny/best.pt`` whose summary says it
    measured weights ``fingerprint``, as ``evaluate`` records it (relative to the data root)."""
    (folder / "internal").mkdir(parents=True)
    (folder / "internal" / "zeroshot.csv").write_text("model,Label,AUC\ntiny/best,LGE,0.8\n")
    summary = _summary([_result("tiny/best", "internal")], ["tiny/best"])
    paths = {"relative_to": RELATIVE_TO, "outside": []}
    summary["config"] = {"checkpoint": "runs/tiny/best.pt", "compare": [], "paths": paths}
    summary["models"] = [{"name": "tiny/best", "fingerprint": fingerprint}]
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.mark.slow
def test_the_card_offered_is_the_measured_checkpoints_with_the_evaluation_shown(
    app, data_root: Path, evaluations: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    best = data_root / "runs" / "tiny" / "best.pt"
    weights = read_sidecar(best).meta.fingerprint
    shown = _evaluation_of(evaluations / "eval-20260101-000000", weights)
    _evaluation_of(evaluations / "eval-20260102-000000", weights)  # newer, of the same weights
    offered: list[tuple] = []
    real = model_card.card_button

    def recording(row, checkpoint, root, evaluation=None) -> None:
        offered.append((checkpoint, evaluation))
        real(row, checkpoint, root, evaluation)

    monkeypatch.setattr(model_card, "card_button", recording)
    at = app("pages/evaluate.py", **{"ev-folder": shown})
    [button] = [b for b in at.get("download_button") if b.proto.label == "Model card"]
    assert button.proto.deferred_file_id and not button.proto.url  # built on the click
    assert "tiny/best.pt, the checkpoint this evaluation measured" in button.proto.help
    assert offered == [(best, shown)]
    text = model_card.card_bytes(best, data_root, shown).decode()
    assert "### Evaluation `eval-20260101-000000`" in text
    assert "eval-20260102-000000" not in text  # the newest of these weights is the Train page's
    newest = model_card.card_bytes(best, data_root).decode()
    assert "### Evaluation `eval-20260102-000000`" in newest


def test_no_card_for_a_file_that_now_holds_other_weights_or_is_not_named(tmp_path: Path) -> None:
    best = _checkpoint(tmp_path / "runs" / "m" / "best.pt", MEASURED)
    assert measured_checkpoint(_summary_of(best), tmp_path) == best
    assert measured_checkpoint(_summary_of(best, "ffee00112233"), tmp_path) is None  # retrained
    assert measured_checkpoint({"config": {"checkpoint": str(best)}}, tmp_path) is None  # no print
    unvouched = tmp_path / "runs" / "n" / "best.pt"  # no sidecar: the card checks the weights
    unvouched.parent.mkdir(parents=True)
    unvouched.write_bytes(b"weights")
    assert measured_checkpoint(_summary_of(unvouched), tmp_path) == unvouched
    unvouched.unlink()
    assert measured_checkpoint(_summary_of(unvouched), tmp_path) is None  # gone
