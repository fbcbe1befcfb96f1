"""Time-budgeted runs: how many epochs fit in ``train.time_budget_s``, decided after epoch one.

A preset can ask for "as many epochs as fit in 13 minutes, at most 56" instead of a fixed count,
so a fast machine uses the time a slow one needs for fewer epochs. The count is fixed once, from
the wall time of the first epoch (its validation and checkpoint included), and then recorded in
the run folder and the checkpoints: the rest of the run, a resumed run included, is as
deterministic as a fixed-epoch run. The cosine schedule is stretched to the chosen count before
the second epoch starts (``schedule.set_total_steps``); warmup was planned for the cap and is
unchanged.

Time spent before an interruption is carried in the checkpoint (``spent_s``), so a run stopped
and resumed inside its first epoch still counts the whole first epoch.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


def epochs_within_budget(budget_s: float, spent_s: float, epoch_s: float, cap: int) -> int:
    """Epochs in all, one of them done in ``spent_s``, when each further one takes ``epoch_s``.

    At least 1 (the epoch already trained) and at most ``cap``.
    """
    if epoch_s <= 0:
        return cap
    more = math.floor(max(budget_s - spent_s, 0.0) / epoch_s)
    return int(min(max(1 + more, 1), cap))


@dataclass
class EpochBudget:
    """Wall-time accounting of one run across its sessions (resume).

    ``epochs`` is the cap until ``resolved``; ``spent_s`` is the time of earlier sessions.
    """

    budget_s: float
    epochs: int
    resolved: bool
    spent_s: float = 0.0

    def __post_init__(self) -> None:
        self._session_start = self._epochs_start = time.monotonic()

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

    def start_epochs(self) -> None:
        """Mark the end of set-up: the first epoch's time is counted from here."""
        self._epochs_start = time.monotonic()

    def resolve(self, session_steps: int, steps_per_epoch: int) -> int:
        """Fix ``epochs`` at the end of the first epoch, ``session_steps`` of it in this session.

        The epoch's time is this session's time since ``start_epochs``, scaled to a whole epoch
        (a resumed session may have run only part of it); set-up counts as spent, not per epoch.
        """
        session_s = time.monotonic() - self._epochs_start
        epoch_s = session_s * steps_per_epoch / max(session_steps, 1)
        cap = self.epochs
        self.epochs = epochs_within_budget(self.budget_s, self.elapsed_s(), epoch_s, cap)
        self.resolved = True
        log.info(
            "time budget %.0f s: the first epoch took %.1f s, so the run trains %d epochs "
            "(at most %d)",
            self.budget_s,
            epoch_s,
            self.epochs,
            cap,
        )
        return self.epochs

    def state(self) -> dict:
        """What a checkpoint keeps of the budget."""
        return {"epochs": self.epochs, "resolved": self.resolved, "spent_s": self.elapsed_s()}
