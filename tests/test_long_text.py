"""A report or prompt longer than the tokenizer's own maximum: read to ``context_length`` as
documented, listed by ``cut_texts``, and without a long-text warning on the terminal (the one
``transformers``' tokenizer gave, before ``model.nn.wordpiece`` replaced it)."""

from __future__ import annotations

import logging

import pytest
import torch

from model.nn.config import TextTowerConfig
from model.nn.text_tower import TextTower
from model.prompt_reading import unknown_words

WARNING = "Token indices sequence length is longer than the specified maximum"
# one sentence (no full stop) of about 700 word pieces: past MiniLM's 512
LONG = "dilated left ventricle with severely reduced systolic function " * 80


@pytest.fixture(scope="module")
def tower() -> TextTower:
    return TextTower(TextTowerConfig(context_length=32), 16).eval()


def test_a_text_past_the_tokenizers_maximum_is_cut_without_its_warning(
    tower: TextTower, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert tower.tokenizer.lengths([LONG])[0] > tower.tokenizer.model_max_length
    caplog.set_level(logging.WARNING)
    assert tower.cut_texts([LONG, "Normal LV size."]) == [LONG]
    assert unknown_words(tower.tokenizer, LONG) == []
    with torch.no_grad():
        read = tower.encode_texts([LONG, LONG + " and a pericardial effusion"])
    torch.testing.assert_close(read[0], read[1])  # only the first context_length pieces count
    shown = capfd.readouterr().err + caplog.text
    assert WARNING not in shown
