"""Time-budgeted runs: how many epochs fit in ``train.time_budget_s``, decided after epoch seven.

A preset can ask for "as many epochs as fit in 13 minutes, at most 84" instead of a fixed count,
so a fast machine uses the time a slow one needs for fewer epochs. The count is fixed once, at
the end of epoch ``DECIDED_AFTER``, from the median wall time of the epochs since
``TIMED_FROM`` (validation and checkpoint included). The first epochs are slower than the rest
of a run: the first can meet cold file caches, and the first few still fill the text tower's
caches (frozen states and word layouts of the sentence variants that fragments and sentence
dropout make). On the demo, epochs 2-4 took 7 and 21 % longer than the mean of the epochs after
them, so timing them left up to 130 s of a 780-s budget unused (bench/RESULTS.md, session 29);
from epoch 5 on, epochs run at the speed of the rest of the run. A budget an earlier epoch
already shows too small to reach epoch ``DECIDED_AFTER`` is decided at once. Until then the
schedule follows the cap's: for cpu-small's 60-odd epochs its learning rate at epoch seven is
0.6 % above the chosen count's.
The count is then recorded in the run folder and the checkpoints: the rest of the run, a resumed
run included, is as deterministic as a fixed-epoch run. The cosine schedule is stretched to the
chosen count from the next step (``schedule.set_total_steps``); warmup was planned for the cap
and is unchanged.

Time spent before an interruption is carried in the checkpoint (``spent_s``, and the epoch times
measured so far), so a run stopped and resumed still counts all of it; an epoch timed across a
resume is scaled from the steps this session ran of it.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import dataclass, field

from model.errors import UserError
from model.wording import counted

log = logging.getLogger(__name__)

TIMED_FROM = 5  # the first epoch whose wall time counts (earlier ones still fill caches)
DECIDED_AFTER = 7  # the count is set from the median time of epochs TIMED_FROM..DECIDED_AFTER


def epochs_within_budget(
    budget_s: float, spent_s: float, epoch_s: float, cap: int, done: int = 1
) -> int:
    """Epochs in all, ``done`` of them trained in ``spent_s``, when each further one takes ``epoch_s``.

    At least ``done`` (those are trained) and at most ``cap``.
    """
    if epoch_s <= 0:
        return cap
    more = math.floor(max(budget_s - spent_s, 0.0) / epoch_s)
    return int(min(done + more, cap)) if done < cap else int(done)


@dataclass
class EpochBudget:
    """Wall-time accounting of one run across its sessions (resume).

    ``epochs`` is the cap until ``resolved``; ``spent_s`` is the time of earlier sessions;
    ``epoch_s`` the wall time of each epoch measured before the count was fixed, by epoch number.
    """

    budget_s: float
    epochs: int
    resolved: bool
    spent_s: float = 0.0
    epoch_s: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._session_start = self._mark = time.monotonic()
        self._mark_step = 0
        # the count the epochs timed so far point to, while it is still open: the progress
        # bar's total (the cap's made a demo build's bar sit at 7 % until it leapt to 85 %)
        self.estimate = self.epochs

    @property
    def active(self) -> bool:
        """Whether the epoch count is still to be chosen."""
        return self.budget_s > 0 and not self.resolved

    def elapsed_s(self) -> float:
        """Run wall time so far, earlier sessions included."""
        return self.spent_s + time.monotonic() - self._session_start

    def remaining_s(self) -> float | None:
        """Budget time left (None without a budget)."""
        return max(self.budget_s - self.elapsed_s(), 0.0) if self.budget_s > 0 else None

    def eta_limit_s(self) -> float | None:
        """The latest a run's ETA may say while the count is open: the budget's end (its steps
        until then are an estimate, or the cap's, which the budget may never reach); None once
        the count is chosen."""
        return (self.remaining_s() or 0.0) if self.active else None

    def capped_eta(self, eta_s: float | None) -> float | None:
        """``eta_s`` no later than ``eta_limit_s``."""
        limit = self.eta_limit_s()
        return eta_s if eta_s is None or limit is None else min(eta_s, limit)

    def start_epochs(self, step: int) -> None:
        """Mark the end of set-up at ``step``: the next epoch's time is counted from here."""
        self._mark, self._mark_step = time.monotonic(), step

    def propose(self, step: int, steps_per_epoch: int) -> int | None:
        """At the end of an epoch (``step``): the run's epoch count if it is decided now, else None.

        The epoch just ended is timed from the previous mark (the previous epoch's end, or the
        end of set-up), scaled to a whole epoch when this session ran only part of it. After
        ``DECIDED_AFTER`` epochs the median time of those since ``TIMED_FROM`` decides; before,
        only a budget with no room to reach epoch ``DECIDED_AFTER`` does.
        """
        now = time.monotonic()
        done = step // steps_per_epoch
        self.epoch_s[done] = (now - self._mark) * steps_per_epoch / max(step - self._mark_step, 1)
        self._mark, self._mark_step = now, step
        timed = [s for epoch, s in self.epoch_s.items() if epoch >= TIMED_FROM]
        typical_s = statistics.median(timed or self.epoch_s.values())
        epochs = epochs_within_budget(self.budget_s, self.elapsed_s(), typical_s, self.epochs, done)
        self.estimate = epochs
        if done < DECIDED_AFTER and epochs > DECIDED_AFTER:
            log.info(
                "time budget: epoch %d took %.1f s; the count waits for epoch %d",
                done,
                self.epoch_s[done],
                DECIDED_AFTER,
            )
            return None
        log.info(
            "time budget %g s: a typical epoch took %.1f s (epochs %s timed), so the run "
            "trains %s (at most %d)",
            self.budget_s,
            typical_s,
            sorted(e for e in self.epoch_s if e >= TIMED_FROM) or [done],
            counted(epochs, "epoch"),
            self.epochs,
        )
        return epochs

    def check_resume_step(self, step: int, steps_per_epoch: int) -> None:
        """UserError when a checkpoint's ``step`` lies past this run's epochs (a resume with a
        smaller ``--epochs`` than the run reached), naming the count that would take it."""
        if step > self.epochs * steps_per_epoch:
            raise UserError(
                f"cannot resume: the run is past {counted(self.epochs, 'epoch')} (step {step}); "
                f"give --epochs {-(-step // steps_per_epoch)} or more"
            )

    def fix(self, epochs: int) -> None:
        """Record the chosen count (rank 0's, under torchrun); the budget is closed."""
        self.epochs, self.resolved = epochs, True

    def progress(self, step: int, steps_per_epoch: int) -> dict[str, int | None]:
        """``status.json``'s counts at ``step``: the epoch, the epochs (the cap while the budget
        still chooses, its estimate beside it), the step and the run's steps."""
        return {
            "epoch": step // steps_per_epoch,
            "epochs": self.epochs,
            "epochs_estimate": self.estimate if self.active else None,
            "step": step,
            "steps": steps_per_epoch * self.epochs,
        }

    def state(self) -> dict:
        """What a checkpoint keeps of the budget."""
        return {
            "epochs": self.epochs,
            "resolved": self.resolved,
            "spent_s": self.elapsed_s(),
            "epoch_s": dict(self.epoch_s),
        }
