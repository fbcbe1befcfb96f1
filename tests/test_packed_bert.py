"""BERT layers over packed tokens against transformers' own padded ``BertLayer`` forward."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertLayer

from model.nn.packed_bert import TokenLayout, run_packed

MASK = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 1, 1, 0]])


def tiny_layers(count: int = 2, dropout: float = 0.0) -> list[BertLayer]:
    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        attn_implementation="sdpa",
    )
    return [BertLayer(config).eval() for _ in range(count)]


def padded_reference(
    layers: list[BertLayer], hidden: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """The layers as transformers runs them, with an additive key mask: ``[S, L, H]``."""
    additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for layer in layers:
        out = layer(hidden, additive)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def test_layout_packs_and_unpacks_the_real_tokens_in_row_order() -> None:
    hidden = torch.arange(15.0).reshape(3, 5, 1)
    layout = TokenLayout.from_mask(MASK)
    tokens = layout.pack(hidden)
    assert tokens.squeeze(1).tolist() == [0, 1, 2, 3, 4, 5, 6, 10, 12, 13]
    assert layout.owner.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2, 2]
    assert torch.equal(layout.unpack(tokens), hidden * MASK.unsqueeze(-1))
    means = layout.mean(tokens).squeeze(1)
    torch.testing.assert_close(means, torch.tensor([2.0, 5.5, (10 + 12 + 13) / 3]))


def test_packed_layers_match_the_padded_bert_layers_on_real_tokens() -> None:
    layers = tiny_layers()
    hidden = torch.randn(3, 5, 32)
    layout = TokenLayout.from_mask(MASK)
    packed = run_packed(layers, layout.pack(hidden), layout)
    reference = padded_reference(layers, hidden, MASK)
    torch.testing.assert_close(packed, layout.pack(reference), atol=1e-5, rtol=1e-5)


def test_masked_tokens_change_nothing_and_gradients_reach_every_weight() -> None:
    layers = tiny_layers()
    hidden = torch.randn(3, 5, 32)
    layout = TokenLayout.from_mask(MASK)
    base = run_packed(layers, layout.pack(hidden), layout)
    noisy = hidden + 100.0 * (1 - MASK).unsqueeze(-1) * torch.randn(3, 5, 32)
    torch.testing.assert_close(run_packed(layers, layout.pack(noisy), layout), base)
    base.square().sum().backward()
    for layer in layers:
        for name, param in layer.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, name
            assert torch.isfinite(param.grad).all(), name


def test_dropout_follows_training_mode() -> None:
    layers = tiny_layers(count=1, dropout=0.5)
    hidden = torch.randn(3, 5, 32)
    layout = TokenLayout.from_mask(MASK)
    tokens = layout.pack(hidden)

    def run() -> torch.Tensor:
        return run_packed(layers, tokens, layout)

    torch.testing.assert_close(run(), run())
    layers[0].train()
    assert not torch.allclose(run(), run())


def test_a_sentence_without_tokens_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TokenLayout.from_mask(torch.tensor([[1, 1], [0, 0]]))
