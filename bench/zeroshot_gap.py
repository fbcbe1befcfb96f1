"""Where a checkpoint's zero-shot AUC is lost: prompt wording, or the study embedding itself.

    PYTHONPATH=. .venv/bin/python bench/zeroshot_gap.py CKPT [--root data/quality] [--site internal]

A diagnostic for choosing what to work on, never part of training or of the product: it uses the
train split's labels. Per finding, on the internal test split or every study of another
site (as ``bench/quality.py`` scores them):

- ``zero-shot``: AUC of the default prompt set (what the product reports);
- ``report direction``: the same two-way score with the prompts replaced by the mean text
  embedding of train-split impressions with the finding minus those without it, i.e. prompts
  worded exactly as the reports the model learned from;
- ``video centroid``: the same with the mean *study* embeddings of those two train groups;
- ``linear probe``: logistic regression on the train split's study embeddings;
- ``report embedding``: logistic regression on the model's text embeddings of the train
  impressions, scored on the test studies' impressions: what the training target keeps;
- ``report words``: the same on the impressions' words (TF-IDF of 1-3 grams, numbers included):
  about what a reader of the reports reaches, so a ceiling for anything learned from them.

``report direction`` well above ``zero-shot`` means the prompts' wording loses AUC (the text side);
``report direction`` and ``video centroid`` both low means the embedding does not separate the
finding (the video side, or the training signal for it); ``report embedding`` well below
``report words`` means the text tower loses what the reports say.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import spmatrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.data.dataset import CMRDataset  # noqa: E402
from model.embed import cached_study_embeddings, embed_texts  # noqa: E402
from model.evaluation.metrics import auc_rows  # noqa: E402
from model.labels import labels_by_study  # noqa: E402
from model.prompts import DEFAULT_PROMPTS, PromptSet  # noqa: E402
from model.schema import FINDINGS  # noqa: E402
from model.training.checkpoint import load_checkpoint  # noqa: E402
from model.zeroshot import score_findings  # noqa: E402

COLUMNS = (
    "zero-shot",
    "report direction",
    "video centroid",
    "linear probe",
    "report embedding",
    "report words",
)
Features = np.ndarray | spmatrix  # one row per study
# Probes: column -> which (train, test) feature pair of ``finding_aucs`` it is fitted on.
PROBES = {"linear probe": "studies", "report embedding": "reports", "report words": "words"}


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC over the studies with a known label (NaN labels skipped; NaN when one class only)."""
    known = ~np.isnan(labels)
    return float(auc_rows(scores, labels == 1, known)[0])


def site_arrays(
    checkpoint: Path, ds: CMRDataset, split: str | None, labels_dir: Path
) -> tuple[list[str], np.ndarray, pd.DataFrame]:
    """Ids, study embeddings ``[N, D]`` (unit-norm) and labels of ``ds``'s ``split`` (None: all)."""
    found = cached_study_embeddings(checkpoint, ds)
    split_of = ds.studies.set_index("study_id")["split"]
    rows = [i for i, sid in enumerate(found.ids) if split is None or split_of[sid] == split]
    ids = [found.ids[i] for i in rows]
    labels = labels_by_study(labels_dir / ds.root.name / "labels.csv", ds.linkage())
    return ids, np.asarray(found.vectors)[rows], labels.reindex(ids)


def impressions(ds: CMRDataset, ids: list[str]) -> list[str]:
    """The impression text of each study in ``ids`` (empty string when missing)."""
    return [str(t or "") for t in ds.studies.set_index("study_id").loc[ids, "impression"]]


def finding_aucs(
    y_train: np.ndarray,
    y_test: np.ndarray,
    features: dict[str, tuple[Features, Features]],
    zero_shot: np.ndarray,
) -> dict[str, float]:
    """The AUCs of one finding (NaN where training has one class only). ``features`` holds
    (train, test) rows: ``studies`` (study embeddings), ``reports`` (impression text
    embeddings) and ``words`` (impression TF-IDF, sparse)."""
    pos, neg = y_train == 1, y_train == 0
    if not pos.any() or not neg.any():  # nothing to contrast
        return dict.fromkeys(COLUMNS, float("nan"))
    known = pos | neg
    train_vecs, test_vecs = features["studies"]
    report_vecs = features["reports"][0]
    report_direction = report_vecs[pos].mean(0) - report_vecs[neg].mean(0)
    video_direction = train_vecs[pos].mean(0) - train_vecs[neg].mean(0)
    aucs = {
        "zero-shot": auc(y_test, zero_shot),
        "report direction": auc(y_test, test_vecs @ report_direction),
        "video centroid": auc(y_test, test_vecs @ video_direction),
    }
    for column, name in PROBES.items():
        train_x, test_x = features[name]
        probe = LogisticRegression(C=1.0, max_iter=3000).fit(train_x[known], y_train[known])
        aucs[column] = auc(y_test, probe.decision_function(test_x))
    return aucs


def gap_table(checkpoint: Path, train_site: Path, test_site: Path, labels_dir: Path) -> list[dict]:
    """Per finding the AUCs (see the module docstring) on ``test_site``'s test studies."""
    model, _ = load_checkpoint(checkpoint)
    train_ds, test_ds = CMRDataset.open(train_site), CMRDataset.open(test_site)
    encode = functools.partial(embed_texts, model)
    train_ids, train_vecs, train_labels = site_arrays(checkpoint, train_ds, "train", labels_dir)
    test_split = "test" if test_site == train_site else None
    test_ids, test_vecs, test_labels = site_arrays(checkpoint, test_ds, test_split, labels_dir)
    train_texts = impressions(train_ds, train_ids)
    test_texts = impressions(test_ds, test_ids)
    words = TfidfVectorizer(ngram_range=(1, 3), min_df=2).fit(train_texts)
    features = {
        "studies": (train_vecs, test_vecs),
        "reports": (np.asarray(encode(train_texts)), np.asarray(encode(test_texts))),
        "words": (words.transform(train_texts), words.transform(test_texts)),
    }
    scale = float(model.scale().detach())
    prompts = PromptSet.load(DEFAULT_PROMPTS)
    zero_shot = score_findings(test_vecs, prompts, encode, scale, ids=test_ids)
    return [
        {
            "finding": finding,
            **finding_aucs(
                train_labels[finding].to_numpy(dtype=float),
                test_labels[finding].to_numpy(dtype=float),
                features,
                zero_shot[finding].to_numpy(),
            ),
        }
        for finding in FINDINGS
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--root", type=Path, default=Path("data/quality"))
    parser.add_argument("--site", default="internal", help="site folder scored (test split)")
    args = parser.parse_args()
    rows = gap_table(
        args.checkpoint, args.root / "internal", args.root / args.site, args.root / "raw"
    )
    print(f"{'finding':22s}" + "".join(f"{c:>18s}" for c in COLUMNS))
    for row in rows:
        print(f"{row['finding']:22s}" + "".join(f"{row[c]:18.3f}" for c in COLUMNS))
    means = {c: np.nanmean([row[c] for row in rows]) for c in COLUMNS}
    print(f"{'mean':22s}" + "".join(f"{means[c]:18.3f}" for c in COLUMNS))


if __name__ == "__main__":
    main()
