"""Numbers in the pages' sentences: durations read at a glance."""

from __future__ import annotations

import pytest

from dashboard.formatting import duration_text


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [
        (0.4, "0 ms"),
        (850, "850 ms"),
        (999.7, "1.0 s"),  # not "1000 ms"
        (8146, "8.1 s"),  # the Zero-shot page said "8146 ms"
        (59_960, "1 min 00 s"),  # not "60.0 s"
        (125_000, "2 min 05 s"),
    ],
)
def test_durations_over_a_second_are_written_in_seconds(milliseconds: float, text: str) -> None:
    assert duration_text(milliseconds) == text
