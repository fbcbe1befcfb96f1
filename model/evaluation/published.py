"""The published CMR-CLIP figures beside ours, labelled as theirs.

Issue 4 asks that a reader of the report sees the published reference (Nakashima et al., Nature
Communications 2026: ``cmrclip_published.csv`` beside this module, a copy of
``../shared/reference/cmrclip_published.csv``) next to this evaluation's figures. They come from
real patients at the authors' hospitals (internal test about 201 studies, external about 129),
not from the studies evaluated here, so a table puts them in a column of their own, named as
published, with that caveat; only the AUC is shown, since their accuracy and F1 use a threshold
tuned on labelled data, which ours never do.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PUBLISHED_CSV = Path(__file__).with_name("cmrclip_published.csv")
PUBLISHED_TITLE = "Beside the published CMR-CLIP figures"
PUBLISHED_COLUMN = "published CMR-CLIP AUC (not this evaluation)"
PUBLISHED_NOTE = (
    f"The column '{PUBLISHED_COLUMN}' is not ours: it is the zero-shot AUC published for "
    "CMR-CLIP (Nakashima et "
    "al., Nature Communications 2026; the result tables of its public code, Makiya11/CMRCLIP) at "
    "the site of the same name, on their real patients (internal test about 201 studies, "
    "external about 129), not on the studies evaluated here, so the two are not directly "
    "comparable. Their accuracy and F1 use a threshold tuned on labelled data and are left out."
)


def published_figures(path: Path = PUBLISHED_CSV) -> pd.DataFrame:
    """The published table (``source,setting,site,Label,Accuracy,F1-score,AUC``); an empty one
    when the file is missing, so a report is still written without it."""
    if not path.is_file():
        return pd.DataFrame(columns=["source", "setting", "site", "Label", "AUC"])
    return pd.read_csv(path)


def beside_published(
    zeroshot: pd.DataFrame, site: str, published: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each label of the first model's zero-shot ``zeroshot`` table (its AUC, 95% CI columns
    ``auc_lo``/``auc_hi`` and counts) that CMR-CLIP published for ``site`` (matched by name,
    case ignored), with the published AUC in ``PUBLISHED_COLUMN``; empty when none matches."""
    published = published_figures() if published is None else published
    theirs = published[
        (published["setting"] == "zero-shot")
        & (published["site"].astype(str).str.casefold() == site.casefold())
        & published["AUC"].notna()
    ]
    if zeroshot.empty or theirs.empty or "Label" not in zeroshot:
        return pd.DataFrame()
    ours = (
        zeroshot[zeroshot["model"] == zeroshot["model"].iloc[0]]
        if "model" in zeroshot
        else zeroshot
    )
    keep = [
        c for c in ("model", "Label", "AUC", "auc_lo", "auc_hi", "n", "n_positive") if c in ours
    ]
    paired = ours[keep].merge(
        theirs[["Label", "AUC"]].rename(columns={"AUC": PUBLISHED_COLUMN}), on="Label"
    )
    return paired.reset_index(drop=True)
