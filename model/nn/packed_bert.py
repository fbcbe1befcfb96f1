"""BERT encoder layers over packed tokens: the dense parts see only the real tokens.

A batch of sentences padded to its longest, ``hidden [S, L, H]`` with ``attention_mask [S, L]``,
spends most of a BERT layer's work in its dense parts (query, key, value, attention output and
the feed-forward pair), which treat every token on its own. Padding is wasted there: a training
batch of 130 sentences, bucketed by length and with word dropout, carries about 1,300 real tokens
in 2,000 slots. Here the real tokens are packed into ``tokens [N, H]`` (``TokenLayout``), the
dense parts run on them alone, and only attention, which mixes the tokens of one sentence,
scatters them back to ``[S, heads, L, head_dim]``. Masked tokens (padding and dropped words) are
neither queries nor keys, exactly as in the padded layer with its additive mask.

The layer's own submodules (``attention.self.query`` ... ``output.LayerNorm``) are called, so
its weights, dropout and activation are used as they are; ``tests/test_packed_bert.py`` checks
the result against ``transformers``' own ``BertLayer`` forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


@dataclass(frozen=True)
class TokenLayout:
    """Where the real tokens of a padded batch sit.

    ``flat [N]``: each real token's index into the flattened ``[S * L]`` slots, in row order;
    ``owner [N]``: its sentence; ``keys [S, 1, 1, L]``: bool, True where a key may be attended.
    """

    flat: torch.Tensor
    owner: torch.Tensor
    keys: torch.Tensor
    sentences: int
    length: int

    @classmethod
    def from_mask(cls, attention_mask: torch.Tensor) -> TokenLayout:
        """``attention_mask [S, L]`` (1 = real token) -> its layout; every row needs a token."""
        real = attention_mask.bool()
        if not bool(real.any(dim=1).all()):
            raise ValueError("every sentence needs at least one unmasked token")
        sentences, length = real.shape
        flat = real.reshape(-1).nonzero().squeeze(1)
        return cls(flat, flat // length, real[:, None, None, :], sentences, length)

    def pack(self, hidden: torch.Tensor) -> torch.Tensor:
        """``hidden [S, L, C]`` -> ``tokens [N, C]``: the real tokens, in row order."""
        return hidden.reshape(-1, hidden.shape[-1]).index_select(0, self.flat)

    def unpack(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens [N, C]`` -> ``[S, L, C]``, zeros in the masked slots."""
        slots = tokens.new_zeros(self.sentences * self.length, tokens.shape[-1])
        slots = slots.index_copy(0, self.flat, tokens)
        return slots.reshape(self.sentences, self.length, tokens.shape[-1])

    def mean(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mean of each sentence's real tokens: ``[N, C]`` -> ``[S, C]``."""
        return mean_by_owner(tokens, self.owner, self.sentences)


def mean_by_owner(rows: torch.Tensor, owner: torch.Tensor, groups: int) -> torch.Tensor:
    """Average rows per owner: ``rows [N, C]``, ``owner [N]`` (in ``0..groups-1``) -> ``[groups,
    C]``; a group without rows averages to zeros. Tokens per sentence here, sentences per text
    in the text tower."""
    summed = rows.new_zeros(groups, rows.shape[-1]).index_add(0, owner, rows)
    counts = torch.bincount(owner, minlength=groups).clamp_min(1)
    return summed / counts.unsqueeze(1).to(rows.dtype)


def self_attention(attention: nn.Module, tokens: torch.Tensor, layout: TokenLayout) -> torch.Tensor:
    """BERT self-attention with its output block (``BertAttention``): ``[N, H] -> [N, H]``."""
    inner = attention.self
    query, key, value = (
        rearrange(
            layout.unpack(project(tokens)), "s l (h d) -> s h l d", h=inner.num_attention_heads
        )
        for project in (inner.query, inner.key, inner.value)
    )
    context = F.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=layout.keys,
        dropout_p=inner.dropout.p if inner.training else 0.0,
        scale=inner.scaling,
    )  # [S, heads, L, head_dim]; padded query rows are computed and dropped
    context = layout.pack(rearrange(context, "s h l d -> s l (h d)"))
    out = attention.output
    return out.LayerNorm(out.dropout(out.dense(context)) + tokens)


def packed_layer(layer: nn.Module, tokens: torch.Tensor, layout: TokenLayout) -> torch.Tensor:
    """One ``BertLayer`` (self-attention, then feed-forward) on packed ``tokens [N, H]``."""
    attended = self_attention(layer.attention, tokens, layout)
    inner = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(attended))
    out = layer.output
    return out.LayerNorm(out.dropout(out.dense(inner)) + attended)


def run_packed(layers: list[nn.Module], tokens: torch.Tensor, layout: TokenLayout) -> torch.Tensor:
    """``layers`` in turn on packed ``tokens [N, H]`` -> ``[N, H]``."""
    for layer in layers:
        tokens = packed_layer(layer, tokens, layout)
    return tokens
