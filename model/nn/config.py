"""Typed configuration of the encoder and its training: the dataclasses a preset is made of.

A preset (``model/presets/*.json``) is ``{"model": CMRClipConfig, "train": TrainConfig}``;
``model/nn/presets.py`` loads, validates and round-trips them. Every field has a default, so a
preset only states what differs; unknown keys are rejected there with a message naming them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from model.errors import UserError
from model.schema import VIEW_SLOTS

VideoKind = Literal["multiview", "flat", "static"]
VIDEO_KINDS: tuple[str, ...] = ("multiview", "flat", "static")
Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")


@dataclass
class VideoTowerConfig:
    """Video tower: ``video [B, V, T, H, W] -> [B, embed_dim]``.

    ``patch_size`` fixes the token grid (``image_size // patch_size`` per side) for every kind:
    ``flat`` embeds patches linearly (the published ViT design), ``multiview`` and ``static`` reach
    the same grid with a strided convolutional stem (``stem="conv"``) or the same linear patches
    (``stem="linear"``). ``temporal_grid`` is the side of the pooled grid that temporal attention
    sees in ``multiview`` (0 keeps the full grid). ``flat`` runs
    ``spatial_depth + temporal_depth`` divided space-time blocks over all views' frames.
    ``intensity_bins`` > 1 adds each frame's embedded intensity histogram to its tokens
    (every kind; 0 = off). ``intensity_curve`` (needs ``intensity_bins``) also adds each view's
    histogram range over its frames to the view token (``multiview``; ``static`` gets the same
    part with its one frame; ``flat`` has no view tokens and ignores it).
    ``intensity_cumulative`` makes every histogram feature the share of pixels at or above each
    centre (how much of the frame is at least that bright: the blood pool's area on cine, the
    enhancing area on LGE) instead of the share near it.
    ``tubelet`` groups that many consecutive frames into one stem input in ``multiview`` (ViViT's
    tubelet embedding): the spatial blocks, most of the tower's cost, run once per tubelet
    instead of once per frame, and the stem sees frame-to-frame motion directly (``flat`` and
    ``static`` ignore it, so the kinds stay comparable at equal input).
    ``still_frame`` gives ``multiview`` a second, single-frame encoder that reads each view's
    first present frame on its own, as ``static`` does, and adds its pooled tokens to the view
    token: an appearance stream beside the motion stream (two-stream networks). Still images
    such as the LGE views then reach the model at full weight, not as half of a tubelet.
    """

    kind: VideoKind = "multiview"
    image_size: int = 64
    patch_size: int = 8
    frames: int = 8
    views: int = len(VIEW_SLOTS)
    width: int = 128
    heads: int = 4
    spatial_depth: int = 1
    temporal_depth: int = 1
    fusion_depth: int = 1
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    stem: Literal["conv", "linear"] = "conv"
    temporal_grid: int = 0
    intensity_bins: int = 0
    intensity_curve: bool = False
    intensity_cumulative: bool = False
    tubelet: int = 1
    still_frame: bool = False

    def validate(self) -> None:
        """Raise ``UserError`` naming the first inconsistent field."""
        if self.kind not in VIDEO_KINDS:
            raise UserError(
                f"video.kind must be one of {', '.join(VIDEO_KINDS)}, got {self.kind!r}"
            )
        if self.stem not in ("conv", "linear"):
            raise UserError(f"video.stem must be 'conv' or 'linear', got {self.stem!r}")
        _positive(
            "video",
            image_size=self.image_size,
            patch_size=self.patch_size,
            frames=self.frames,
            views=self.views,
            width=self.width,
            heads=self.heads,
        )
        if self.image_size % self.patch_size:
            raise UserError(
                f"video.image_size ({self.image_size}) must be a multiple of "
                f"video.patch_size ({self.patch_size})"
            )
        if self.width % self.heads:
            raise UserError(f"video.width ({self.width}) must be divisible by heads ({self.heads})")
        grid = self.image_size // self.patch_size
        if self.stem == "conv" and self.patch_size % 2:
            raise UserError(f"video.patch_size ({self.patch_size}) must be even for stem='conv'")
        if self.temporal_grid and (self.temporal_grid > grid or grid % self.temporal_grid):
            raise UserError(
                f"video.temporal_grid ({self.temporal_grid}) must divide the token grid ({grid})"
            )
        if self.intensity_bins == 1 or self.intensity_bins < 0:
            raise UserError(
                f"video.intensity_bins must be 0 (off) or >= 2, got {self.intensity_bins}"
            )
        if self.intensity_curve and not self.intensity_bins:
            raise UserError("video.intensity_curve needs video.intensity_bins >= 2")
        if self.intensity_cumulative and not self.intensity_bins:
            raise UserError("video.intensity_cumulative needs video.intensity_bins >= 2")
        if not 1 <= self.tubelet <= self.frames:
            raise UserError(
                f"video.tubelet must be between 1 and frames ({self.frames}), got {self.tubelet}"
            )
        for name in ("spatial_depth", "temporal_depth", "fusion_depth", "temporal_grid"):
            if getattr(self, name) < 0:
                raise UserError(f"video.{name} must be >= 0")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"video.dropout must be in [0, 1), got {self.dropout}")

    @property
    def grid(self) -> int:
        """Tokens per side of one frame."""
        return self.image_size // self.patch_size

    @property
    def time_steps(self) -> int:
        """Temporal positions in ``multiview``: frames in tubelets, the last one padded."""
        return -(-self.frames // self.tubelet)


@dataclass
class TextTowerConfig:
    """Text tower: pretrained MiniLM-L6 (BERT, hidden 384) with its top layers trainable.

    ``unlocked_layers`` top transformer layers train (0 trains only pooling + projection); the
    token embeddings and lower layers stay frozen in eval mode. With ``cache_frozen`` the frozen
    part runs once per unique text and its hidden states are reused across steps.
    ``pooling = "sentences"`` embeds every sentence of a text on its own and averages the
    sentence embeddings (a one-sentence prompt then matches what training saw); ``"text"`` pools
    the tokens of the whole text at once. ``dropout`` applies to the trainable top layers and the
    pooled vector. ``word_drop`` is word dropout in training on the frozen token states: each
    word (polarity words never) is removed before the trainable layers and the pooling with that
    probability (``model.nn.token_word_drop``; unlike ``train.word_drop`` on the text, it keeps
    the frozen part's cache hitting; 0.3 in cpu-small, see bench/RESULTS.md, sessions 22-23).
    With ``abbreviate_chambers`` every text is read with its chamber names in one form ("left
    ventricular" -> "LV", ``model.sentences.abbreviate_chambers``), in training and for every
    prompt alike.
    """

    unlocked_layers: int = 2
    context_length: int = 96
    cache_frozen: bool = True
    projection: Literal["linear", "mlp"] = "linear"
    dropout: float = 0.0
    pooling: Literal["sentences", "text"] = "sentences"
    abbreviate_chambers: bool = False
    word_drop: float = 0.0

    def validate(self) -> None:
        """Raise ``UserError`` naming the first inconsistent field."""
        if self.unlocked_layers < 0:
            raise UserError("text.unlocked_layers must be >= 0")
        if not 8 <= self.context_length <= 512:
            raise UserError(f"text.context_length must be in [8, 512], got {self.context_length}")
        if self.projection not in ("linear", "mlp"):
            raise UserError(f"text.projection must be 'linear' or 'mlp', got {self.projection!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"text.dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.word_drop < 1.0:
            raise UserError(f"text.word_drop must be in [0, 1), got {self.word_drop}")
        if self.pooling not in ("sentences", "text"):
            raise UserError(f"text.pooling must be 'sentences' or 'text', got {self.pooling!r}")


@dataclass
class CMRClipConfig:
    """The whole encoder: both towers project to a shared ``embed_dim`` space.

    ``init_logit_scale`` is the initial log temperature (ln(1 / 0.07) as in CLIP).
    """

    embed_dim: int = 128
    video: VideoTowerConfig = field(default_factory=VideoTowerConfig)
    text: TextTowerConfig = field(default_factory=TextTowerConfig)
    init_logit_scale: float = 2.6592600369262695

    def validate(self) -> None:
        """Validate this config and both tower configs."""
        _positive("model", embed_dim=self.embed_dim)
        self.video.validate()
        self.text.validate()


@dataclass
class TrainConfig:
    """Optimisation and data settings of a training run.

    ``frames`` / ``image_size`` are what the data loader feeds the tower (they must not exceed
    the video config). ``warmup_fraction`` applies when ``warmup_steps`` is 0.
    ``sentence_drop`` drops each impression sentence with that probability per step (at least one
    kept) and ``word_drop`` each word of the sentences kept (polarity words never; see
    ``model.sentences.drop_words``), unless with probability ``fragment_rate`` the sentence is cut
    to its polarity words and one or two content words (``model.sentences.fragment_sentence``:
    "Subendocardial LGE of the inferior wall." -> "LGE."); ``sentence_loss`` is the weight of the
    sentence-level loss (``model.nn.sentence_loss``) against the study-level CLIP loss (needs
    ``text.pooling = "sentences"``).

    With ``time_budget_s`` > 0, ``epochs`` is the most the run trains: after its seventh epoch
    the run keeps as many epochs as the median wall time of epochs five to seven (validation
    included; the first ones run slow on cold and filling caches) says fit in the budget, at
    least those trained (``model.training.budget``). 0 trains exactly ``epochs``.

    ``compile`` runs the video tower through ``torch.compile`` (``CMRClip.compile_video_tower``):
    the first steps take a minute or more to compile, then a ``flat`` tower steps faster.
    ``grad_checkpointing`` recomputes the video tower's blocks in backward
    (``CMRClip.set_grad_checkpointing``): more compute, much less activation memory.
    ``accum_freq`` > 1 computes each step's gradients in that many micro-batches per process
    (``model.training.accumulation``): the same gradients, one micro-batch's activation memory,
    one more forward per step.
    """

    epochs: int = 8
    time_budget_s: float = 0.0
    batch_size: int = 32
    lr: float = 1e-3
    text_lr: float = 1e-4
    weight_decay: float = 0.05
    warmup_steps: int = 0
    warmup_fraction: float = 0.05
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    frames: int = 8
    image_size: int = 64
    augment: bool = True
    sentence_drop: float = 0.0
    word_drop: float = 0.0
    fragment_rate: float = 0.0
    sentence_loss: float = 0.0
    seed: int = 0
    num_workers: int = 0
    precision: Precision = "fp32"
    compile: bool = False
    grad_checkpointing: bool = False
    accum_freq: int = 1
    eval_every: int = 1
    log_every: int = 10

    def validate(self) -> None:
        """Raise ``UserError`` naming the first inconsistent field."""
        _positive(
            "train",
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            frames=self.frames,
            image_size=self.image_size,
            accum_freq=self.accum_freq,
            eval_every=self.eval_every,
            log_every=self.log_every,
        )
        if self.time_budget_s < 0:
            raise UserError(f"train.time_budget_s must be >= 0, got {self.time_budget_s}")
        if self.text_lr < 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise UserError("train.text_lr, weight_decay and grad_clip must be >= 0")
        if not 0.0 <= self.sentence_loss <= 1.0:
            raise UserError(f"train.sentence_loss must be in [0, 1], got {self.sentence_loss}")
        for name in ("sentence_drop", "word_drop", "fragment_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise UserError(f"train.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.warmup_steps < 0 or not 0.0 <= self.warmup_fraction < 1.0:
            raise UserError("train.warmup_steps must be >= 0 and warmup_fraction in [0, 1)")
        if self.num_workers < 0:
            raise UserError("train.num_workers must be >= 0")
        if self.precision not in PRECISIONS:
            raise UserError(f"train.precision must be one of {', '.join(PRECISIONS)}")


@dataclass
class Preset:
    """A named model + training configuration (one JSON file in ``model/presets``)."""

    model: CMRClipConfig = field(default_factory=CMRClipConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "custom"

    def validate(self) -> None:
        """Validate both parts and their agreement on input size."""
        self.model.validate()
        self.train.validate()
        video = self.model.video
        if self.train.image_size != video.image_size:
            raise UserError(
                f"train.image_size ({self.train.image_size}) must equal "
                f"model.video.image_size ({video.image_size})"
            )
        if self.train.frames > video.frames:
            raise UserError(
                f"train.frames ({self.train.frames}) exceeds model.video.frames ({video.frames})"
            )
        if self.train.sentence_loss > 0 and self.model.text.pooling != "sentences":
            raise UserError("train.sentence_loss needs model.text.pooling = 'sentences'")


def _positive(section: str, **values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise UserError(f"{section}.{name} must be > 0, got {value}")
