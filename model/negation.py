"""Contradicting a report sentence, for negation-aware hard negatives (NegCLIP-style).

A frozen or lightly tuned sentence encoder puts "No LV hypertrophy." and "LV hypertrophy." almost
on top of each other (cosine ~0.9 in MiniLM), so a zero-shot prompt and its negation score nearly
alike. Training can fix that only if it sees the contrast: every report sentence is paired with a
contradiction of it, and the study must prefer its own sentence (``model.nn.negation_loss``).

The contradiction is made by rule, from the text alone (no labels): the first negation cue of the
sentence is removed or inverted ("No X" -> "X", "is not dilated" -> "is dilated", "Normal LV size"
-> "Abnormal LV size", "Preserved LVEF" -> "Impaired LVEF"); a sentence without a cue is negated
at its first "is"/"are" ("The RV is dilated" -> "The RV is not dilated") or else by prefixing
"No" ("Dilated RV." -> "No dilated RV."). The cue list follows NegEx-style clinical
negation triggers plus the two words radiologists use most to state a normal finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# An affirmative statement with a copula is negated at the verb ("The RV is dilated").
_COPULA = re.compile(r"\b(is|are)\s+(?=\w)")


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _non(match: re.Match[str]) -> str:
    """Drop a ``non-`` prefix in the first three words: ``Non-dilated`` -> ``Dilated``,
    ``Likely non-ischaemic`` -> ``Likely ischaemic`` (later ones qualify a detail)."""
    lead = match.group(0)[: match.start(1) - match.start(0)]
    first = match.group(2)
    return lead + (first.upper() if match.group(1) == "N" else first)


# (pattern, replacement) tried in order; the first that matches is applied once.
_CUES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^(There (?:is|are))\s+no\s+", re.IGNORECASE), r"\1 "),
    (re.compile(r"^No evidence of\s+", re.IGNORECASE), "Evidence of "),
    (re.compile(r"^No\s+(\S)"), lambda m: _upper_first(m.group(1))),
    (re.compile(r"\b(is|are|was|were)\s+not\s+"), r"\1 "),
    (re.compile(r"\bno\s+"), ""),
    (re.compile(r"\bwithout\s+"), "with "),
    (re.compile(r"\bwithin normal limits\b"), "outside normal limits"),
    (re.compile(r"^(?:\S+\s+){0,2}?([Nn])on-(\w)"), _non),
    (re.compile(r"\b([Nn])ormal\b"), lambda m: "Abnormal" if m.group(1) == "N" else "abnormal"),
    (re.compile(r"\b([Pp])reserved\b"), lambda m: "Impaired" if m.group(1) == "P" else "impaired"),
]


def _starts_with_acronym(sentence: str) -> bool:
    """``LVEF 35%`` or ``RV dilated``: the first word is upper case beyond its first letter."""
    word = sentence.split(" ", 1)[0]
    return len(word) > 1 and word[1].isupper()


def contradict(sentence: str) -> str:
    """A sentence stating the opposite of ``sentence`` (never equal to it for non-empty input).

    >>> contradict("No LV hypertrophy.")
    'LV hypertrophy.'
    >>> contradict("Dilated RV with preserved systolic function.")
    'Dilated RV with impaired systolic function.'
    >>> contradict("Concentric LV hypertrophy (maximal wall thickness 15 mm).")
    'No concentric LV hypertrophy (maximal wall thickness 15 mm).'
    """
    text = sentence.strip()
    for pattern, replacement in _CUES:
        flipped, count = pattern.subn(replacement, text, count=1)
        if count and flipped != text:
            return flipped
    if not text:
        return "No finding."
    asserted, count = _COPULA.subn(r"\1 not ", text, count=1)
    if count:
        return asserted
    head = text if _starts_with_acronym(text) else text[:1].lower() + text[1:]
    return f"No {head}"


def contradict_all(sentences: list[str]) -> list[str]:
    """``contradict`` applied to each sentence, in order."""
    return [contradict(sentence) for sentence in sentences]
