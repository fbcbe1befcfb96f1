"""Word dropout on the frozen token states: which tokens go, that masking removes them, that the
frozen cache keeps hitting, and that the draws follow torch's seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.nn.config import TextTowerConfig
from model.nn.text_tower import TextTower
from model.nn.token_word_drop import (
    NO_WORD,
    kept_tokens,
    sentence_words,
    token_words,
    word_keep_mask,
)
from model.sentences import dropped_words, word_spans

SENTENCE = "No LGE in the dilated LV (LVEF 35%)."
IMPRESSIONS = [
    "Dilated LV with severely impaired systolic function (LVEF 28%). No LGE.",
    "Normal study.",
    "Subendocardial LGE of the inferior wall. Non-dilated RV.",
]


@pytest.fixture(scope="module")
def tower() -> TextTower:
    torch.manual_seed(0)
    return TextTower(TextTowerConfig(unlocked_layers=1, word_drop=0.5), embed_dim=16)


def layout(tower: TextTower, sentence: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Tokens of ``sentence``, their word indices and the words' droppable flags."""
    input_ids, _ = tower.tokenizer.batch([sentence], tower.cfg.context_length)
    tokens = tower.tokenizer.tokens(input_ids[0].tolist())
    (offsets,) = tower.tokenizer.offsets([sentence], tower.cfg.context_length)
    spans, droppable = word_spans(sentence)
    return tokens, token_words(offsets, spans), droppable


def test_words_are_the_string_dropouts_words_and_asides_stay_whole(tower: TextTower) -> None:
    tokens, owner, droppable = layout(tower, SENTENCE)
    spans, _ = word_spans(SENTENCE)
    assert [SENTENCE[a:b] for a, b in spans] == ["No", "LGE", "in", "the", "dilated", "LV",
                                                  "(LVEF 35%)"]  # fmt: skip
    assert droppable.tolist() == [False, True, True, True, True, True, True]
    by_token = dict(zip(tokens, owner.tolist(), strict=True))
    assert by_token["[CLS]"] == by_token["[SEP]"] == by_token["."] == NO_WORD
    aside = [word for token, word in zip(tokens, owner, strict=True) if token in ("(", "35", ")")]
    assert aside == [6, 6, 6] and by_token["no"] == 0


@pytest.mark.parametrize("rate", [0.3, 0.95])
def test_dropout_keeps_polarity_words_and_one_other_word_whole(tower: TextTower, rate: float):
    tokens, owner, droppable = layout(tower, SENTENCE)
    seen = set()
    for seed in range(200):
        keep = kept_tokens(owner, droppable, rate, np.random.default_rng(seed))
        assert keep[owner == NO_WORD].all() and keep[owner == 0].all()  # specials, "No"
        kept_words = set(owner[keep].tolist()) - {NO_WORD}
        assert len(kept_words - {0}) >= 1
        for word in range(len(droppable)):  # a word goes whole or not at all
            assert keep[owner == word].all() or not keep[owner == word].any()
        seen.add(tuple(keep))
    assert len(seen) > 10


def test_kept_tokens_match_a_plain_reference(tower: TextTower) -> None:
    _, owner, droppable = layout(tower, SENTENCE)
    for seed in range(50):
        rng, reference_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        dropped = np.flatnonzero(dropped_words(droppable, 0.5, reference_rng))
        reference = [word not in dropped for word in owner.tolist()]
        assert kept_tokens(owner, droppable, 0.5, rng).tolist() == reference


def test_short_sentences_lose_nothing(tower: TextTower) -> None:
    for sentence in ("No LGE.", "Normal study."):
        _, owner, droppable = layout(tower, sentence)
        assert kept_tokens(owner, droppable, 0.95, np.random.default_rng(0)).all()


def test_masked_words_are_gone_from_the_trainable_part(tower: TextTower) -> None:
    """Masking a word's tokens equals deleting their frozen states: the top layers and the
    pooling never read them."""
    tower.eval()
    hidden, mask = tower.frozen_states([SENTENCE])
    keep = torch.ones_like(mask)
    keep[0, 3:6] = 0
    masked = tower.encode_frozen(hidden, mask * keep)
    kept_rows = keep[0].bool()
    deleted = tower.encode_frozen(hidden[:, kept_rows], mask[:, kept_rows])
    torch.testing.assert_close(masked, deleted, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(masked, tower.encode_frozen(hidden, mask), atol=1e-3)


def test_training_varies_every_occurrence_while_the_cache_keeps_hitting(tower: TextTower):
    tower.clear_cache()
    tower.train()
    draws = [tower(IMPRESSIONS) for _ in range(4)]
    assert tower.cache_size == 5  # the five distinct sentences, read whole once
    assert not torch.allclose(draws[0], draws[1], atol=1e-4)
    draws[0].sum().backward()
    trainable = [p for p in tower.parameters() if p.requires_grad]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)
    tower.zero_grad(set_to_none=True)
    tower.eval()
    with torch.no_grad():
        torch.testing.assert_close(tower(IMPRESSIONS), tower(IMPRESSIONS))


def test_eval_mode_reads_texts_whole(tower: TextTower) -> None:
    plain = TextTower(TextTowerConfig(unlocked_layers=1), embed_dim=16)
    plain.load_state_dict(tower.state_dict())
    tower.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(tower(IMPRESSIONS), plain(IMPRESSIONS))


def test_draws_follow_torchs_seed_so_resume_replays_them() -> None:
    offsets = [(0, 0), (0, 2), (3, 6), (7, 9), (10, 13), (13, 14), (0, 0)]
    words = [sentence_words("No LGE of the LV.", offsets)]
    masks = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        masks.append([word_keep_mask(words, 9, 0.6) for _ in range(8)])
    assert all(torch.equal(a, b) for a, b in zip(masks[0], masks[1], strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(masks[0], masks[2], strict=True))
    assert all((m[0, 7:] == 1).all() for m in masks[0])  # beyond the tokens: left to the mask
