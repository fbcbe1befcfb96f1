"""How the model reads a prompt: the report sentences of a dataset closest to it.

A zero-shot prompt is scored by where the text tower puts it, and a wording the reports never use
can land somewhere unexpected: when nearly every report mentions enhancement only to deny it
("No LGE."), a bare "LGE" is read beside the denials and scores the studies *without*
enhancement highest. Showing a prompt's nearest report sentences (cosine in the shared space;
no labels involved) lets a user see that before trusting the scores, and the share of those
neighbours that are negative statements ("No ...", "Normal ...") flags a positive prompt read as
a negative one, or the reverse. The share of them that name only the other side of the heart
flags a right-heart prompt read as a left-heart one (reports say far more about the left
ventricle: on the demo checkpoints "Enlarged right heart chamber" lands beside "Mildly enlarged
LV cavity.", and its pair scores rank right-ventricular dilatation backwards). The Zero-shot page
reads a typed pair (``read_prompt_pair``); the evaluation reads every prompt of its prompt set
(``prompt_table``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from model.prompts import PromptSet
from model.sentences import heart_sides, is_polarity_word, split_sentences

if TYPE_CHECKING:  # the dashboard reads prompts without importing torch
    from model.nn.wordpiece import WordPieceTokenizer

NEIGHBOURS = 5
MAX_SENTENCES = 5000  # the commonest unique sentences embedded per dataset (about 5 s on a CPU)
# A positive prompt whose neighbours are mostly negative statements, or a negative prompt whose
# neighbours mostly are not, is flagged (both shares are of the NEIGHBOURS closest sentences).
FLAG_SHARE = 0.8
# A prompt whose closest report sentence is below this cosine is unlike anything the reports say
# (on a demo checkpoint the default prompts reach 0.95-1.00, the two misread LGE ones 0.62-0.65).
UNFAMILIAR_COSINE = 0.8
OPPOSITE = {"left": "right", "right": "left"}

TextEncoder = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class ReportSentences:
    """A dataset's unique impression sentences, commonest first.

    ``texts`` (S), ``studies`` int [S] (how many studies' impressions state each one),
    ``vectors`` float32 [S, D] (unit-norm text embeddings of the active checkpoint), and what
    each sentence's words say: ``negative`` bool [S] (``is_negative_statement``) and ``sides``
    (S sets, ``heart_sides``).
    """

    texts: list[str]
    studies: np.ndarray
    vectors: np.ndarray
    negative: np.ndarray
    sides: list[frozenset[str]]


@dataclass(frozen=True)
class PromptReading:
    """One prompt's ``neighbours`` (columns sentence, cosine, studies), the share of them that
    are negative statements, the share that name only the side of the heart the prompt does not
    (NaN unless the prompt names exactly one side), and ``suggestion``: the closest report
    sentence that says what the prompt means to (``closest_alike``; None when none does)."""

    prompt: str
    neighbours: pd.DataFrame
    negative_share: float
    other_side_share: float = float("nan")
    suggestion: str | None = None

    def try_instead(self) -> str:
        """The advice closing a warning: the suggested report wording when there is one."""
        if self.suggestion is None:
            return "Try the wording the reports use for the finding."
        return (
            "A report wording to try (the closest with its polarity and side): "
            f"“{self.suggestion}”."
        )


@dataclass(frozen=True)
class PairReading:
    """A positive and a negative wording of one finding, each with its neighbours, and the
    cosine between the two prompts (1.0: the model cannot tell them apart)."""

    positive: PromptReading
    negative: PromptReading
    cosine: float

    def swapped(self) -> bool:
        """True when the positive prompt is worded as a negative statement and the negative
        prompt as a finding (``is_negative_statement``)."""
        return is_negative_statement(self.positive.prompt) and not is_negative_statement(
            self.negative.prompt
        )

    def warnings(self) -> list[str]:
        """Plain-language flags for wordings the model reads against their intent, or for a
        pair typed the wrong way round."""
        out = []
        if self.swapped():  # read as worded: the words, not the model, are the other way round
            out.append(
                f"The two prompts look swapped: the positive prompt “{self.positive.prompt}” "
                f"denies or normalises the finding and the negative prompt "
                f"“{self.negative.prompt}” states it, so a high score means the finding is "
                "absent. Swap the two."
            )
        elif contradicts(self.positive, positive=True):
            out.append(
                f"The positive prompt “{self.positive.prompt}” is read like a negative statement: "
                f"{self.positive.negative_share:.0%} of its closest report sentences deny or "
                f"normalise a finding. {self.positive.try_instead()}"
            )
        if not self.swapped() and contradicts(self.negative, positive=False):
            out.append(
                f"The negative prompt “{self.negative.prompt}” is read like a positive statement: "
                f"{1.0 - self.negative.negative_share:.0%} of its closest report sentences state a "
                f"finding. {self.negative.try_instead()}"
            )
        for side in (self.positive, self.negative):
            if other_side(side):
                named = next(iter(heart_sides(side.prompt)))
                out.append(
                    f"“{side.prompt}” names the {named} side of the heart, but "
                    f"{side.other_side_share:.0%} of its closest report sentences name only the "
                    f"{OPPOSITE[named]}: its scores may follow the {OPPOSITE[named]} heart "
                    f"instead. {side.try_instead()}"
                )
            if unfamiliar(side):
                out.append(
                    f"“{side.prompt}” is unlike anything the reports say (closest sentence at "
                    f"cosine {side.neighbours['cosine'].iloc[0]:.2f}): where the model puts it is "
                    "a guess. Try the reports' own wording."
                )
        return out


def unknown_words(tokenizer: WordPieceTokenizer, text: str) -> list[str]:
    """The words of ``text`` the text tower's tokenizer has no word pieces for (``[UNK]``): a
    script the MiniLM vocabulary lacks (most Chinese characters) or rare symbols. The tower reads
    every one as the same unknown token, so a prompt made of them scores like noise."""
    pieces = tokenizer.pieces(text)
    return [text[start:end] for token, (start, end) in pieces if token == tokenizer.unk_token_id]


def unfamiliar(reading: PromptReading) -> bool:
    """True when even the closest report sentence is below ``UNFAMILIAR_COSINE``."""
    return bool(
        not reading.neighbours.empty and reading.neighbours["cosine"].iloc[0] < UNFAMILIAR_COSINE
    )


def contradicts(reading: PromptReading, positive: bool) -> bool:
    """True when at least ``FLAG_SHARE`` of a prompt's neighbours have the other polarity."""
    share = reading.negative_share if positive else 1.0 - reading.negative_share
    return bool(share >= FLAG_SHARE)  # NaN (no sentences) compares False


def other_side(reading: PromptReading) -> bool:
    """True when at least ``FLAG_SHARE`` of a prompt's neighbours name only the other side of
    the heart than the one side the prompt names."""
    return bool(reading.other_side_share >= FLAG_SHARE)  # NaN compares False


def other_side_share(prompt: str, sides: Sequence[frozenset[str]]) -> float:
    """Share of sentences, given by the ``heart_sides`` of each, that name only the side of the
    heart ``prompt`` does not (NaN unless the prompt names exactly one side, or without any)."""
    named = heart_sides(prompt)
    if len(named) != 1 or not sides:
        return float("nan")
    other = frozenset(OPPOSITE) - named
    return float(np.mean([sentence_sides == other for sentence_sides in sides]))


def _unit(vectors: np.ndarray) -> np.ndarray:
    """float [N, D] rows scaled to unit length (the encoders promise it; this makes it so)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


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
    """Embed a dataset's unique impression sentences once (``encode``: texts -> [N, D])."""
    texts, studies = unique_sentences(impressions, limit)
    return sentences_of(texts, studies, encode(texts) if texts else None)


def sentences_of(
    texts: list[str], studies: np.ndarray, vectors: np.ndarray | None
) -> ReportSentences:
    """``ReportSentences`` of ``unique_sentences``' ``texts`` and ``studies`` and the encoder's
    ``vectors`` of them (None for no texts)."""
    return ReportSentences(
        texts=texts,
        studies=studies,
        vectors=np.zeros((0, 0), np.float32) if vectors is None else _unit(vectors),
        negative=np.array([is_negative_statement(text) for text in texts], dtype=bool),
        sides=[heart_sides(text) for text in texts],
    )


def closest_alike(
    prompt: str, cosine: np.ndarray, sentences: ReportSentences, negative: bool | None = None
) -> str | None:
    """The sentence of ``sentences`` closest to ``prompt`` (``cosine`` float [S]) among those
    that say what the prompt means to: the same polarity and, when the prompt names a side of
    the heart, the same sides. ``negative`` is the polarity the prompt is meant to have (its
    place in a pair: the negative prompt of a finding is meant as a normal statement, however it
    is worded); None reads it from the prompt's words (``is_negative_statement``), which miss
    wordings such as "The left ventricle contracts well". None when no sentence matches."""
    meant_negative = is_negative_statement(prompt) if negative is None else negative
    alike = sentences.negative == meant_negative
    named = heart_sides(prompt)
    if named:
        alike &= np.array([sides == named for sides in sentences.sides], dtype=bool)
    if not alike.any():
        return None
    return sentences.texts[int(np.argmax(np.where(alike, cosine, -np.inf)))]


def read_prompt(
    prompt: str,
    vector: np.ndarray,
    sentences: ReportSentences,
    k: int = NEIGHBOURS,
    negative: bool | None = None,
) -> PromptReading:
    """The ``k`` report sentences closest to one prompt (``vector`` float [D], unit-norm);
    ``negative``: the polarity the prompt is meant to have, for its suggestion
    (``closest_alike``)."""
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
    return PromptReading(
        prompt=prompt,
        neighbours=neighbours,
        negative_share=float(sentences.negative[order].mean()),
        other_side_share=other_side_share(prompt, [sentences.sides[i] for i in order]),
        suggestion=closest_alike(prompt, cosine, sentences, negative),
    )


def read_prompt_pair(
    positive: str, negative: str, encode: TextEncoder, sentences: ReportSentences
) -> PairReading:
    """How the model reads a finding's positive and negative wording (both non-empty)."""
    vectors = _unit(encode([positive, negative]))
    return PairReading(
        positive=read_prompt(positive, vectors[0], sentences, negative=False),
        negative=read_prompt(negative, vectors[1], sentences, negative=True),
        cosine=float(vectors[0] @ vectors[1]),
    )


def prompt_table(
    prompts: PromptSet, encode: TextEncoder, sentences: ReportSentences, k: int = 3
) -> pd.DataFrame:
    """Every finding prompt of ``prompts`` read against ``sentences``: one row per prompt with
    columns label_key, side (positive / negative), prompt, negative_share, contradicts,
    other_side, unfamiliar (all over ``NEIGHBOURS`` sentences, as the Zero-shot page reads them),
    closest (the ``k`` nearest sentences with their cosines) and, for a prompt flagged
    contradicts or other_side, suggestion (``closest_alike``). Empty without sentences."""
    rows = []
    if not sentences.texts:
        return pd.DataFrame(rows)
    for key, finding in prompts.findings.items():
        for side, texts in (("positive", finding.positive), ("negative", finding.negative)):
            for text, vector in zip(texts, _unit(encode(list(texts))), strict=True):
                reading = read_prompt(text, vector, sentences, negative=side == "negative")
                table = reading.neighbours.head(k)
                closest = zip(table["sentence"], table["cosine"], strict=True)
                flags = {
                    "contradicts": contradicts(reading, positive=side == "positive"),
                    "other_side": other_side(reading),
                }
                rows.append(
                    {
                        "label_key": key,
                        "side": side,
                        "prompt": text,
                        "negative_share": reading.negative_share,
                        **flags,
                        "unfamiliar": unfamiliar(reading),
                        "closest": " | ".join(f"{s} ({c:.2f})" for s, c in closest),
                        "suggestion": (reading.suggestion or "") if any(flags.values()) else "",
                    }
                )
    return pd.DataFrame(rows)


def study_report_sentences(studies: pd.DataFrame, encode: TextEncoder) -> ReportSentences:
    """``embed_report_sentences`` of a studies table's ``impression`` column (none without it)."""
    return embed_report_sentences(studies.get("impression", pd.Series(dtype=str)), encode)


def dataset_prompt_table(dataset: object, prompts: PromptSet, encode: TextEncoder) -> pd.DataFrame:
    """``prompt_table`` against the report sentences of every study of ``dataset`` (a
    ``CMRDataset``), as the evaluation reports it per model and site."""
    return prompt_table(prompts, encode, study_report_sentences(dataset.studies, encode))
