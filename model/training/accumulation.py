"""Gradient accumulation for a contrastive loss: the whole batch's loss, one micro-batch's memory.

A contrastive loss couples every pair of a batch, so summing the losses of K smaller batches is
not the loss of the big one: each would see B/K - 1 negatives instead of B - 1. As open_clip's
``--accum-freq`` does, an accumulated step runs in two passes over K micro-batches of the local
batch (``split_batch``: contiguous, sizes differing by at most one):

1. without gradients, every micro-batch's features are computed and kept
   (``ContrastiveFeatures``: video ``[b_k, D]``, text ``[b_k, D]``, sentences ``[s_k, D]``);
2. for each micro-batch k in turn, its features are computed again with gradients and put in
   place of its kept ones (``join_features``); the loss of the whole batch is computed from them
   and backpropagated.

The loss reaches the weights only through the features, and pass k carries exactly micro-batch
k's share of them, so the gradients summed over the K passes are those of the whole batch in one
pass. Activations are held for one micro-batch at a time; the price is one more forward per step.

Exact equality needs both forwards of a micro-batch to draw the same random numbers (dropout,
token word dropout): the second replays the random state the first started from
(``RandomState``). The temperature enters every pass's loss but takes its gradient in one pass
only (the last, the one DDP synchronises), not K times.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from model.errors import UserError


@dataclass(frozen=True)
class ContrastiveFeatures:
    """A batch's unit-norm features as the losses take them (float32).

    ``video [B, D]``, ``text [B, D]``, ``scale []`` (``exp(logit_scale)``) and, for the sentence
    loss, ``sentences [S, D]``: every sentence occurrence in batch order.
    """

    video: torch.Tensor
    text: torch.Tensor
    scale: torch.Tensor
    sentences: torch.Tensor | None = None

    @classmethod
    def from_outputs(cls, outputs: tuple[torch.Tensor, ...]) -> ContrastiveFeatures:
        """``CMRClip.forward``'s ``(video, text, scale[, sentences])`` in float32."""
        video, text, scale, *rest = (x.float() for x in outputs)
        return cls(video, text, scale, rest[0] if rest else None)


def join_features(
    parts: list[ContrastiveFeatures], scale: torch.Tensor
) -> ContrastiveFeatures:  # fmt: skip
    """The micro-batches' features as one batch's, in order, with the temperature ``scale``."""
    sentences = [part.sentences for part in parts]
    return ContrastiveFeatures(
        video=torch.cat([part.video for part in parts]),
        text=torch.cat([part.text for part in parts]),
        scale=scale,
        sentences=None if sentences[0] is None else torch.cat(sentences),
    )


def with_part(
    kept: list[ContrastiveFeatures], index: int, fresh: ContrastiveFeatures, last: bool
) -> ContrastiveFeatures:
    """The whole batch's features with micro-batch ``index``'s kept ones replaced by ``fresh``
    (computed with gradients); the temperature keeps its gradient only when ``last``."""
    parts = [fresh if i == index else part for i, part in enumerate(kept)]
    return join_features(parts, fresh.scale if last else fresh.scale.detach())


def micro_batch_count(accum_freq: int, local_batch: int) -> int:
    """The micro-batches a step of ``local_batch`` studies per process is cut into; raises
    ``UserError`` when there are fewer studies than ``accum_freq``."""
    if accum_freq > local_batch:
        raise UserError(
            f"--accum-freq {accum_freq} cuts a step into more micro-batches than the "
            f"{local_batch} studies each process takes per step: use at most {local_batch}"
        )
    return accum_freq


def split_batch(batch: dict, parts: int) -> list[dict]:
    """A collated batch (tensors ``[B, ...]`` and lists of B items) -> ``parts`` contiguous
    micro-batches of the same keys, sizes differing by at most one."""
    size = len(batch["text"])
    bounds = [round(i * size / parts) for i in range(parts + 1)]
    return [
        {key: value[start:stop] for key, value in batch.items()}
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
    ]


@dataclass(frozen=True)
class RandomState:
    """torch's random state on the CPU and on ``device``'s GPU, to replay a forward's draws."""

    cpu: torch.Tensor
    cuda: torch.Tensor | None
    device: torch.device

    @classmethod
    def capture(cls, device: torch.device) -> RandomState:
        cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        return cls(torch.get_rng_state(), cuda, device)

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state(self.cuda, self.device)
