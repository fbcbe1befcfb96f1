"""Cached computations that take seconds on a page's first visit say what they do meanwhile.

A demo's first visit to Zero-shot scored every study for 8-14 s with nothing below the prompt
editor: no spinner, no word of what the page was doing.
"""

from __future__ import annotations

import pytest

import dashboard.cache as cache

SLOW_ON_A_FIRST_VISIT = [
    "zero_shot_scores",  # every study under every prompt: the text tower's first calls
    "checkpoint_model",
    "projection",
    "report_sentences",
]


@pytest.mark.parametrize("name", SLOW_ON_A_FIRST_VISIT)
def test_a_slow_cached_computation_shows_a_spinner_saying_what_it_does(name: str) -> None:
    message = getattr(cache, name)._info.show_spinner
    assert isinstance(message, str) and len(message.split()) >= 2, (name, message)
