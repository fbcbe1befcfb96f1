"""Label-free similarity between the training reports, for soft contrastive targets.

A batch of 32 studies from a hospital holds several reports that say nearly the same thing (the
same diagnosis, the same findings in other words or numbers), and one-hot InfoNCE pushes those
studies apart as negatives. ``ReportSimilarity`` reads every training impression once as TF-IDF
of word 1-2 grams (numbers kept, sublinear term frequency, unit-norm sparse rows); a batch's block
of cosine similarities is computed per step (never the full [N, N] matrix, which a hospital's
100,000 reports would make 40 GB) and the loss turns it into soft targets (``model.nn.loss``).
Only the report text is read: no labels.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer

log = logging.getLogger(__name__)


class ReportSimilarity:
    """TF-IDF rows of the training reports and the cosine similarity of any block of them."""

    def __init__(self, impressions: Mapping[str, str]) -> None:
        self.index = {study_id: i for i, study_id in enumerate(impressions)}
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
        )
        self.tfidf = vectorizer.fit_transform([str(text) for text in impressions.values()]).tocsr()
        log.info(
            "report similarity: %d reports, %d terms", len(self.index), len(vectorizer.vocabulary_)
        )

    def rows(self, study_ids: Sequence[str], device: torch.device | None = None) -> torch.Tensor:
        """Row numbers of ``study_ids`` in the TF-IDF table: int64 [B]."""
        return torch.tensor([self.index[s] for s in study_ids], dtype=torch.long, device=device)

    def block(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """Similarities of ``rows [R]`` against ``columns [C]`` (row numbers): float32 [R, C]."""
        left = self.tfidf[rows.cpu().numpy()]
        right = self.tfidf[columns.cpu().numpy()]
        block = (left @ right.T).toarray().astype(np.float32)
        return torch.from_numpy(block).to(rows.device)
