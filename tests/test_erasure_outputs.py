"""``forget --apply`` racing a command that writes per-study results (``model.withdrawn_outputs``):
a study erased while the result was made is not written with it, and the result says so as
forget would have (rows gone, ``WITHDRAWN.json`` beside an evaluation's figures)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_erasure import _files_naming, _forget, erasure_world

from dashboard.few_shot import save_example_set
from dashboard.settings import Settings
from model import embed_cli, few_shot_cli, zeroshot_cli
from model.cli import main
from model.data.dataset import CMRDataset
from model.data.store import ingest_lock
from model.errors import UserError
from model.evaluation import outputs
from model.evaluation.inputs import SiteData
from model.example_set import ExampleSet
from model.study_embeddings import StudyEmbeddings
from model.withdrawn_outputs import committing, erase_from
from tests.tiny_dataset import shared_tiny_checkpoint


@pytest.fixture()
def world(tmp_path: Path) -> dict:
    return erasure_world(tmp_path)


def _site(world: dict) -> SiteData:
    ds = CMRDataset.open(world["data"])
    studies = ds.studies.set_index("study_id")
    return SiteData("internal", True, ds, studies, pd.DataFrame(index=studies.index), 2, 0)


def _evaluation_writer(world: dict, forget_first: bool):
    """``_write_all`` of an evaluation of both studies (read before any erasure) that, with
    ``forget_first``, sees a forget of ACC0001 run just before it writes."""
    scores = {"study_id": [world["gone"], world["kept"]], "lge": [0.9, 0.1]}

    def write_all(staging: Path, *args: object) -> dict:
        if forget_first:
            assert _forget(world, "--accession", "ACC0001", "--apply") == 0
        (staging / "internal").mkdir()
        pd.DataFrame(scores).to_csv(staging / "internal" / "study_scores.csv", index=False)
        files = {"csv": ["internal/study_scores.csv"], "plots": []}
        (staging / "summary.json").write_text(json.dumps({"auc": 0.8, "files": files}))
        return {"files": files}

    return write_all


def test_an_evaluation_written_after_a_forget_leaves_the_erased_study_out(
    world, monkeypatch, caplog
) -> None:
    caplog.set_level(logging.INFO)
    site, out = _site(world), world["root"] / "evaluations" / "e2"
    monkeypatch.setattr(outputs, "_write_all", _evaluation_writer(world, forget_first=True))
    outputs.write_outputs(out, [], [site], [], [], {})
    table = pd.read_csv(out / "internal" / "study_scores.csv")
    assert table["study_id"].tolist() == [world["kept"]]
    note = json.loads((out / "WITHDRAWN.json").read_text())
    assert [(e["studies"], e["rows"]) for e in note["erasures"]] == [(1, 1)]
    assert json.loads((out / "summary.json").read_text())["auc"] == 0.8, "figures as computed"
    assert _files_naming(world["root"], world["gone"]) == []
    said = "1 studies of this evaluation were withdrawn (erased by forget)"
    assert said in caplog.text and world["gone"] not in caplog.text
    # evaluated again (of the dataset as it is now): the note spoke of figures replaced
    monkeypatch.setattr(outputs, "_write_all", _evaluation_writer(world, forget_first=False))
    outputs.write_outputs(out, [], [_site(world)], [], [], {})
    assert not (out / "WITHDRAWN.json").exists()


def test_a_forget_while_a_result_is_committed_is_refused(world, caplog) -> None:
    with committing([world["data"]], "a result", 0):
        assert _forget(world, "--accession", "ACC0001", "--apply") == 2
    assert "being read by another process" in caplog.text
    assert pd.read_csv(world["root"] / "zeroshot_out.csv")["study_id"].nunique() == 2
    forget = ingest_lock(world["data"], doing="forget")
    with forget, pytest.raises(UserError) as refused, committing([world["data"]], "a result", 0):
        pass  # never reached
    said = str(refused.value)
    assert "(forget: pid" in said and said.endswith(
        "a result was not written: try again when it has finished"
    )


def _tiny_copy(tmp_path: Path) -> tuple[Path, Path, str]:
    """A copy of the shared tiny dataset (its erasure must not reach other tests), the shared
    checkpoint, and the study to erase."""
    shared, checkpoint = shared_tiny_checkpoint()
    data = tmp_path / "data"
    shutil.copytree(shared, data)
    return data, checkpoint, CMRDataset.open(data).ids()[0]


def _then_erase(data: Path, gone: str, work):
    """``work`` (a command's last step before its write), then ``gone`` erased from the
    dataset as forget erases it (studies.parquet, atomically)."""

    def then_erase(*args: object, **kwargs: object) -> object:
        done = work(*args, **kwargs)
        studies = pd.read_parquet(data / "studies.parquet")
        studies[studies["study_id"] != gone].to_parquet(data / "studies.parquet", index=False)
        return done

    return then_erase


def test_zeroshot_scores_written_after_a_forget_leave_the_erased_study_out(
    tmp_path, monkeypatch, caplog
) -> None:
    data, checkpoint, gone = _tiny_copy(tmp_path)
    (data / "labels.csv").unlink()  # the scores alone: no metrics (seconds of bootstrap)
    caplog.set_level(logging.INFO)
    erasing = _then_erase(data, gone, zeroshot_cli.score_diagnoses)
    monkeypatch.setattr(zeroshot_cli, "score_diagnoses", erasing)
    out = tmp_path / "scores.csv"
    argv = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    assert main(argv) == 0
    scores = pd.read_csv(out)
    assert len(scores) == 15 and gone not in set(scores["study_id"])
    assert "1 studies of the zero-shot scores were withdrawn" in caplog.text
    assert "wrote zero-shot probabilities of 15 studies" in caplog.text
    assert gone not in caplog.text


def test_embeddings_written_after_a_forget_leave_the_erased_study_out(
    tmp_path, monkeypatch, caplog
) -> None:
    data, checkpoint, gone = _tiny_copy(tmp_path)
    caplog.set_level(logging.INFO)
    erasing = _then_erase(data, gone, embed_cli.cached_study_embeddings)
    monkeypatch.setattr(embed_cli, "cached_study_embeddings", erasing)
    out = tmp_path / "vectors.npz"
    argv = ["embed", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    assert main(argv) == 0
    saved = StudyEmbeddings.load(out)
    assert len(saved.ids) == 15 and gone not in saved.ids and saved.vectors.shape[0] == 15
    assert "1 studies of the embeddings were withdrawn" in caplog.text
    assert gone not in caplog.text


def test_an_example_set_saved_after_a_forget_loses_the_erased_study(world, caplog) -> None:
    """The page read both studies (the set names them); a forget erased one since."""
    caplog.set_level(logging.INFO)
    examples = ExampleSet("lge", positive=(world["gone"],), negative=(world["kept"],))
    assert _forget(world, "--accession", "ACC0001", "--apply") == 0
    settings = Settings(data_root=world["root"])
    path = save_example_set(settings, examples, "lge2", dataset=world["data"])
    assert ExampleSet.load(path) == ExampleSet("lge", negative=(world["kept"],))
    assert "1 studies of the example set were withdrawn" in caplog.text
    assert world["gone"] not in caplog.text


def test_fewshot_scores_written_after_a_forget_leave_the_erased_study_out(
    tmp_path, monkeypatch, caplog
) -> None:
    data, checkpoint, _ = _tiny_copy(tmp_path)
    ids = CMRDataset.open(data).ids()
    gone = ids[-1]  # not an example: the set still holds after the erasure
    examples = tmp_path / "ex.json"
    ExampleSet("lge", positive=tuple(ids[:2]), negative=tuple(ids[2:4])).save(examples)
    caplog.set_level(logging.INFO)
    erasing = _then_erase(data, gone, few_shot_cli.few_shot_scores)
    monkeypatch.setattr(few_shot_cli, "few_shot_scores", erasing)
    out = tmp_path / "ranked.csv"
    argv = ["fewshot", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    assert main([*argv, "--examples", str(examples), "--method", "prototype"]) == 0
    ranked = pd.read_csv(out)
    assert len(ranked) == 15 and gone not in set(ranked["study_id"])
    assert "1 studies of the scores were withdrawn" in caplog.text and gone not in caplog.text


def test_a_result_named_after_a_study_withdrawn_meanwhile_is_named_redacted(
    tmp_path, caplog
) -> None:
    gone = "s00000000000000a"
    output = tmp_path / f"{gone}_notes.xlsx"  # a kind forget lists, never removes
    output.write_text("a note about the study\n")
    caplog.set_level(logging.INFO)
    erase_from([output], {gone}, "the notes")
    assert "names studies withdrawn meanwhile" in caplog.text
    assert gone not in caplog.text and "[names a withdrawn study]" in caplog.text
