"""One epoch of contrastive training: deterministic batch order, forward, loss, step.

The order of studies is a pure function of (seed, epoch), so a run resumed mid-epoch sees exactly
the batches it would have seen (the first ``start`` batches of the epoch are skipped, not redrawn).
Under DDP each global batch is cut into equal contiguous shards, one per rank; the logged loss is
the mean over ranks, which equals the single-process loss on the same global batch.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from model.errors import OutOfDeviceMemory, UserError
from model.nn.loss import text_ids_from_texts
from model.nn.sentence_loss import SentenceLoss
from model.training.accumulation import (
    ContrastiveFeatures,
    RandomState,
    join_features,
    micro_batch_count,
    split_batch,
    with_part,
)
from model.training.distributed import DistContext, any_across, mean_across
from model.training.stopping import STOP_SIGNALS
from model.workers import usable_cpus

log = logging.getLogger(__name__)
MAX_LOGIT_SCALE = math.log(100.0)


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the run stops and keeps its last good checkpoint (the
    trainer adds which, if any, to the message)."""


@contextlib.contextmanager
def out_of_memory_as_user_error(
    step: int, studies: int, ctx: DistContext, accum_freq: int = 1
) -> Iterator[None]:
    """Turn a CUDA out-of-memory error in step ``step`` into one message saying what to change.

    The remedies that keep the run resumable (more micro-batches, gradient checkpointing, more
    GPUs for the same global batch) come before the one that does not (a smaller batch).
    """
    try:
        yield
    except torch.OutOfMemoryError:
        spread = f" (the global batch over {ctx.world_size} processes)" if ctx.distributed else ""
        finer = 2 * accum_freq
        pieces = (
            f"--accum-freq {finer} (the same batch in {finer} passes) or "
            if finer <= studies
            else ""
        )
        raise OutOfDeviceMemory(
            f"{OutOfDeviceMemory.PREFIX} at step {step}, {studies} studies per GPU{spread}. "
            f"Rerun with {pieces}--grad-checkpointing, or spread the batch over more GPUs with "
            "torchrun --nproc_per_node N (add --resume to continue from last.pt, which is kept), "
            "or start afresh with a lower --batch-size"
        ) from None


def epoch_batches(n_items: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Global batches of item indices for ``epoch`` (drop-last; a batch is at most n_items)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n_items, generator=generator).tolist()
    size = min(batch_size, n_items)
    return [order[i : i + size] for i in range(0, n_items - size + 1, size)]


def rank_shard(batch: list[int], ctx: DistContext) -> list[int]:
    """This rank's contiguous share of a global batch (sizes must divide evenly)."""
    per_rank = len(batch) // ctx.world_size
    return batch[ctx.rank * per_rank : (ctx.rank + 1) * per_rank]


@dataclass
class StepOutcome:
    """What one optimiser step reports: mean loss over ranks and the LR of the video group."""

    loss: float
    lr: float
    studies: int
    seconds: float  # the step's compute
    wall_seconds: float = 0.0  # loading its batch and the step, as a user waits for them

    def rates(self) -> dict[str, float]:
        """Studies per second of the step's compute alone, and on the wall clock."""
        return {
            "studies_per_s": self.studies / max(self.seconds, 1e-9),
            "wall_studies_per_s": self.studies / max(self.wall_seconds or self.seconds, 1e-9),
        }


class Engine:
    """Holds the (possibly DDP-wrapped) model, optimiser, schedule and loss for the steps."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        ctx: DistContext,
        grad_clip: float,
        precision: str,
        sentence_weight: float = 0.0,
        accum_freq: int = 1,
    ) -> None:
        self.model = model
        self.accum_freq = accum_freq
        self.loss_fn = loss_fn
        self.sentence_weight = sentence_weight
        self.sentence_loss_fn = SentenceLoss(gather_with_grad=True)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.ctx = ctx
        self.grad_clip = grad_clip
        self.autocast_dtype = _autocast_dtype(precision, ctx.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.autocast_dtype == torch.float16 else None

    @property
    def raw_model(self) -> nn.Module:
        return getattr(self.model, "module", self.model)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.ctx.device.type, dtype=self.autocast_dtype)

    def features_of(self, batch: dict) -> ContrastiveFeatures:
        """One local batch's features: video ``[B, V, T, S, S]`` + B texts -> ``[B, D]`` each,
        the scale, and every sentence's ``[S, D]`` when the sentence loss is on."""
        device = self.ctx.device
        with self._autocast():
            outputs = self.model(
                batch["video"].to(device, non_blocking=True),
                batch["view_mask"].to(device),
                batch["frame_mask"].to(device),
                list(batch["text"]),
                with_sentences=self.sentence_weight > 0,
            )
        return ContrastiveFeatures.from_outputs(outputs)

    def loss_of(self, features: ContrastiveFeatures, texts: list[str]) -> torch.Tensor:
        """The batch's loss from its features: ``(1 - w) * study-level CLIP loss + w *
        sentence-level loss`` with ``w`` the ``sentence_weight`` (0: the CLIP loss alone)."""
        device = self.ctx.device
        ids = text_ids_from_texts(texts, device)
        weight = self.sentence_weight
        with self._autocast():
            loss = self.loss_fn(features.video, features.text, features.scale, ids)
            if weight == 0:
                return loss
            sentences, owner = self.raw_model.text.read_sentences(texts)  # the model's order
            sentence_loss = self.sentence_loss_fn(
                features.video,
                features.sentences,
                features.scale,
                torch.tensor(owner, device=device),
                text_ids_from_texts(sentences, device),
            )
            return (1.0 - weight) * loss + weight * sentence_loss

    def loss_on(self, batch: dict) -> torch.Tensor:
        """Contrastive loss of one local batch in one pass -> scalar."""
        return self.loss_of(self.features_of(batch), list(batch["text"]))

    def _checked(self, loss: torch.Tensor, step: int) -> float:
        """The mean loss over ranks; raises TrainingDiverged when it is NaN or infinite."""
        mean_loss = float(mean_across(self.ctx, loss).item())
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(f"loss became {mean_loss} at step {step}")
        return mean_loss

    def _backward_of(self, loss: torch.Tensor) -> None:
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def _backward(self, batch: dict, step: int) -> float:
        """Forward, loss check and backward of one step; returns the mean loss over ranks."""
        if self.accum_freq > 1:
            mean_loss = self._accumulated_backward(batch, step)
        else:
            loss = self.loss_on(batch)
            mean_loss = self._checked(loss, step)  # before any gradient
            self.optimizer.zero_grad(set_to_none=True)
            self._backward_of(loss)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        return mean_loss

    def _accumulated_backward(self, batch: dict, step: int) -> float:
        """The whole batch's gradients, one micro-batch's activations at a time
        (``model.training.accumulation``); returns the mean loss over ranks."""
        texts = list(batch["text"])
        parts = split_batch(batch, micro_batch_count(self.accum_freq, len(texts)))
        starts, kept = [], []
        with torch.no_grad():
            for part in parts:
                starts.append(RandomState.capture(self.ctx.device))
                kept.append(self.features_of(part))
            mean_loss = self._checked(
                self.loss_of(join_features(kept, kept[-1].scale), texts), step
            )
        end = RandomState.capture(self.ctx.device)
        self.optimizer.zero_grad(set_to_none=True)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            with contextlib.nullcontext() if last else self._no_sync():
                starts[index].restore()  # the draws of its first forward
                features = with_part(kept, index, self.features_of(part), last)
                self._backward_of(self.loss_of(features, texts))
        end.restore()
        return mean_loss

    def _no_sync(self) -> contextlib.AbstractContextManager:
        """DDP's gradient all-reduce off (all but a step's last backward); a no-op otherwise."""
        no_sync = getattr(self.model, "no_sync", None)
        return no_sync() if no_sync is not None else contextlib.nullcontext()

    def _apply_gradients(self) -> None:
        """Clip the gradients and take the optimiser step (the first one allocates AdamW state)."""
        if self.grad_clip > 0:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def train_step(self, batch: dict, step: int) -> StepOutcome:
        """One optimiser step (``step`` = its 1-based global number, for messages).

        Forward, loss check, backward, clip, step, schedule; raises TrainingDiverged on NaN/inf
        and OutOfDeviceMemory when the GPU's memory runs out.
        """
        start = time.perf_counter()
        self.model.train()
        studies = len(batch["text"])
        with out_of_memory_as_user_error(step, studies, self.ctx, self.accum_freq):
            mean_loss = self._backward(batch, step)
            self._apply_gradients()
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.scheduler.step()
        with torch.no_grad():
            self.raw_model.logit_scale.clamp_(0.0, MAX_LOGIT_SCALE)
        return StepOutcome(
            mean_loss, lr, studies * self.ctx.world_size, time.perf_counter() - start
        )

    def run_epoch(
        self,
        dataset: Dataset,
        batches: list[list[int]],
        start: int,
        first_step: int,
        num_workers: int,
        on_step: Callable[[int, StepOutcome], None],
        should_stop: Callable[[], bool],
    ) -> bool:
        """Train over ``batches[start:]``; ``on_step(index, outcome)`` after each step.

        ``first_step`` is the 1-based global number of the step on ``batches[start]``.

        Returns False when a stop was requested (on any rank) before the epoch finished.
        """
        waited = time.perf_counter()  # the wall clock includes loading each batch
        for index, batch in self._batches(dataset, batches, start, num_workers):
            outcome = self.train_step(batch, first_step + index - start)
            outcome.wall_seconds = time.perf_counter() - waited
            on_step(index, outcome)
            if any_across(self.ctx, should_stop()) and index + 1 < len(batches):
                return False
            waited = time.perf_counter()
        return True

    def _batches(
        self, dataset: Dataset, batches: list[list[int]], start: int, num_workers: int
    ) -> Iterator[tuple[int, dict]]:
        shards = [rank_shard(b, self.ctx) for b in batches[start:]]
        # A private generator: creating the loader must not draw from the global RNG, or a
        # resumed run (one more loader than an uninterrupted one) would drift from it.
        if num_workers > usable_cpus() and self.ctx.is_main:
            _say_workers_outnumber_cpus(num_workers, usable_cpus())
        with warnings.catch_warnings():  # torch's multi-line version of that line, twice
            warnings.filterwarnings("ignore", "This DataLoader will create", UserWarning)
            loader = DataLoader(
                dataset,
                batch_sampler=shards,
                num_workers=num_workers,
                generator=torch.Generator().manual_seed(len(batches) * 7919 + start),
                pin_memory=self.ctx.device.type == "cuda",
                persistent_workers=False,
                worker_init_fn=_leave_stop_signals_to_the_trainer,
            )
            loaded = iter(loader)
        yield from enumerate(loaded, start=start)


@functools.cache  # once per run, not every epoch
def _say_workers_outnumber_cpus(workers: int, cpus: int) -> None:
    log.warning(
        "%d data loader workers share this process's %d CPUs, which may slow loading down or "
        "stall it: --workers %d fits them",
        workers,
        cpus,
        cpus,
    )


def _leave_stop_signals_to_the_trainer(_worker_id: int) -> None:
    """A loader worker ignores ``STOP_SIGNALS``: they are the training process's stop request.

    The dashboard's Stop, Ctrl-C, systemd and Slurm signal every process of the run; a worker
    that died of it would fail the run mid-step instead of letting it stop after the step and
    save ``last.pt``. The workers end with the loader (or with their parent, if it is killed).
    """
    for sig in STOP_SIGNALS:  # SIGUSR1 too: a forked worker inherits the trainer's handler
        signal.signal(sig, signal.SIG_IGN)


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 / fp16 autocast on CUDA only; CPU always trains in fp32."""
    if device.type != "cuda" or precision == "fp32":
        return None
    return torch.bfloat16 if precision == "bf16" else torch.float16
