"""Cardiac MRI abbreviations spelled out before text reaches the tokenizer.

Reports write "Dilated LV", "No LGE", "RVEF 38%"; people type prompts either way ("Dilated left
ventricle"). MiniLM learned its words from general text, where "LV" and "left ventricular" are
unrelated tokens, so without help a prompt in full words sits nearer to any sentence sharing its
words than to the abbreviated sentence that means the same thing: "No left ventricular
hypertrophy" lands beside "Asymmetric LV hypertrophy" rather than "No LV hypertrophy".
Expanding both sides the same way puts a statement in one place however it is written.

Only whole-word, upper-case abbreviations are expanded; the table is small and cardiac-specific.
"""

from __future__ import annotations

import re

# Compound measurement abbreviations first (they contain the shorter ones).
_TERMS: tuple[tuple[str, str], ...] = (
    ("LVEDD", "left ventricular end-diastolic diameter"),
    ("LVEDV", "left ventricular end-diastolic volume"),
    ("LVESV", "left ventricular end-systolic volume"),
    ("LVEF", "left ventricular ejection fraction"),
    ("RVEDV", "right ventricular end-diastolic volume"),
    ("RVESV", "right ventricular end-systolic volume"),
    ("RVEF", "right ventricular ejection fraction"),
    ("EDV", "end-diastolic volume"),
    ("ESV", "end-systolic volume"),
    ("EF", "ejection fraction"),
    ("LGE", "late gadolinium enhancement"),
    ("HCM", "hypertrophic cardiomyopathy"),
    ("DCM", "dilated cardiomyopathy"),
    ("ARVC", "arrhythmogenic right ventricular cardiomyopathy"),
    ("LAD", "left anterior descending"),
    ("RCA", "right coronary artery"),
    ("LCx", "left circumflex"),
)
# "LV" / "RV" name the chamber when nothing follows ("Dilated LV."), else qualify a noun
# ("LV wall thickness" -> "left ventricular wall thickness").
_CHAMBERS: tuple[tuple[str, str], ...] = (("LV", "left ventricle"), ("RV", "right ventricle"))
_CHAMBER_ENDS = r"(?=\s*(?:[.,;:)(]|\bwith\b|\band\b|$))"

_TERM_PATTERN = re.compile(r"\b(" + "|".join(term for term, _ in _TERMS) + r")\b")
_TERM_TABLE = dict(_TERMS)
_CHAMBER_NOUN = [(re.compile(rf"\b{short}\b{_CHAMBER_ENDS}"), noun) for short, noun in _CHAMBERS]
_CHAMBER_ADJECTIVE = [
    (re.compile(rf"\b{short}\b"), noun.replace("ventricle", "ventricular"))
    for short, noun in _CHAMBERS
]


def expand_abbreviations(text: str) -> str:
    """``"Dilated LV (LVEDD 64 mm). No LGE."`` ->
    ``"Dilated left ventricle (left ventricular end-diastolic diameter 64 mm). No late gadolinium
    enhancement."``; text without abbreviations is returned unchanged."""
    text = _TERM_PATTERN.sub(lambda match: _TERM_TABLE[match.group(1)], text)
    for pattern, noun in _CHAMBER_NOUN:
        text = pattern.sub(noun, text)
    for pattern, adjective in _CHAMBER_ADJECTIVE:
        text = pattern.sub(adjective, text)
    return text
