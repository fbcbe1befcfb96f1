"""The torch ``StudyVideoDataset`` over a ``CMRDataset``, which feeds training and embedding.

It returns float32 ``[V, T, S, S]`` in [0, 1]; when the preset asks for other ``frames`` /
``size`` than stored, frames are re-picked (cine cyclically, LGE slices evenly) and images resized
on the fly. Augmentation is anatomical: small rotation, scale, shift and intensity jitter; never a
left-right flip (the heart's handedness is information).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from model.data.dataset import CMRDataset
from model.data.video_transforms import AugmentConfig, augment_video, frame_indices
from model.schema import VIEW_SLOTS
from model.sentences import vary_impression


class StudyVideoDataset(Dataset):
    """Torch dataset of studies: ``ds[i]`` -> dict(video float32 ``[V, T, S, S]`` in [0, 1],
    view_mask bool ``[V]``, frame_mask bool ``[V, T]``, text str, study_id str).

    ``sentence_drop`` > 0 drops each impression sentence with that probability (at least one is
    kept) and ``word_drop`` > 0 each word of the sentences kept (never a polarity word), or with
    probability ``fragment_rate`` cuts a kept sentence to a prompt-like fragment (see
    ``model.sentences.vary_impression``), drawn like the video augmentation from
    ``(seed, index)`` only.
    """

    def __init__(
        self,
        dataset: CMRDataset,
        ids: list[str] | None = None,
        frames: int | None = None,
        size: int | None = None,
        augment: bool | AugmentConfig = False,
        seed: int = 0,
        sentence_drop: float = 0.0,
        word_drop: float = 0.0,
        fragment_rate: float = 0.0,
    ) -> None:
        self.dataset = dataset
        self.ids = list(dataset.ids() if ids is None else ids)
        for study_id in self.ids:
            dataset.row(study_id)  # DataError for an unknown id, now rather than mid-epoch
        self.frames = int(frames or dataset.frames)
        self.size = int(size or dataset.size)
        self.augment = (
            augment
            if isinstance(augment, AugmentConfig)
            else (AugmentConfig() if augment else None)
        )
        self.seed = seed
        self.sentence_drop = sentence_drop
        self.word_drop = word_drop
        self.fragment_rate = fragment_rate
        rows = dataset.studies.set_index("study_id").loc[self.ids]
        self._texts = [str(t or "") for t in rows["impression"]]
        counts = (
            np.stack([np.asarray(v, dtype=np.int64) for v in rows["view_frames"]])
            if self.ids
            else np.zeros((0, len(VIEW_SLOTS)), dtype=np.int64)
        )
        self._counts = counts

    def __len__(self) -> int:
        return len(self.ids)

    def _rng(self, index: int) -> np.random.Generator:
        """Per-item generator from ``(seed, index)`` only, so a resumed run augments exactly as the
        uninterrupted one; the trainer varies ``seed`` per epoch."""
        return np.random.default_rng([self.seed, index])

    def __getitem__(self, index: int) -> dict:
        study_id = self.ids[index]
        stored = self.dataset.load_video(study_id)
        counts = self._counts[index]
        time_index, frame_mask = frame_indices(counts, stored.shape[1], self.frames)
        clip = stored[np.arange(stored.shape[0])[:, None], time_index]  # uint8 [V, T, S0, S0]
        clip[~frame_mask] = 0
        video = torch.from_numpy(clip).to(torch.float32).mul_(1.0 / 255.0)
        if self.size != video.shape[-1]:
            video = F.interpolate(
                video,
                size=(self.size, self.size),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
        if self.augment is not None:
            video = augment_video(
                video, torch.from_numpy(frame_mask), self._rng(index), self.augment
            )
        return {
            "video": video,
            "view_mask": torch.from_numpy(counts > 0),
            "frame_mask": torch.from_numpy(frame_mask),
            "text": vary_impression(
                self._texts[index],
                self.sentence_drop,
                self.word_drop,
                np.random.default_rng([self.seed, index, 1]),
                self.fragment_rate,
            ),
            "study_id": study_id,
        }
