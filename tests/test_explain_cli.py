"""``python -m model explain`` on the tiny dataset and checkpoint: the attribution table and a
PNG per present view, the probability the ``zeroshot`` command gives, and one-line refusals
that write nothing."""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from model.cli import main as cli_main
from model.data.dataset import CMRDataset
from model.embed import embed_studies, embed_texts
from model.prompts import DEFAULT_PROMPTS, PromptSet
from model.schema import VIEW_SLOTS
from model.training.checkpoint import load_checkpoint
from model.zeroshot import score_findings
from tests.tiny_dataset import shared_tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup() -> tuple[Path, Path]:
    return shared_tiny_checkpoint()


def test_explain_writes_the_table_and_a_picture_per_present_view(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = setup
    study = CMRDataset.open(data).ids()[0]
    base = ["--checkpoint", str(checkpoint), "--data", str(data)]
    out = tmp_path / "explained"
    with caplog.at_level(logging.INFO):
        argv = ["explain", *base, "--study", study, "--finding", "lge", "--patch", "16"]
        assert cli_main([*argv, "--out", str(out)]) == 0
    table = pd.read_csv(out / "attributions.csv")
    assert list(table.columns) == ["part", "view", "frame", "present", "attribution"]
    views = table[table["part"] == "view"]
    assert list(views["view"]) == list(VIEW_SLOTS)
    frames = table[table["part"] == "frame"]
    assert len(frames) == len(VIEW_SLOTS) * 4  # the tiny checkpoint reads 4 frames
    present = frames["present"].to_numpy()
    assert np.isfinite(frames["attribution"][present]).all()
    assert frames["attribution"][~present].isna().all()  # absent: blank, not 0
    pictures = sorted(p.stem for p in out.glob("*.png"))
    assert pictures == sorted(views["view"][views["present"]])
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in out.glob("*.png"))
    said = float(re.search(r"p\(lge\) = ([0-9.]+)", caplog.text).group(1))
    model, _ = load_checkpoint(checkpoint)  # scored as the zeroshot command scores
    vectors = embed_studies(model, CMRDataset.open(data), [study]).vectors
    encoder = functools.partial(embed_texts, model)
    scale = float(model.logit_scale.exp().item())
    scored = score_findings(vectors, PromptSet.load(DEFAULT_PROMPTS), encoder, scale)["lge"][0]
    assert said == pytest.approx(scored, abs=1e-3)  # the page's and zeroshot's probability


def test_explain_refuses_bad_input_in_one_line_and_writes_nothing(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = setup
    study = CMRDataset.open(data).ids()[0]
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    only_lge = tmp_path / "lge.yaml"
    only_lge.write_text("findings:\n  lge:\n    positive: [LGE]\n    negative: [no LGE]\n")
    out = tmp_path / "explained"
    cases = [
        (["--study", "s999999"], "study s999999 is not in dataset"),
        (["--finding", "lv_dilaton"], "no finding 'lv_dilaton' (did you mean 'lv_dilation'?)"),
        (["--prompts", str(only_lge)], "no finding 'lv_dilation'; its findings: lge"),
        (["--checkpoint", str(other)], "not a CMR-CLIP checkpoint"),
        (["--patch", "99"], "patch 99 px does not fit"),
    ]
    for extra, message in cases:
        given = {"--checkpoint": str(checkpoint), "--study": study, "--finding": "lv_dilation"}
        given.update(dict(zip(extra[::2], extra[1::2], strict=True)))
        argv = ["explain", "--data", str(data), "--out", str(out)]
        argv += [word for pair in given.items() for word in pair]
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert cli_main(argv) == 2, extra
        assert message in caplog.text, (extra, caplog.text)
        assert len(caplog.records) == 1 and "Traceback" not in caplog.text
        assert not out.exists(), extra
