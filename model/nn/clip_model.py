"""CMRClip: a video tower and a text tower projecting into one shared embedding space.

The model computes features and the temperature; it never computes its loss (``model.nn.loss``)
and never imports training code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.errors import UserError
from model.nn.blocks import BlockStack, set_grad_checkpointing
from model.nn.config import CMRClipConfig, VideoTowerConfig
from model.nn.packed_bert import mean_by_owner
from model.nn.text_tower import TextTower, check_texts
from model.nn.video_flat import FlatVideoTower
from model.nn.video_inputs import check_video_values
from model.nn.video_multiview import MultiviewVideoTower
from model.nn.video_static import StaticVideoTower
from model.nn.wordpiece import WordPieceTokenizer

MAX_LOGIT_SCALE = math.log(100.0)
TRAIN_VALUE_STRIDE = 997  # forward checks every 997th video value (encode_video: all)
_VIDEO_TOWERS: dict[str, type[nn.Module]] = {
    "multiview": MultiviewVideoTower,
    "flat": FlatVideoTower,
    "static": StaticVideoTower,
}


def build_video_tower(cfg: VideoTowerConfig, embed_dim: int) -> nn.Module:
    """The tower named by ``cfg.kind``: ``video [B, V, T, H, W] -> [B, embed_dim]``."""
    cfg.validate()
    return _VIDEO_TOWERS[cfg.kind](cfg, embed_dim)


class CMRClip(nn.Module):
    """Video-text contrastive encoder.

    ``encode_video(video [B, V, T, H, W], view_mask [B, V], frame_mask [B, V, T]) -> [B, D]``,
    ``encode_text(texts) -> [B, D]``, ``forward(...) -> (video [B, D], text [B, D], scale [])``
    where ``scale = exp(logit_scale)`` clamped to at most 100.
    """

    def __init__(self, cfg: CMRClipConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        # frames per view and image size the model reads a study at: what it trained on (a
        # checkpoint's ``train.frames`` / ``train.image_size``, set by ``load_checkpoint`` and the
        # trainer); the video config's maxima until then
        self.input_frames = int(cfg.video.frames)
        self.input_size = int(cfg.video.image_size)
        self.visual = build_video_tower(cfg.video, cfg.embed_dim)
        self.text = TextTower(cfg.text, cfg.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(float(cfg.init_logit_scale)))

    @property
    def tokenizer(self) -> WordPieceTokenizer:
        """The text tower's tokenizer (MiniLM WordPiece)."""
        return self.text.tokenizer

    def encode_video(
        self,
        video: torch.Tensor,
        view_mask: torch.Tensor | None = None,
        frame_mask: torch.Tensor | None = None,
        normalize: bool = False,
    ) -> torch.Tensor:
        """``video [B, V, T, H, W]`` float in [0, 1] with masks (None = all present) -> ``[B, D]``.

        ``V`` is the view slots in ``model.schema.VIEW_SLOTS`` order (absent views zero and False
        in ``view_mask [B, V]``), ``T`` at most ``cfg.video.frames`` (``frame_mask [B, V, T]``
        False for padding frames), ``H = W = cfg.video.image_size``; masks are bool, True =
        present. ``StudyVideoDataset(ds, ids, frames=T, size=H)`` items are in this form.
        Numpy arrays are read as tensors and a float video of another precision than the
        weights (numpy's float64) is converted; values outside [0, 1] (0-255 frames) and bad
        shapes or a video on another device than the weights raise ``UserError``. ``normalize=True`` returns unit-norm rows.
        """
        return self._encode_video(video, view_mask, frame_mask, normalize, value_stride=1)

    def _encode_video(
        self,
        video: torch.Tensor,
        view_mask: torch.Tensor | None,
        frame_mask: torch.Tensor | None,
        normalize: bool,
        value_stride: int,
    ) -> torch.Tensor:
        """``encode_video`` checking every ``value_stride``-th value of the video."""
        video, view_mask, frame_mask = (
            None if value is None else torch.as_tensor(value)
            for value in (video, view_mask, frame_mask)
        )
        weights = self.logit_scale
        if video.device != weights.device:
            raise UserError(
                f"video is on {video.device} but the model on {weights.device}: move one to the "
                "other (video.to(device) or model.to(device))"
            )
        if video.is_floating_point() and video.dtype != weights.dtype:
            video = video.to(weights.dtype)
        check_video_values(video, every=value_stride)
        features = self.visual(video, view_mask, frame_mask)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, texts: list[str], normalize: bool = False) -> torch.Tensor:
        """``texts`` (a list of B strings) -> float ``[B, D]`` on the model's device.

        Gradients are tracked unless called under ``torch.no_grad()`` (``model.embed.embed_texts``
        is the no-grad, eval-mode, numpy form). A sentence longer than ``cfg.text.context_length``
        word pieces is read to that length (``self.text.cut_texts(texts)`` lists such texts); a
        single string or an empty list raises ``UserError``. Frozen layers come from the cache.
        """
        features = self.text(texts)
        return F.normalize(features, dim=-1) if normalize else features

    def pretrained_state_names(self) -> list[str]:
        """Keys of ``state_dict()`` holding pretrained weights that training never changes (the
        text tower's frozen part); checkpoints store them by reference (``model.training``)."""
        return [f"text.{name}" for name in self.text.frozen_state_names()]

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute the video tower's attention blocks in backward instead of storing them.

        Trades about a third more video compute for a fraction of its activation memory
        (``BlockStack``), which is what lets a large batch of long videos fit on one GPU.
        """
        set_grad_checkpointing(self.visual, enable)

    def compile_video_tower(self) -> None:
        """Compile the video tower in place with ``torch.compile`` (its parameter names unchanged).

        The ``flat`` tower's fixed-length strip compiles whole, to one graph (the paper preset on
        an H200: 26.8 % -> 36.4 % MFU, ``bench/RESULTS.md``). The ``multiview`` and ``static``
        towers pack only the views present, so their shapes change from batch to batch; there
        each attention block stack compiles alone, with dynamic shapes, and the packing between
        them stays eager.
        """
        if isinstance(self.visual, FlatVideoTower):
            self.visual.compile()
            return
        for module in self.visual.modules():
            if isinstance(module, BlockStack):
                module.compile(dynamic=True)

    def scale(self) -> torch.Tensor:
        """Temperature in use: ``exp(logit_scale)`` clamped to [1, 100] (a scalar tensor)."""
        return self.logit_scale.clamp(0.0, MAX_LOGIT_SCALE).exp()

    def forward(
        self,
        video: torch.Tensor,
        view_mask: torch.Tensor | None,
        frame_mask: torch.Tensor | None,
        texts: list[str],
        with_sentences: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """One batch of pairs -> ``(video [B, D], text [B, D])`` unit-norm, and the scale ``[]``.

        With ``with_sentences`` (sentence pooling only) a fourth item follows: every sentence
        occurrence's unit-norm embedding ``[S, D]`` in ``TextTower.sentence_features`` order, for
        a sentence-level loss; the text embedding is then their per-text mean, as usual.
        """
        check_texts(texts)
        if video.ndim == 5 and len(texts) != len(video):
            raise UserError(f"{len(video)} videos but {len(texts)} texts: forward takes pairs")
        # a training batch is checked on a sample: its loader clamps frames to [0, 1], and the
        # whole check cost about a twentieth of a cpu-small step
        video_features = self._encode_video(video, view_mask, frame_mask, True, TRAIN_VALUE_STRIDE)
        if not with_sentences:
            text_features = self.encode_text(texts, normalize=True)
            return video_features, text_features, self.scale()
        if self.cfg.text.pooling != "sentences":
            raise UserError("sentence features need text.pooling = 'sentences'")
        sentences, owner = self.text.sentence_features(texts)
        text_features = F.normalize(mean_by_owner(sentences, owner, len(texts)), dim=-1)
        sentence_features = F.normalize(sentences, dim=-1)
        return video_features, text_features, self.scale(), sentence_features

    def trainable_parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by part: ``video``, ``text_layers`` (pretrained top layers),
        ``text_head`` (new projection) and ``scale``.

        Lets a trainer give the pretrained text layers their own learning rate (``text_lr``).
        """
        text_layers = [p for p in self.text.bert.parameters() if p.requires_grad]
        return {
            "video": [p for p in self.visual.parameters() if p.requires_grad],
            "text_layers": text_layers,
            "text_head": [p for p in self.text.proj.parameters() if p.requires_grad],
            "scale": [self.logit_scale],
        }
