"""What an empty state says while the demo build is making what the page lacks.

On a first run every page said "No dataset yet. Build the demo data on the Home page" while the
build ``./run.sh`` had started was generating it, and once a checkpoint existed the Embeddings,
Zero-shot and Case browser pages offered an embed job that would compute, beside the build and
on the same CPUs, what its index step computes. Instead a page says which step makes what it
lacks, which step the build is at, and fills in when that step has ended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dashboard.job import Job
from model.demo import STEP_NAMES, DemoLayout

_STAGE = re.compile(r"(\d+)/\d+ ")


@dataclass(frozen=True)
class DemoWait:
    """The running demo build (``job_id``) makes what a page lacks in step ``step`` (1-based)."""

    job_id: str
    step: int
    note: str


def demo_step(progress: dict) -> int:
    """The step a demo build's progress is at (its stage reads ``"3/5 train · ..."``); 0 before
    its first step reports."""
    found = _STAGE.match(str(progress.get("stage") or ""))
    return int(found.group(1)) if found else 0


def on_demo(dataset: Path | None, root: Path) -> bool:
    """Whether a page is on the demo's data: its dataset is the demo's, or there is none yet."""
    return dataset is None or DemoLayout(root).dataset("") in dataset.parents


def demo_wait(job: Job | None, step: str | None) -> DemoWait | None:
    """What to say while ``job`` (the latest demo build) runs and its step named ``step`` (one of
    ``model.demo.STEP_NAMES``) has not ended yet; None when it does not apply: no build running,
    the empty state made by no demo step, or the step already past (what is missing then is
    really missing)."""
    if job is None or not job.running or step not in STEP_NAMES:
        return None
    needed = STEP_NAMES.index(step) + 1
    now = demo_step(job.progress)
    if now > needed:
        return None
    total = len(STEP_NAMES)
    if now == needed:
        note = f"The demo build running now is making it (step {needed}/{total}, {step})."
    else:
        at = f"is at step {now}/{total} ({STEP_NAMES[now - 1]})" if now else "is starting"
        note = f"The demo build running now makes it in step {needed}/{total} ({step}); it {at}."
    note += " This page fills in when that step has ended; nothing to do meanwhile."
    return DemoWait(job.id, needed, note)


def demo_busy_note(job: Job | None) -> str | None:
    """What starting a training or an evaluation costs while ``job`` (the latest demo build)
    runs: both share this machine's cores and go slower, and a build still before the end of
    its training step trains fewer epochs in its time budget (a weaker demo model). None when
    no build runs."""
    if job is None or not job.running:
        return None
    now = demo_step(job.progress)
    at = f"is at step {now}/{len(STEP_NAMES)} ({STEP_NAMES[now - 1]})" if now else "is starting"
    note = f"The demo build {at}: work started now shares this machine's cores, and both go slower"
    if now <= STEP_NAMES.index("train") + 1:
        note += "; its training then fits fewer epochs in its time budget (a weaker demo model)"
    return note + ". Waiting for it to finish (Home shows its progress) is the better choice."
