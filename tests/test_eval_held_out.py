"""An evaluation says when a site's studies are ones the model trained on.

A checkpoint evaluated on a dataset other than the one it trained on (a copy whose splits were
drawn otherwise, the training data given as an external site) had its "test split" figures
reported as held-out ones, the model's record saying only "trained on another dataset": the
figures were those of studies it learned from.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from model.cli import main
from model.data.dataset import CMRDataset
from model.evaluation.held_out import NOT_HELD_OUT, UNVERIFIED, site_notes
from tests.tiny_dataset import shared_tiny_checkpoint

FAST = ["--episodes", "2", "--bootstrap", "10", "--shots", "1", "--folds", "2"]
SWAP = {"train": "test", "test": "train", "val": "val"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _resplit(data: Path, out: Path) -> Path:
    """A copy of ``data`` whose train studies form its test split (splits drawn otherwise)."""
    shutil.copytree(data, out, ignore=shutil.ignore_patterns("embeddings"))
    studies = pd.read_parquet(out / "studies.parquet")
    studies["split"] = studies["split"].map(SWAP)
    studies.to_parquet(out / "studies.parquet", index=False)
    return out


def _trained(data: Path) -> set[str]:
    studies = pd.read_parquet(data / "studies.parquet")
    return set(studies.loc[studies["split"] != "test", "study_id"])


def _evaluate(checkpoint: Path, data: Path, out: Path, *external: Path) -> dict:
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    if external:
        argv += ["--external", *map(str, external)]
    assert main([*argv, *FAST]) in (0, 2)  # 2: few studies
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def test_a_test_split_of_trained_studies_is_said_not_held_out(tmp_path: Path) -> None:
    data, checkpoint = shared_tiny_checkpoint()
    other = _resplit(data, tmp_path / "resplit")
    summary = _evaluate(checkpoint, other, tmp_path / "eval")
    site = summary["sites"][0]
    tested = pd.read_parquet(other / "studies.parquet").query("split == 'test'")["study_id"]
    seen = len(set(tested) & _trained(data))
    assert seen > 0 and site["selection"] == "test split"
    assert site["not_held_out"] == [
        f"{NOT_HELD_OUT}: {seen} of its {site['n_evaluated']} evaluated studies are studies "
        f"{summary['models'][0]['name']} trained on or was chosen on (the train and val split "
        "of the dataset it trained on), so its figures here are not those of unseen studies"
    ]
    markdown = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    assert f"test split, {NOT_HELD_OUT})" in markdown.splitlines()[2]  # the headline sentence
    assert f"{NOT_HELD_OUT}: {seen} of its" in markdown
    assert any(p.startswith(f"site internal: {NOT_HELD_OUT}") for p in summary["problems"])


def test_the_training_data_as_an_external_site_is_said_not_held_out(tmp_path: Path) -> None:
    """The dataset trained on, evaluated as internal, is held out (its test split); a copy of it
    given as an external site holds every train and val study."""
    data, checkpoint = shared_tiny_checkpoint()
    other = _resplit(data, tmp_path / "copy")
    summary = _evaluate(checkpoint, data, tmp_path / "eval", other)
    internal, external = summary["sites"]
    assert internal["not_held_out"] == []
    assert external["not_held_out"][0].startswith(
        f"{NOT_HELD_OUT}: {len(_trained(data))} of its {external['n_evaluated']} evaluated"
    )


def test_a_checkpoint_without_its_run_folder_is_unverified_on_another_dataset(
    tmp_path: Path,
) -> None:
    data, checkpoint = shared_tiny_checkpoint()
    alone = tmp_path / "alone" / "best.pt"
    alone.parent.mkdir()
    shutil.copy(checkpoint, alone)  # no config.json beside it: its dataset cannot be found
    other = CMRDataset.open(_resplit(data, tmp_path / "resplit"))
    encoder = SimpleNamespace(
        name="alone/best", trained_on=CMRDataset.open(data).fingerprint(), checkpoint=alone
    )
    studies = other.studies.set_index("study_id")
    site = SimpleNamespace(name="internal", internal=True, dataset=other, studies=studies)
    notes = site_notes([encoder], [site])
    assert notes["internal"][0].startswith(f"{UNVERIFIED} from alone/best")
    external = SimpleNamespace(**{**vars(site), "internal": False})
    assert site_notes([encoder], [external]) == {}  # another hospital's data: nothing to say


def test_zeroshot_and_fewshot_metrics_over_trained_studies_say_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``zeroshot`` and ``fewshot --label`` score every split unless told: their metrics over
    the dataset trained on then stand on its train and val studies, and said nothing of it."""
    data, checkpoint = shared_tiny_checkpoint()
    studies = pd.read_parquet(data / "studies.parquet")
    examples = tmp_path / "examples.json"
    test = list(studies.loc[studies["split"] == "test", "study_id"])
    examples.write_text(json.dumps({"name": "x", "positive": test[:1], "negative": test[1:2]}))
    base = ["--checkpoint", str(checkpoint), "--data", str(data)]
    commands = {
        "zeroshot": ["zeroshot", *base],
        "fewshot": ["fewshot", *base, "--examples", str(examples), "--label", "lge"],
    }
    for name, argv in commands.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert main([*argv, "--out", str(tmp_path / f"{name}.csv")]) == 0
        said = [r.getMessage() for r in caplog.records if "trained on or was chosen" in r.message]
        assert len(said) == 1 and f" {len(_trained(data))} of its" in said[0], name
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            out = ["--out", str(tmp_path / f"{name}-test.csv"), "--split", "test"]
            main([*argv, *out])  # few test studies: fewshot may find no AUC to give
        assert not any("trained on or was chosen" in r.getMessage() for r in caplog.records)
