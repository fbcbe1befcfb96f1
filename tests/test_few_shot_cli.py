"""``python -m model fewshot`` on the tiny dataset and checkpoint: the ranked CSV, the AUC beside
it, and one-line errors before any work."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import model.embed as embed_module
import model.training.checkpoint as checkpoint_module
from model.cli import main as cli_main
from model.data.dataset import CMRDataset
from model.embed import cached_study_embeddings, embed_texts
from model.example_set import ExampleSet
from model.few_shot import few_shot_scores, prompt_logits
from model.prompts import FindingPrompts
from model.training.checkpoint import load_checkpoint
from tests.tiny_dataset import shared_tiny_checkpoint


@pytest.fixture(scope="module")
def setup() -> tuple[Path, Path]:
    data, checkpoint = shared_tiny_checkpoint()
    cached_study_embeddings(checkpoint, CMRDataset.open(data))  # the cache the command reuses
    return data, checkpoint


def write_examples(path: Path, positive: list[str], negative: list[str]) -> Path:
    path.write_text(json.dumps({"name": "lge", "positive": positive, "negative": negative}))
    return path


def test_fewshot_ranks_every_study_and_checks_the_label_without_the_examples(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, checkpoint = setup
    ids = CMRDataset.open(data).ids()
    examples = write_examples(tmp_path / "ex.json", ids[:3], ids[3:5])
    out = tmp_path / "ranked.csv"

    def no_embedding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached study embeddings should be reused")

    monkeypatch.setattr(embed_module, "embed_studies", no_embedding)
    base = ["fewshot", "--checkpoint", str(checkpoint), "--data", str(data)]
    argv = [*base, "--examples", str(examples), "--out", str(out), "--label", "lge"]
    assert cli_main([*argv, "--method", "logistic"]) == 0
    ranked = pd.read_csv(out, keep_default_na=False)
    assert sorted(ranked["study_id"]) == sorted(ids)
    assert ranked["score"].is_monotonic_decreasing
    assert list(ranked.columns) == ["study_id", "site", "split", "score", "example"]
    marked = ranked.set_index("study_id")["example"]
    assert set(marked[marked == "example"].index) == set(ids[:3])
    assert set(marked[marked == "counter-example"].index) == set(ids[3:5])
    metrics = pd.read_csv(tmp_path / "ranked_metrics.csv").iloc[0]
    labels = pd.read_csv(data / "labels.csv")
    links = pd.read_csv(data / "linkage.csv")
    truth = links.merge(labels, on="accession_number").set_index("study_id")["lge"]
    rest = ranked[ranked["example"] == ""].set_index("study_id")  # one study per patient here
    expected = roc_auc_score(truth[rest.index], rest["score"])
    assert metrics["auc"] == pytest.approx(expected)
    assert (metrics["n"], metrics["examples"], metrics["method"]) == (11, 5, "logistic")
    assert metrics["auc_lo"] <= metrics["auc"] <= metrics["auc_hi"]
    assert cli_main(argv[:-2]) == 0  # no --label: the earlier metrics do not stay beside it
    assert not (tmp_path / "ranked_metrics.csv").exists()


def test_fewshot_errors_are_one_line_and_write_nothing(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = setup
    ids = CMRDataset.open(data).ids()
    out = tmp_path / "ranked.csv"
    base = ["fewshot", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    only_examples = write_examples(tmp_path / "pos.json", ids[:2], [])
    cases = [
        (
            ["--examples", str(write_examples(tmp_path / "gone.json", ["gone"], []))],
            "1 study ID(s) are not in dataset",
        ),
        (
            ["--examples", str(only_examples), "--method", "logistic"],
            "needs at least one counter-example",
        ),
        (["--examples", str(only_examples), "--label", "amyloid_x"], "no column 'amyloid_x'"),
        (
            ["--examples", str(only_examples), "--labels", str(data / "labels.csv")],
            "--labels needs --label",
        ),
        (["--examples", str(tmp_path / "none.json")], "does not exist"),
    ]
    for extra, message in cases:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert cli_main([*base, *extra]) == 2, extra
        assert message in caplog.text, (extra, caplog.text)
        assert "Traceback" not in caplog.text
    assert not out.exists()


def test_fewshot_will_not_write_over_the_labels_or_into_the_dataset(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``--out`` naming the labels file it reads replaced a hospital's labels with the scores."""
    data, checkpoint = setup
    examples = write_examples(tmp_path / "ex.json", CMRDataset.open(data).ids()[:2], [])
    labels = tmp_path / "labels.csv"
    labels.write_bytes((data / "labels.csv").read_bytes())
    base = ["fewshot", "--checkpoint", str(checkpoint), "--data", str(data)]
    base += ["--examples", str(examples), "--label", "lge"]
    cases = [
        (["--labels", str(labels), "--out", str(labels)], "is a file the command reads"),
        (["--out", str(data / "labels.csv")], "is a file the command reads"),  # the dataset's own
        (["--out", str(data / "linkage.csv")], "is inside the dataset folder"),
        (["--out", str(data / "ranked.csv")], "is inside the dataset folder"),
    ]
    before = {path: path.read_bytes() for path in (labels, *data.glob("*.csv"))}
    for extra, message in cases:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert cli_main([*base, *extra]) == 2, extra
        assert message in caplog.text, (extra, caplog.text)
    assert {path: path.read_bytes() for path in before} == before
    assert not (data / "ranked.csv").exists()


def test_fewshot_on_one_split_lists_and_checks_that_split_only(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    data, checkpoint = setup
    ds = CMRDataset.open(data)
    ids, test_ids = ds.ids(), set(ds.ids("test"))
    examples = write_examples(tmp_path / "ex.json", ids[:3], ids[3:5])
    out = tmp_path / "ranked.csv"
    base = ["fewshot", "--checkpoint", str(checkpoint), "--data", str(data)]
    argv = [*base, "--examples", str(examples), "--out", str(out), "--label", "lge"]
    assert cli_main([*argv, "--split", "test"]) == 0
    ranked = pd.read_csv(out, keep_default_na=False)
    others = ranked[ranked["example"] == ""]
    assert len(others) > 0 and set(others["study_id"]) == test_ids - set(ids[:5])
    assert len(ranked) - len(others) == 5  # the examples stay listed, from any split
    metrics = pd.read_csv(tmp_path / "ranked_metrics.csv").iloc[0]
    assert (metrics["split"], metrics["n"]) == ("test", len(others))


def test_fewshot_prompted_uses_the_sets_prompts_or_the_flags(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """``--method prompted``: the logistic fit offset by the zero-shot logits of the set's
    prompts, or of ``--positive`` / ``--negative``, which replace them."""
    data, checkpoint = setup
    ids = CMRDataset.open(data).ids()
    words = {"positive": ["late gadolinium enhancement"], "negative": ["no enhancement"]}
    examples = tmp_path / "ex.json"
    examples.write_text(json.dumps({"name": "lge", "positive": ids[:2], "prompts": words}))
    out = tmp_path / "ranked.csv"
    base = ["fewshot", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    base += ["--examples", str(examples), "--method", "prompted"]
    model, _meta = load_checkpoint(checkpoint, device="cpu")
    embeddings = cached_study_embeddings(checkpoint, CMRDataset.open(data))

    def expected(prompts: FindingPrompts) -> pd.Series:
        encoder = functools.partial(embed_texts, model)
        prior = prompt_logits(embeddings.vectors, prompts, encoder, float(model.scale().detach()))
        chosen = ExampleSet("lge", tuple(ids[:2]), prompts=prompts)
        return few_shot_scores(
            embeddings.vectors, embeddings.ids, chosen, "prompted", prior_logits=prior
        )["score"]

    for flags, prompts in (
        ([], FindingPrompts(tuple(words["positive"]), tuple(words["negative"]))),
        (
            ["--positive", "dilated", "--positive", "big", "--negative", "normal size"],
            FindingPrompts(("dilated", "big"), ("normal size",)),
        ),
    ):
        assert cli_main([*base, *flags, "--label", "lge"]) == 0
        ranked = pd.read_csv(out, keep_default_na=False).set_index("study_id")
        reference = expected(prompts)
        np.testing.assert_allclose(ranked["score"][reference.index], reference, atol=1e-6)
        metrics = pd.read_csv(tmp_path / "ranked_metrics.csv").iloc[0]  # the wording scored
        assert metrics["positive_prompts"] == " | ".join(prompts.positive)
        assert metrics["negative_prompts"] == " | ".join(prompts.negative)


def test_fewshot_prompted_errors_come_before_the_checkpoint(
    setup: tuple[Path, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, checkpoint = setup
    examples = write_examples(tmp_path / "ex.json", CMRDataset.open(data).ids()[:2], [])
    out = tmp_path / "ranked.csv"
    base = ["fewshot", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    base += ["--examples", str(examples)]

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the checkpoint should not be loaded")

    monkeypatch.setattr(checkpoint_module, "load_checkpoint", no_loading)
    cases = [
        (  # and how to give them on the command line
            ["--method", "prompted"],
            "the prompted method needs the class in words: word the class and its absence "
            "(positive and negative prompts): give --positive TEXT --negative TEXT",
        ),
        (["--method", "prompted", "--positive", "scar"], "--positive needs --negative"),
        (["--positive", "scar", "--negative", "none"], "for --method prompted only"),
        (
            ["--method", "prompted", "--positive", "Scar", "--negative", "scar."],
            "say the same thing",
        ),
    ]
    for extra, message in cases:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert cli_main([*base, *extra]) == 2, extra
        assert message in caplog.text, (extra, caplog.text)
    caplog.clear()  # another method's problem: no advice on wording it takes no use of
    with caplog.at_level(logging.ERROR):
        assert cli_main([*base, "--method", "logistic"]) == 2
    assert "needs at least one counter-example" in caplog.text, caplog.text
    assert "--positive" not in caplog.text and f"{examples}:" in caplog.text, caplog.text
    assert not out.exists()


def test_fewshot_blames_the_flags_not_the_file_for_their_wording(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A wording given by --positive / --negative that cannot score is named as the flags',
    not as a fault of the example-set file (which holds no prompts at all)."""
    data, checkpoint = setup
    examples = write_examples(tmp_path / "ex.json", CMRDataset.open(data).ids()[:2], [])
    base = ["fewshot", "--checkpoint", str(checkpoint), "--data", str(data), "--method"]
    base += ["prompted", "--examples", str(examples), "--out", str(tmp_path / "ranked.csv")]
    for wording in (["--positive", " ", "--negative", "none"], ["--positive", "Scar"]):
        extra = wording if "--negative" in wording else [*wording, "--negative", "scar."]
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert cli_main([*base, *extra]) == 2, extra
        assert "--positive/--negative:" in caplog.text, caplog.text
        assert str(examples) not in caplog.text, caplog.text
