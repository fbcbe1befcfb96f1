"""The Zero-shot page's "Against labels" section: the scores of a prompt set against the
dataset's labels (ROC/AUC with its CI, score histogram, threshold metrics, confusion matrix)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.context import Studio
from dashboard.finding_summary import auc_summary, unlabelled_findings
from dashboard.inert_text import markdown_text
from dashboard.plots import confusion_figure, roc_figure, score_histogram
from dashboard.scoring import (
    ALL_STUDIES,
    CI,
    Scores,
    diagnosis_confusion,
    interval_note,
    scores_of_split,
    why_no_roc,
)
from dashboard.ui import labels_or_warning, split_picker
from model.evaluation.tables import display_name


def label_comparison(studio: Studio, scores: Scores, splits: pd.Series) -> None:
    """The "Against labels" section: a finding's ROC, score histogram and metrics, and the
    diagnosis confusion matrix, over every split or one."""
    st.subheader("Against labels")
    labels = labels_or_warning(studio)
    if labels is None:
        st.info(
            "No labels for this dataset. To see ROC curves, AUCs with CIs and a confusion matrix, "
            "give a labels CSV (accession_number + 1/0/blank columns per finding or diagnosis) "
            "when importing (Studies → Import, or `python -m model ingest --labels`), or put it "
            "at DATASET/labels.csv."
        )
        return
    # controls that wrap on a narrow window (fixed columns cut "all splits" to "all")
    top = st.container(horizontal=True, gap="medium")
    split = split_picker(top, splits, key="zs-eval-split", width=170)
    scores = scores_of_split(scores, splits, split)
    finding_overview(studio, scores, labels)  # under the choice of studies it is over
    row = st.container(horizontal=True, gap="medium")
    finding_evaluation(studio, scores, labels, split, row)
    diagnosis_evaluation(scores, labels)


def finding_overview(studio: Studio, scores: Scores, labels: pd.DataFrame) -> None:
    """Every labelled finding's AUC with its CI in one table, and the findings that have no
    labels column (a typo, a tried finding left unnamed) named, not silently left out."""
    labelled = [c for c in scores.findings.columns if c in labels.columns]
    if labelled:
        results = {
            c: studio.finding_evaluation(scores.findings[c], labels[c], 0.5) for c in labelled
        }
        three = st.column_config.NumberColumn(format="%.3f")
        count = st.column_config.NumberColumn(format="%,d")
        st.caption(
            "Each finding's AUC over these studies (1.0: every study with the finding scores "
            "above every study without it; 0.5: chance), with its 95% CI. Pick a finding below "
            f"for its ROC curve and scores. {interval_note('the Evaluate page')}."
        )
        st.dataframe(
            auc_summary(results),
            hide_index=True,
            key="zs-aucs",
            column_config={
                "AUC": three,
                CI[0]: three,
                CI[1]: three,
                "Studies": count,
                "Positive": count,
            },
        )
    # said also when no finding is labelled: a lone typo (``lv_dilaton``) lost its did-you-mean
    missing = unlabelled_findings(scores.findings.columns, labels.columns)
    if missing:
        st.caption(
            f"No AUC for {', '.join(missing)}: a finding is compared with the labels column of "
            "its exact name; rename it (or name the tried finding) after one to see its AUC."
        )


def finding_evaluation(
    studio: Studio, scores: Scores, labels: pd.DataFrame, split: str, row: DeltaGenerator
) -> None:
    """ROC, score histogram and metrics of one finding against its labels column."""
    labelled = [c for c in scores.findings.columns if c in labels.columns]
    if labelled:
        finding = row.selectbox(
            "Finding", labelled, format_func=display_name, key="zs-eval-finding", width=280
        )
        threshold = row.slider("Decision threshold", 0.0, 1.0, 0.5, 0.01, key="zs-threshold")
        result = studio.finding_evaluation(scores.findings[finding], labels[finding], threshold)
        name = display_name(finding)
        if result is None:
            why = why_no_roc(scores.findings[finding], labels[finding])
            st.info(markdown_text(f"{name}: {why}, so ROC/AUC are undefined."))
        else:
            left, right = st.columns(2)
            left.plotly_chart(
                roc_figure(result.fpr, result.tpr, result.auc, result.auc_ci, name), key="zs-roc"
            )
            histogram = score_histogram(result.scores, threshold, name, result.truth)
            right.plotly_chart(histogram, key="zs-hist")
            three = st.column_config.NumberColumn(format="%.3f")  # value and its CI alike
            numbers = {c: three for c in result.table.columns if c != "Metric"}
            st.dataframe(result.table, hide_index=True, key="zs-metrics", column_config=numbers)
            where = split if split == ALL_STUDIES else f"the {split} split"
            st.caption(
                markdown_text(
                    f"Over the {result.n:,} studies of {where} with a known {name} label, "
                    f"{int(result.truth.sum()):,} of them positive."
                )
            )
    elif scores.findings.shape[1]:
        columns = ", ".join(map(str, labels.columns[:15])) + ("…" if labels.shape[1] > 15 else "")
        st.info(
            "No finding of this prompt set has a column in the labels file, so no ROC: name a "
            f"finding exactly as its labels column is named (the file's columns: "
            f"{markdown_text(columns)})."
        )


def diagnosis_evaluation(scores: Scores, labels: pd.DataFrame) -> None:
    """The diagnosis confusion matrix over every class of the prompt set."""
    confusion = diagnosis_confusion(scores.diagnoses, labels)
    if confusion is None and scores.diagnoses.shape[1]:
        st.info(
            "No study has a diagnosis label (a 1 in exactly one column named as a class of this "
            "prompt set), so no confusion matrix."
        )
    if confusion is not None:
        title = f"Diagnosis (accuracy {confusion.accuracy:.1%} over {confusion.n:,} studies)"
        classes = [display_name(c) for c in confusion.classes]
        st.plotly_chart(confusion_figure(confusion.matrix, classes, title), key="zs-cm")
        missing = unlabelled_findings(confusion.classes, labels.columns)
        if missing:
            st.caption(
                f"No labels column for {', '.join(missing)}: no study is labelled with that "
                "class, so its row is empty and each study predicted as it counts as wrong; "
                "name a class as its labels column is named to compare it."
            )
        if confusion.left_out:
            st.caption(
                f"Studies labelled {markdown_text(', '.join(map(display_name, confusion.left_out)))} "
                "are left out: the prompt set has no class for them."
            )
