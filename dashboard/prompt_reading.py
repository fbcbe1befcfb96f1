"""How the model reads a prompt: the report sentences of the active dataset closest to it.

A zero-shot prompt is scored by where the text tower puts it, and a wording the reports never use
can land somewhere unexpected: when nearly every report mentions enhancement only to deny it
("No LGE."), a bare "LGE" is read beside the denials and scores the studies *without*
enhancement highest. Showing a prompt's nearest report sentences (cosine in the shared space;
no labels involved) lets a user see that before trusting the scores, and the share of those
neighbours that are negative statements ("No ...", "Normal ...") flags a positive prompt read as
a negative one, or the reverse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.sentences import is_polarity_word, split_sentences

NEIGHBOURS = 5
MAX_SENTENCES = 5000  # the commonest unique sentences embedded per dataset (about 5 s on a CPU)
# A positive prompt whose neighbours are mostly negative statements, or a negative prompt whose
# neighbours mostly are not, is flagged (both shares are of the NEIGHBOURS closest sentences).
FLAG_SHARE = 0.8

TextEncoder = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class ReportSentences:
    """A dataset's unique impression sentences, commonest first.

    ``texts`` (S), ``studies`` int [S] (how many studies' impressions state each one) and
    ``vectors`` float32 [S, D] (unit-norm text embeddings of the active checkpoint).
    """

    texts: list[str]
    studies: np.ndarray
    vectors: np.ndarray


@dataclass(frozen=True)
class PromptReading:
    """One prompt's ``neighbours`` (columns sentence, cosine, studies) and the share of them
    that are negative statements."""

    prompt: str
    neighbours: pd.DataFrame
    negative_share: float


@dataclass(frozen=True)
class PairReading:
    """A positive and a negative wording of one finding, each with its neighbours, and the
    cosine between the two prompts (1.0: the model cannot tell them apart)."""

    positive: PromptReading
    negative: PromptReading
    cosine: float

    def warnings(self) -> list[str]:
        """Plain-language flags for wordings the model reads against their intent."""
        out = []
        if self.positive.negative_share >= FLAG_SHARE:
            out.append(
                f"The positive prompt “{self.positive.prompt}” is read like a negative statement: "
                f"{self.positive.negative_share:.0%} of its closest report sentences deny or "
                "normalise a finding. Try the wording the reports use for the finding."
            )
        if 1.0 - self.negative.negative_share >= FLAG_SHARE:
            out.append(
                f"The negative prompt “{self.negative.prompt}” is read like a positive statement: "
                f"{1.0 - self.negative.negative_share:.0%} of its closest report sentences state a "
                "finding."
            )
        return out


def is_negative_statement(sentence: str) -> bool:
    """True when a sentence carries a polarity word ("No", "normal", "preserved", "non-...")."""
    return any(is_polarity_word(word) for word in sentence.split())


def unique_sentences(
    impressions: Iterable[str], limit: int = MAX_SENTENCES
) -> tuple[list[str], np.ndarray]:
    """The ``limit`` commonest sentences of ``impressions`` and how many impressions state each
    (ties alphabetical, so the order is reproducible)."""
    counts = Counter(
        sentence
        for text in impressions
        for sentence in set(split_sentences(str(text or "")))
        if sentence.strip()
    )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [sentence for sentence, _ in ranked], np.array([n for _, n in ranked], dtype=np.int64)


def embed_report_sentences(
    impressions: Iterable[str], encode: TextEncoder, limit: int = MAX_SENTENCES
) -> ReportSentences:
    """Embed a dataset's unique impression sentences once (``encode``: texts -> unit [N, D])."""
    texts, studies = unique_sentences(impressions, limit)
    vectors = np.asarray(encode(texts), dtype=np.float32) if texts else np.zeros((0, 0), "f4")
    return ReportSentences(texts=texts, studies=studies, vectors=vectors)


def read_prompt(
    prompt: str, vector: np.ndarray, sentences: ReportSentences, k: int = NEIGHBOURS
) -> PromptReading:
    """The ``k`` report sentences closest to one prompt (``vector`` float [D], unit-norm)."""
    if not sentences.texts:
        empty = pd.DataFrame({"sentence": [], "cosine": [], "studies": []})
        return PromptReading(prompt=prompt, neighbours=empty, negative_share=float("nan"))
    cosine = sentences.vectors @ np.asarray(vector, dtype=np.float32)
    order = np.argsort(-cosine, kind="stable")[:k]
    neighbours = pd.DataFrame(
        {
            "sentence": [sentences.texts[i] for i in order],
            "cosine": cosine[order].astype(float),
            "studies": sentences.studies[order],
        }
    )
    share = float(np.mean([is_negative_statement(s) for s in neighbours["sentence"]]))
    return PromptReading(prompt=prompt, neighbours=neighbours, negative_share=share)


def read_prompt_pair(
    positive: str, negative: str, encode: TextEncoder, sentences: ReportSentences
) -> PairReading:
    """How the model reads a finding's positive and negative wording (both non-empty)."""
    vectors = np.asarray(encode([positive, negative]), dtype=np.float32)
    return PairReading(
        positive=read_prompt(positive, vectors[0], sentences),
        negative=read_prompt(negative, vectors[1], sentences),
        cosine=float(vectors[0] @ vectors[1]),
    )
