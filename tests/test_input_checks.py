"""Every command names a wrong input file before its slow work (``model.input_checks``): a
mistyped ``--checkpoint`` was named after the labels file was read (``zeroshot``: about 5 s on
a hospital's file), the datasets opened, or a first dataset embedded (``index``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_dataset import make_tiny_dataset, shared_tiny_checkpoint

from model import labels as labels_module
from model.cli import main
from model.evaluation import inputs as evaluation_inputs


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("inputs") / "demo", n=6)


def _argv(command: str, data: Path, checkpoint: Path, tmp_path: Path) -> list[str]:
    common = ["--checkpoint", str(checkpoint), "--data", str(data)]
    labels = ["--labels", str(data / "labels.csv")]
    if command == "zeroshot":
        return ["zeroshot", *common, *labels, "--out", str(tmp_path / "z.csv")]
    if command == "fewshot":
        examples = tmp_path / "ex.json"
        examples.write_text(json.dumps({"name": "x", "positive": ["s000000"], "negative": []}))
        out = ["--out", str(tmp_path / "f.csv"), "--label", "lge"]
        return ["fewshot", *common, *labels, "--examples", str(examples), *out]
    return ["evaluate", *common, *labels, "--out", str(tmp_path / "eval")]


def _no_label_reading(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the labels file was read before the checkpoint was checked")

    monkeypatch.setattr(labels_module, "read_labels_csv", refuse)
    monkeypatch.setattr(evaluation_inputs, "read_labels_csv", refuse)


@pytest.mark.parametrize("command", ["zeroshot", "fewshot", "evaluate"])
@pytest.mark.parametrize("wrong", ["missing", "a dataset folder"])
def test_a_wrong_checkpoint_is_named_before_the_labels_are_read(
    command, wrong, data, tmp_path, caplog, monkeypatch
):
    _no_label_reading(monkeypatch)
    checkpoint = tmp_path / "runs" / "best.pt" if wrong == "missing" else data
    assert main(_argv(command, data, checkpoint, tmp_path)) == 2
    said = "does not exist" if wrong == "missing" else "is a folder; give its .pt file"
    assert f"checkpoint {checkpoint} {said}" in caplog.text


@pytest.mark.parametrize("command", ["zeroshot", "evaluate"])
def test_a_wrong_labels_file_or_prompt_set_is_named_before_the_checkpoint_loads(
    command, data, tmp_path, caplog, monkeypatch
):
    """The labels file's header is checked (a prompt set given for it), the prompt set's YAML
    too, before the checkpoint is loaded: the checkpoint here is a real one, never loaded."""
    import model.training.checkpoint as checkpoint_module

    checkpoint = shared_tiny_checkpoint()[1]  # real, never loaded here

    def refuse(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded before the inputs were checked")

    monkeypatch.setattr(checkpoint_module, "load_checkpoint", refuse)
    argv = _argv(command, data, checkpoint, tmp_path)
    yaml = tmp_path / "prompts.yaml"
    yaml.write_text("findings:\n  lge: [late enhancement]\n")
    wrong_labels = [*argv[: argv.index("--labels") + 1], str(yaml), *argv[argv.index("--out") :]]
    assert main(wrong_labels) == 2
    assert f"labels file {yaml} has no 'accession_number' column" in caplog.text
    caplog.clear()
    assert main([*argv, "--prompts", str(tmp_path / "gone.yaml")]) == 2
    assert f"prompt set {tmp_path / 'gone.yaml'} does not exist" in caplog.text


def test_index_names_a_missing_dataset_before_embedding_the_first(
    data, tmp_path, caplog, monkeypatch
):
    import model.embed as embed

    checkpoint = shared_tiny_checkpoint()[1]  # real, never loaded here

    def refuse(*args, **kwargs):
        raise AssertionError("a dataset was embedded before every --data was checked")

    monkeypatch.setattr(embed, "cached_study_embeddings", refuse)
    gone = tmp_path / "other"
    argv = ["index", "--checkpoint", str(checkpoint), "--data", str(data), "--data", str(gone)]
    assert main([*argv, "--chroma-path", str(tmp_path / "chroma")]) == 2
    assert f"dataset folder {gone} does not exist" in caplog.text
