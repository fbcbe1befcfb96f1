"""The evaluation report as a colleague reads it: mailed, opened offline and printed (A4 or
Letter), with the published CMR-CLIP figures beside ours and labelled as theirs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.evaluation.published import PUBLISHED_COLUMN, beside_published, published_figures
from model.evaluation.report import render_html
from model.evaluation.report_markdown import render_markdown

SITE = {"name": "internal", "selection": "test split", "n_total": 10, "n_evaluated": 4,
        "n_patients": 4, "n_labelled": 4}  # fmt: skip
ZEROSHOT = pd.DataFrame(
    {"model": ["m", "m", "b"], "Label": ["LGE", "Pericardial effusion", "LGE"],
     "AUC": [0.81, 0.9, 0.6], "auc_lo": [0.7, 0.85, 0.5], "auc_hi": [0.9, 0.95, 0.7],
     "n": [40, 40, 40], "n_positive": [12, 8, 12]}
)  # fmt: skip


def _page(tmp_path: Path, plots: list[Path] | None = None) -> str:
    return render_html(
        "CMR-CLIP evaluation", {"internal": {"zeroshot": ZEROSHOT}}, {"internal": plots or []},
        [SITE], [{"name": "m"}], [],
    )  # fmt: skip


def test_the_published_reference_ships_with_the_package() -> None:
    """The published figures are read from the package, not from a folder beside the repo."""
    published = published_figures()
    internal = published[(published["setting"] == "zero-shot") & (published["site"] == "internal")]
    assert internal.set_index("Label")["AUC"]["LGE"] == 0.705


def test_published_aucs_sit_beside_the_first_model_s_own_by_label() -> None:
    paired = beside_published(ZEROSHOT, "Internal")  # site names matched without case
    assert paired["Label"].tolist() == ["LGE"]  # pericardial effusion: not published
    assert paired.loc[0, "AUC"] == 0.81 and paired.loc[0, PUBLISHED_COLUMN] == 0.705
    assert paired.loc[0, "model"] == "m"  # the main model's, not a baseline's
    assert beside_published(ZEROSHOT, "acdc").empty  # no published zero-shot figure there


def test_html_report_shows_published_figures_labelled_as_not_ours(tmp_path: Path) -> None:
    page = _page(tmp_path)
    section = page.split("Beside the published CMR-CLIP figures", 1)[1]
    assert "published CMR-CLIP AUC (not this evaluation)" in section
    assert "0.705" in section and "real patients" in section and "Nakashima" in section
    assert "0.70–0.90" in section  # our AUC keeps its interval and counts beside theirs


def test_markdown_report_shows_published_figures_labelled_as_not_ours() -> None:
    text = render_markdown(
        "CMR-CLIP evaluation", "", [], None, [SITE], {"internal": {"zeroshot": ZEROSHOT}}
    )
    section = text.split("### Beside the published CMR-CLIP figures", 1)[1]
    assert "| m | LGE | 0.810 | 0.70–0.90 | 40 | 12 | 0.705 |" in section
    assert "published CMR-CLIP AUC (not this evaluation)" in section
    assert "real patients" in section


def _plot(tmp_path: Path, name: str) -> Path:
    from PIL import Image

    path = tmp_path / "internal" / "plots" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 4)).save(path)
    return path


def test_each_figure_has_a_caption_saying_what_it_shows_and_on_how_many(tmp_path: Path) -> None:
    """A printed figure had no words under it: a reader had to guess what a panel showed."""
    page = _page(
        tmp_path, [_plot(tmp_path, "roc_m.png"), _plot(tmp_path, "confusion_zero-shot_m.png")]
    )
    figures = page.split("<figure")[1:]
    assert len(figures) == 2
    roc, confusion = (f.split("</figure>")[0] for f in figures)
    assert "<img" in roc and "<figcaption>" in roc
    caption = roc.split("<figcaption>")[1]
    assert caption.startswith("Figure 1. Zero-shot ROC curves, one per finding")
    assert "95% CI" in caption and "4 studies of 4 patients" in caption  # n beside the figure
    assert confusion.split("<figcaption>")[1].startswith("Figure 2. Confusion matrix")
