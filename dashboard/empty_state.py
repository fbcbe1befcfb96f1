"""What a page shows when something it needs does not exist yet, and the job that builds it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobOffer:
    """A background job an empty state can offer to start (kind, command, button label)."""

    kind: str
    command: list[str]
    label: str


class EmptyState(Exception):  # noqa: N818 - a state, not an error
    """Something a page needs does not exist yet; carries the next step to take, and
    ``demo_step``: the step of the demo build that makes it (``model.demo.STEP_NAMES``), so a
    page can say so while the build runs instead of offering the hint or the job."""

    def __init__(
        self,
        title: str,
        hint: str,
        page: str | None = None,
        offer: JobOffer | None = None,
        demo_step: str | None = None,
    ):
        super().__init__(title)
        self.title = title
        self.hint = hint
        self.page = page
        self.offer = offer
        self.demo_step = demo_step
