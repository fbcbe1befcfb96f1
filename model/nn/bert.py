"""A BERT encoder (embeddings and layers, no pooler) as plain torch modules, read from a
Hugging Face folder (``config.json`` + ``model.safetensors``).

The text tower needs BERT's weights and submodules, never ``transformers``' model code: its
layers run through ``model.nn.packed_bert``, which calls each layer's parts (``query`` ...
``output.LayerNorm``) itself. Importing ``transformers.BertModel`` cost every process that
loads the text tower about 3 s of CPU on a 2-core machine (it pulls in torch._dynamo,
torch.distributed.tensor and scipy.optimize), more than torch itself. The modules here carry
the names of ``transformers``' ``BertModel`` (``embeddings.word_embeddings``,
``encoder.layer.N.attention.self.query`` ...), so the weights file and every checkpoint's
``text.bert.*`` keys load unchanged; ``tests/test_bert.py`` checks the outputs against
``transformers``' own ``BertModel`` on the shipped MiniLM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn

from model.errors import UserError
from model.nn.packed_bert import TokenLayout, run_packed

WEIGHTS_FILE = "model.safetensors"
UNUSED_WEIGHTS = ("pooler.", "embeddings.position_ids")  # no pooler; positions are made here


@dataclass(frozen=True)
class BertConfig:
    """The parts of a BERT ``config.json`` this encoder reads (its other keys are ignored)."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0
    name_or_path: str = ""

    @classmethod
    def from_folder(cls, folder: Path) -> BertConfig:
        """``folder/config.json`` as a config; ``UserError`` for one this encoder cannot run
        (not BERT, relative positions, another activation, a missing size)."""
        path = folder / "config.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the text model's config {path}: {exc}") from exc
        unusable = {
            "model_type": (raw.get("model_type"), "bert"),
            "hidden_act": (raw.get("hidden_act", "gelu"), "gelu"),
            "position_embedding_type": (raw.get("position_embedding_type", "absolute"), "absolute"),
        }
        for key, (found, wanted) in unusable.items():
            if found != wanted:
                raise UserError(f"{path}: {key} is {found!r}; the text tower runs {wanted!r} only")
        names = {f.name for f in fields(cls)} - {"name_or_path"}
        try:
            return cls(**{k: v for k, v in raw.items() if k in names}, name_or_path=str(folder))
        except TypeError as exc:
            raise UserError(f"{path} lacks a size the text model needs ({exc})") from exc


class BertEmbeddings(nn.Module):
    """``input_ids [S, L]`` -> ``[S, L, H]``: word + token type (all 0) + absolute position
    embeddings, normalised, with dropout."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(
            cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id
        )
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1]
        positions = torch.arange(length, device=input_ids.device)
        token_types = torch.zeros_like(input_ids)
        embedded = self.word_embeddings(input_ids) + self.token_type_embeddings(token_types)
        embedded = embedded + self.position_embeddings(positions)[None]
        return self.dropout(self.LayerNorm(embedded))


class BertSelfAttention(nn.Module):
    """Query, key and value projections ``[.., H] -> [.., H]``; ``packed_bert`` attends."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        if cfg.hidden_size % cfg.num_attention_heads:
            raise UserError(
                f"text model: hidden_size {cfg.hidden_size} is not a multiple of its "
                f"{cfg.num_attention_heads} attention heads"
            )
        self.num_attention_heads = cfg.num_attention_heads
        self.scaling = (cfg.hidden_size // cfg.num_attention_heads) ** -0.5
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.attention_probs_dropout_prob)


class BertResidualOutput(nn.Module):
    """``dense`` from ``width`` to H, dropout, then normalised with the residual (the
    attention's and the feed-forward's output blocks)."""

    def __init__(self, cfg: BertConfig, width: int) -> None:
        super().__init__()
        self.dense = nn.Linear(width, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)


class BertAttention(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertResidualOutput(cfg, cfg.hidden_size)


class BertIntermediate(nn.Module):
    """The feed-forward's first half: ``[.., H] -> [.., I]``, then GELU (exact, erf)."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.intermediate_act_fn = nn.GELU()


class BertLayer(nn.Module):
    """Self-attention block, then feed-forward block (run by ``packed_bert.packed_layer``)."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertResidualOutput(cfg, cfg.intermediate_size)


class BertEncoder(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.num_hidden_layers))


class BertModel(nn.Module):
    """BERT without its pooler: ``(input_ids [S, L], attention_mask [S, L]) -> [S, L, H]``,
    zeros where the mask is 0 (masked tokens are neither queries nor keys)."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        layout = TokenLayout.from_mask(attention_mask)
        tokens = layout.pack(self.embeddings(input_ids))
        return layout.unpack(run_packed(list(self.encoder.layer), tokens, layout))


def load_bert_folder(folder: Path) -> BertModel:
    """The BERT in ``folder`` with its weights, in eval mode (as ``from_pretrained`` leaves
    it); ``UserError`` for a missing or damaged weights file or one of another shape."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    model = BertModel(BertConfig.from_folder(folder))
    path = folder / WEIGHTS_FILE
    try:
        weights = load_file(path)
    except (OSError, SafetensorError) as exc:
        raise UserError(f"cannot load the text model's weights {path}: {exc}") from exc
    state = {
        name.removeprefix("bert."): tensor
        for name, tensor in weights.items()
        if not name.removeprefix("bert.").startswith(UNUSED_WEIGHTS)
    }
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:])[:300]
        raise UserError(
            f"{path} does not hold the weights its config.json describes: {detail}"
        ) from exc
    return model.eval()
