"""The training loop behind ``python -m model train``: setup, resume, epochs, validation, saving.

Rank 0 writes the run folder and checkpoints; every rank trains. Resume restores weights,
optimiser, schedule, every rank's random state and the step counter; the batch order is a pure
function of (seed, epoch), so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from model.data.dataset import CMRDataset, StudyVideoDataset
from model.errors import CheckpointError
from model.nn.clip_model import CMRClip
from model.nn.config import Preset
from model.nn.loss import ClipLoss
from model.nn.presets import preset_to_dict
from model.progress import Progress
from model.provenance import run_context, software_versions, utc_now
from model.relocate import recorded_path
from model.training import checkpoint as ckpt
from model.training.accumulation import micro_batch_count
from model.training.budget import EpochBudget
from model.training.distributed import (
    DistContext,
    PeerLost,
    barrier,
    broadcast_object,
    gather_objects,
    global_batch_size,
    peer_loss_as_user_error,
)
from model.training.engine import Engine, StepOutcome, TrainingDiverged, epoch_batches
from model.training.init_from import run_init
from model.training.run_folder import RunFolder
from model.training.schedule import build_optimizer, build_scheduler, set_total_steps
from model.training.train import TrainOptions, TrainResult, log_run_start
from model.training.val_loss import TrainingLoss, warn_batch_loss
from model.training.validation import ValLabels, ValSet, logged_val_labels, validate_epoch
from model.training.weights import checkpoint_extra

log = logging.getLogger(__name__)
_STATUS_INTERVAL_S = 2.0


class Trainer:
    """One training run (one process of it under torchrun)."""

    def __init__(
        self, options: TrainOptions, preset: Preset, ctx: DistContext, stop_flag: list[bool]
    ) -> None:
        self.options, self.preset, self.ctx, self.stop_flag = options, preset, ctx, stop_flag
        self.cfg = preset.train
        self.ds = CMRDataset.open(options.data)
        self.train_ids, blank = self.ds.trainable_ids()
        if blank:
            log.warning("%d train studies have no report impression; they are left out", blank)
        self.val_ids, _ = self.ds.reported_ids("val")
        self.val_set = ValSet(self.ds, self.val_ids, self.cfg.frames, self.cfg.image_size)
        self.val_labels: ValLabels = (None, None)  # read now: a wrong file makes no run folder
        if options.val_labels is not None and ctx.is_main:
            self.val_labels = logged_val_labels(options.val_labels, self.ds)
        self.global_batch = global_batch_size(self.cfg.batch_size, len(self.train_ids), ctx)
        micro_batch_count(self.cfg.accum_freq, self.global_batch // ctx.world_size)
        self.steps_per_epoch = len(self.train_ids) // self.global_batch
        budget_s = self.cfg.time_budget_s
        self.budget = EpochBudget(budget_s, self.cfg.epochs, resolved=budget_s <= 0)
        self.folder = RunFolder(Path(options.out))
        self.data_fingerprint = self.ds.fingerprint()
        self.start, self.init_record = run_init(options, preset, self.folder.config_path)
        self.step, self.best_score, self.losses, self.best_step = 0, float("-inf"), [], -1
        self._last_status, self._session_start, self._session_steps = 0.0, time.monotonic(), 0

    @property
    def total_steps(self) -> int:
        """Steps of the whole run (of the budget's cap until its epochs are chosen)."""
        return self.steps_per_epoch * self.budget.epochs

    def _build(self) -> None:
        torch.manual_seed(self.cfg.seed)  # identical initial weights on every rank
        model = self.start if self.start is not None else CMRClip(self.preset.model)
        self.model = model.to(self.ctx.device)  # --init-from's, built with its weights
        self.model.input_frames, self.model.input_size = self.cfg.frames, self.cfg.image_size
        self.optimizer = build_optimizer(self.model, self.cfg)
        self.scheduler = build_scheduler(self.optimizer, self.cfg, self.total_steps)
        self.loss_fn = ClipLoss(local_loss=True, gather_with_grad=True)
        ckpt.seed_all(self.cfg.seed * 1000 + self.ctx.rank)
        if self.options.resume:
            self._restore()
        self.model.set_grad_checkpointing(self.cfg.grad_checkpointing)
        if self.cfg.compile:
            log.info("compiling the video tower (the first steps are slow)")
            self.model.compile_video_tower()
        wrapped: torch.nn.Module = self.model
        if self.ctx.distributed:
            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            wrapped = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.engine = Engine(
            wrapped,
            self.loss_fn,
            self.optimizer,
            self.scheduler,
            self.ctx,
            self.cfg.grad_clip,
            self.cfg.precision,
            sentence_weight=self.cfg.sentence_loss,
            accum_freq=self.cfg.accum_freq,
        )

    def _restore(self) -> None:
        payload = ckpt.read_checkpoint(self.folder.last_checkpoint)
        meta = ckpt.meta_from_payload(self.folder.last_checkpoint, payload)
        ckpt.check_resumable_with(meta, self.preset, self.ds.matches_fingerprint)
        if "resume" not in payload:
            raise CheckpointError(f"{self.folder.last_checkpoint} holds no resume state")
        state = payload["resume"]
        ckpt.load_weights(self.model, payload, self.folder.last_checkpoint)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        rng = state["rng"]
        ckpt.restore_rng(rng[self.ctx.rank] if self.ctx.rank < len(rng) else rng[0])
        self.budget.check_resume_step(meta.step, self.steps_per_epoch)
        self.step = meta.step
        self.best_score = float(state["trainer"]["best_score"])
        self.best_step = int(state["trainer"].get("best_step", -1))
        self.losses = [float(x) for x in state["trainer"]["losses"]]
        if self.cfg.time_budget_s > 0 and "budget" in state["trainer"]:
            self.budget = EpochBudget(self.cfg.time_budget_s, **state["trainer"]["budget"])
        set_total_steps(self.scheduler, self.total_steps)  # the run's, not the checkpoint's
        log.info("resuming %s at step %d (epoch %d)", self.folder.root, self.step, meta.epoch)
        if self.ctx.is_main and self.best_step == self.step:
            ckpt.republish_best(self.folder.last_checkpoint, self.folder.best_checkpoint, self.step)

    def _prepare_folder(self) -> None:
        if not self.ctx.is_main:
            return
        self.folder.attach_log()
        self.val_set.warn_selection()
        warn_batch_loss(len(self.val_ids), self.global_batch)
        if self.options.resume:
            self.folder.truncate_metrics_after(self.step)
        self._write_config()

    def _write_config(self) -> None:
        config = {
            "preset": preset_to_dict(self.preset),
            "data": recorded_path(self.options.data),  # not as typed: read from other folders
            "data_fingerprint": self.data_fingerprint,
            "device": str(self.ctx.device),
            "world_size": self.ctx.world_size,
            "global_batch": self.global_batch,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.budget.epochs,
            "epochs_chosen_by_time_budget": self.budget.resolved and self.budget.budget_s > 0,
            "total_steps": self.total_steps,
            "n_train": len(self.train_ids),
            "n_val": len(self.val_ids),
            "val_labels": recorded_path(self.options.val_labels),
            "init_from": self.init_record,  # the checkpoint a new run started from, if any
            "selection": self.val_set.selection,
            "versions": software_versions(),
            **run_context(self.options.command),  # command, code version, threads
            "started": utc_now(),  # this process's start; status.json's "updated" its end
        }
        self.folder.write_config(config)
        log_run_start(config, self.step, self.folder.root)

    def run(self) -> TrainResult:
        if self.ctx.is_main:  # refuse a clobbering --out before any work
            self.folder.prepare(self.options.resume)
        barrier(self.ctx)
        self._build()
        self._prepare_folder()
        self._status("running", message="training")
        try:
            with peer_loss_as_user_error(self.ctx):
                state = self._epochs()
        except (TrainingDiverged, PeerLost) as err:  # said with what the run folder kept
            diverged = isinstance(err, TrainingDiverged)
            kept = self.folder.kept_after_divergence if diverged else self.folder.kept_for_resume
            failure = type(err)(f"{err}; {kept()}")
            self._status("failed", message=str(failure))
            raise failure from None
        except BaseException as err:
            self._status("failed", message=str(err) or type(err).__name__)
            raise
        finally:
            if self.ctx.is_main:
                self.folder.detach_log()
        best = self.folder.best_checkpoint
        return TrainResult(
            state=state,
            epoch=self.step // self.steps_per_epoch,
            step=self.step,
            last_checkpoint=self.folder.last_checkpoint,
            best_checkpoint=best if best.exists() else None,
            losses=list(self.losses),
            is_main=self.ctx.is_main,
            processes=self.ctx.world_size,
        )

    def _epochs(self) -> str:
        # a count the budget still chooses is an estimate from the start, as status.json says
        with Progress("train", self.total_steps, "step", estimated=self.budget.active) as bar:
            bar.update(self.step)
            self._bar = bar
            self.budget.start_epochs(self.step)
            while self.step < self.total_steps:
                epoch, start = divmod(self.step, self.steps_per_epoch)
                batches = epoch_batches(
                    len(self.train_ids), self.global_batch, self.cfg.seed, epoch
                )
                dataset = StudyVideoDataset(
                    self.ds,
                    self.train_ids,
                    frames=self.cfg.frames,
                    size=self.cfg.image_size,
                    augment=self.cfg.augment,
                    seed=self.cfg.seed * 1000 + epoch,
                    sentence_drop=self.cfg.sentence_drop,
                    word_drop=self.cfg.word_drop,
                    fragment_rate=self.cfg.fragment_rate,
                )
                completed = self.engine.run_epoch(
                    dataset,
                    batches,
                    start,
                    self.step + 1,
                    self.cfg.num_workers,
                    self._on_step,
                    self._should_stop,
                )
                if completed:
                    self._end_of_epoch(epoch, self.val_labels)
                else:
                    self._save(self.folder.last_checkpoint)
                if not completed or (self._should_stop() and self.step < self.total_steps):
                    self._status(
                        "stopped", message=f"stopped at step {self.step}; --resume continues"
                    )
                    return "stopped"
        self._status("finished", message="done", eta_s=0)
        return "finished"

    def _should_stop(self) -> bool:
        limit = self.options.max_steps
        return self.stop_flag[0] or (limit is not None and self.step >= limit)

    def _on_step(self, index: int, outcome: StepOutcome) -> None:
        self.step += 1
        self._session_steps += 1
        self.losses.append(outcome.loss)
        epoch = (self.step - 1) // self.steps_per_epoch
        self._bar.eta_limit_s = self.budget.eta_limit_s()  # the budget's end, while it chooses
        self._bar.update(1, message=f"epoch {epoch + 1} loss {outcome.loss:.3f}")
        if self.ctx.is_main and (self.step % self.cfg.log_every == 0 or self.step == 1):
            self.folder.append_metrics(
                {
                    "kind": "train",
                    "epoch": epoch,
                    "step": self.step,
                    "loss": outcome.loss,
                    "lr": outcome.lr,
                    **outcome.rates(),
                    "time": time.time(),
                }
            )
        if time.monotonic() - self._last_status > _STATUS_INTERVAL_S:
            self._status("running", message=f"epoch {epoch + 1} loss {outcome.loss:.3f}")

    def _end_of_epoch(self, epoch: int, val_labels: ValLabels) -> None:
        # while the budget is open this may be the last epoch: validate, and time it with the epoch
        last = epoch + 1 == self.budget.epochs or self.budget.active
        improved = False
        if self.ctx.is_main and self.val_ids and ((epoch + 1) % self.cfg.eval_every == 0 or last):
            matched = TrainingLoss(self.global_batch, self.cfg.sentence_loss)  # as a step scores
            args = (self.model, self.val_set, val_labels, epoch, self.step, self.folder, matched)
            score = validate_epoch(*args, bar=self._bar)
            # a val split of one study scores every epoch alike: keep the latest, as without one
            improved = score > self.best_score or not self.val_set.ranks_epochs
            self.best_score = max(score, self.best_score)
        elif self.ctx.is_main and not self.val_ids:
            improved = True  # no val split: the latest epoch is the best we know
        improved = bool(broadcast_object(self.ctx, improved))
        if self.budget.active:
            self._choose_epochs()
        if improved:
            self.best_step = self.step
        self._save(self.folder.last_checkpoint)
        if improved and self.ctx.is_main:
            ckpt.publish_copy(self.folder.last_checkpoint, self.folder.best_checkpoint)
        self._status("running", message=f"epoch {epoch + 1} done")

    def _choose_epochs(self) -> None:
        """Fix the run's epochs once the budget can tell (rank 0 decides for every rank)."""
        proposed = broadcast_object(self.ctx, self.budget.propose(self.step, self.steps_per_epoch))
        if proposed is None:  # the bar counts the epochs the budget points to so far
            self._bar.set_total(self.steps_per_epoch * self.budget.estimate, estimated=True)
            return
        self.budget.fix(int(proposed))
        set_total_steps(self.scheduler, self.total_steps)
        self._bar.set_total(self.total_steps)
        if self.ctx.is_main:
            self._write_config()

    def _save(self, path: Path) -> None:
        """Every rank contributes its RNG state; rank 0 writes the checkpoint atomically."""
        rngs = gather_objects(self.ctx, ckpt.capture_rng())
        if not self.ctx.is_main:
            return
        resume = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rngs,
            "trainer": {
                "best_score": self.best_score,
                "best_step": self.best_step,
                "losses": list(self.losses),
                "budget": self.budget.state(),
            },
        }
        ckpt.save_checkpoint(
            path,
            self.model,
            preset_to_dict(self.preset),
            data_fingerprint=self.data_fingerprint,
            epoch=self.step // self.steps_per_epoch,
            step=self.step,
            tokenizer=self.model.text.reference,
            resume_state=resume,
            extra=checkpoint_extra(self.model, self.init_record),  # sizes; init_from travels
            pretrained=self.model.pretrained_state_names(),
        )

    def _status(self, state: str, **fields: Any) -> None:
        self._last_status = time.monotonic()
        if not self.ctx.is_main:
            return
        per_step = (time.monotonic() - self._session_start) / max(self._session_steps, 1)
        steps_left = self.total_steps - self.step
        eta = self.budget.capped_eta(per_step * steps_left if self._session_steps else None)
        write = self.folder.record_failure if state == "failed" else self.folder.update_status
        progress = self.budget.progress(self.step, self.steps_per_epoch)
        write(**{"state": state, **progress, "eta_s": eta, **fields})  # a caller's eta_s wins
