"""Few-shot: pick example studies of a class (and counter-examples), rank every other study."""

import zlib
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.context import DataError, Studio, UserError
from dashboard.few_shot import (
    MAX_FILE_BYTES,
    METHODS,
    ExampleSet,
    add_examples,
    check_ready,
    class_name,
    drop_unknown,
    example_set,
    keep_set,
    listed_examples,
    loaded_set,
    method_note,
    prompt_texts,
    ranked_csv,
    ranked_table,
    ranking_truth,
    remove_examples,
    reworded,
    save_example_set,
    saved_sets,
)
from dashboard.glossary import meaning
from dashboard.inert_text import markdown_text
from dashboard.page_memory import remember, restore
from dashboard.scoring import ALL_STUDIES, display_name, interval_note, split_choices
from dashboard.search import example_line
from dashboard.studies import (
    ROW_PICK_KEYS,
    TABLE_ROWS,
    column_label,
    header_sort_note,
    table_labels,
)
from dashboard.ui import (
    labels_or_warning,
    open_case,
    page_guard,
    page_header,
    split_picker,
    study_picker,
)

studio = Studio()
page_header(
    "Few-shot",
    "Pick a few studies that show a condition (and some that do not): every other study is "
    "ranked by its likeness to them.",
    words=("few-shot", "embedding", "cosine similarity", "prototype", "logistic", "prompted")
    + ("AUC", "95% CI"),
)
NO_LABEL = "(none)"
SCORE_MEANING = {
    "prototype": "Score: cosine similarity to the mean of the examples minus that to the mean of "
    "the counter-examples (without counter-examples, of every other study); above 0, more like "
    "the examples. It ranks studies for review; it is not a diagnosis.",
    "logistic": "Score: the probability, 0 to 1, that a logistic regression fitted on the "
    "examples (1) and counter-examples (0) gives the study. With a few examples it ranks "
    "studies for review; it is not a calibrated risk.",
    "prompted": "Score: the probability, 0 to 1, of the zero-shot classifier of the wordings "
    "above (as on the Zero-shot page), refitted on the examples (1) and counter-examples (0) "
    "where there are any. It ranks studies for review; it is not a calibrated risk.",
}
PROMPT_BOXES = (
    ("positive", "The class in words", "e.g. Late gadolinium enhancement in the septum"),
    ("negative", "Its absence in words", "e.g. No late gadolinium enhancement"),
)


def class_name_box(dataset: str) -> ExampleSet:
    """The class name box, showing the set's name (empty until one is typed); a new name is kept
    with the set."""
    key = f"fs-name:{dataset}"
    st.session_state[key] = class_name(example_set(st.session_state, dataset)) or ""

    def rename() -> None:
        name = str(st.session_state[key]).strip()
        if name:
            examples = example_set(st.session_state, dataset)
            keep_set(st.session_state, dataset, replace(examples, name=name))

    st.text_input(
        "Class", key=key, max_chars=80, on_change=rename, placeholder="Name it, e.g. amyloidosis"
    )
    return example_set(st.session_state, dataset)


def prompt_boxes(dataset: str) -> ExampleSet:
    """The ``prompted`` method's wordings of the class and of its absence, one sentence a line,
    showing the set's; an edit is kept with the set (saved and downloaded with it)."""
    typed = prompt_texts(example_set(st.session_state, dataset))
    keys = {side: f"fs-prompt-{side}:{dataset}" for side, _, _ in PROMPT_BOXES}

    def reword() -> None:
        texts = {side: st.session_state[key] for side, key in keys.items()}
        examples = example_set(st.session_state, dataset)
        keep_set(st.session_state, dataset, reworded(examples, texts))

    for column, (side, label, placeholder) in zip(st.columns(2), PROMPT_BOXES, strict=True):
        st.session_state[keys[side]] = typed[side]
        column.text_area(
            label,
            key=keys[side],
            placeholder=placeholder,
            height=80,
            on_change=reword,
            help="One sentence a line (their embeddings are averaged), worded as the reports "
            "are; the Zero-shot page shows how a wording ranks the studies.",
        )
    return example_set(st.session_state, dataset)


def example_lists(dataset: str, examples: ExampleSet, studies: pd.DataFrame) -> None:
    """The examples and counter-examples, each with its impression; selected rows removable."""
    sides = (("Examples", examples.positive), ("Counter-examples", examples.negative))
    for column, (title, ids) in zip(st.columns(2), sides, strict=True):
        column.markdown(f"**{title}** ({len(ids)})")
        if not ids:
            column.caption("None yet.")
            continue
        shown = f"The first {TABLE_ROWS:,} listed. " if len(ids) > TABLE_ROWS else ""
        column.caption(f"{shown}Select rows to remove them ({ROW_PICK_KEYS}).")
        listed = listed_examples(ids[:TABLE_ROWS], studies)
        picked = column.dataframe(
            listed,
            hide_index=True,
            column_config=table_labels(listed),  # named as on every page: Study ID, Impression
            on_select="rerun",
            selection_mode="multi-row",
            # a new list is a new table: a selection kept across a removal named other rows
            key=f"fs-list-{title}-{zlib.crc32(chr(10).join(ids).encode())}",
        )
        rows = picked.selection.rows
        if rows and column.button(f"Remove {len(rows)} selected", key=f"fs-remove-{title}"):
            remove_examples(st.session_state, dataset, [ids[i] for i in rows])
            st.rerun()
    if examples.ids and st.button("Clear all", key="fs-clear"):
        keep_set(st.session_state, dataset, replace(examples, positive=(), negative=()))
        st.rerun()


def add_from_picker(dataset: str, studies: pd.DataFrame) -> None:
    """A study picker with add-as-example and add-as-counter-example buttons."""
    st.caption(
        "Add studies here, with a lasso on the Embeddings page, or from a case card "
        "(Case browser, Zero-shot)."
    )
    chosen = study_picker("Study", studies.index.astype(str).tolist(), None, key="fs-pick")
    if chosen is not None:  # an ID alone told a student nothing of the study being added
        st.caption(markdown_text(example_line(studies.reset_index(), chosen)))
    row = st.columns(2)
    for column, positive, label in (
        (row[0], True, "Add as example"),
        (row[1], False, "Add as counter-example"),
    ):
        if chosen is not None and column.button(label, key=f"fs-add-{positive}"):
            add_examples(st.session_state, dataset, [chosen], positive)
            st.rerun()


def load_and_save(dataset: str, examples: ExampleSet, known: Collection[str]) -> None:
    """Load a saved or uploaded set; save this one under the data root or download it."""
    with st.expander("Load · save · download"):
        files = saved_sets(studio.settings)
        saved_row = st.columns([2, 1], vertical_alignment="bottom")
        chosen = saved_row[0].selectbox(
            "Saved example sets", list(files), key="fs-saved", index=None
        )
        if saved_row[1].button("Load", key="fs-load", disabled=chosen is None):
            load(dataset, known, files[chosen])
        upload_row = st.columns([2, 1], vertical_alignment="bottom")
        upload = upload_row[0].file_uploader(
            "…or a JSON file",
            type=["json"],
            key="fs-upload",
            max_upload_size=MAX_FILE_BYTES // 2**20,  # not the app's limit, set for DICOM zips
        )
        if upload_row[1].button("Load file", key="fs-load-file", disabled=upload is None):
            load(dataset, known, upload)
        row = st.columns([2, 1])
        overwrite = row[0].checkbox("Overwrite a saved set of this name", key="fs-overwrite")
        wording = examples.prompt_problem() if examples.prompts is not None else None
        if wording is not None:  # to_dict keeps only a wording that can score
            row[0].caption(
                markdown_text(f"The wording is not saved or downloaded with the set: {wording}.")
            )
        empty = not examples.ids and examples.prompt_problem() is not None
        if row[1].button("Save to data root", key="fs-save", disabled=empty):
            mine = st.session_state.setdefault("fs-mine", set())
            try:
                path = save_example_set(
                    studio.settings, examples, examples.name, mine, overwrite, Path(dataset)
                )
            except UserError as err:
                st.error(markdown_text(err), icon=":material/block:")
            else:
                mine.add(path)
                st.success(markdown_text(f"Saved {path}"))
        row[1].download_button(
            "Download JSON",
            examples.dumps(),
            file_name=f"{examples.name}.json",
            mime="application/json",
            help="The file `python -m model fewshot --examples` reads",
        )


def load(dataset: str, known: Collection[str], source: Path | Any) -> None:
    """Make the saved set at ``source`` (a path), or the uploaded file, this dataset's set (a
    saved set loaded may be saved over); a bad file or another dataset's set is a message and
    leaves the set as it was."""
    saved = isinstance(source, Path)
    try:
        loaded = loaded_set(source, known, Path(dataset).name)
    except DataError as err:
        st.error(markdown_text(err), icon=":material/block:")
        return
    keep_set(st.session_state, dataset, loaded)
    if saved:
        st.session_state.setdefault("fs-mine", set()).add(source)
    st.rerun()


def results(dataset: str, examples: ExampleSet, studies: pd.DataFrame) -> None:
    """The ranked studies, their CSV, and the ranking against a label."""
    check_ready(studio)  # said at once, not only once examples are picked
    restore({"fs-method": METHODS[0]})  # kept while the user adds examples on other pages
    method = st.radio(
        "Method",
        METHODS,
        horizontal=True,
        key="fs-method",
        help="prototype: cosine to the examples' mean minus cosine to the counter-examples' "
        "(without counter-examples, every other study's) mean · logistic: a logistic "
        "regression fitted on the examples and counter-examples (needs one of each) · "
        "prompted: the zero-shot classifier of your wording of the class and of its absence, "
        "refitted on the examples (examples optional; without them it is the zero-shot "
        "classifier itself)",
    )
    remember(["fs-method"])
    if method == "prompted":
        examples = prompt_boxes(dataset)
    problem = method_note(examples, method)
    if problem is not None:
        st.info(markdown_text(problem), icon=":material/info:")
        return
    scores = studio.few_shot_scores(examples, method)
    table = ranked_table(scores, studies, TABLE_ROWS)
    others = int((scores["example"] == "").sum())
    name = class_name(examples)
    like = "the examples" if name is None else f"“{markdown_text(name)}”"
    st.subheader(f"{others:,} other studies, most like {like} first")
    listed = (
        f" Listed: the first {len(table):,}; the ranked CSV holds all {others:,}; "
        f"{header_sort_note(len(table), others)}."
    )
    opens = f" Select a row to open the case ({ROW_PICK_KEYS})."
    st.caption(SCORE_MEANING[method] + (listed if len(table) < others else "") + opens)
    picked = st.dataframe(
        table,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="fs-ranked",
        height=360,
        column_config={
            **table_labels(table),
            "score": st.column_config.NumberColumn(column_label("score"), format="%.3f"),
        },
    )
    if picked.selection.rows:
        open_case(str(table.iloc[picked.selection.rows[0]]["study_id"]))
    st.download_button(
        "Download ranked CSV",
        lambda: ranked_csv(scores, studies),
        file_name=f"fewshot_{examples.name}.csv",
        mime="text/csv",
    )
    compare_with_label(scores, studies)


def compare_with_label(scores: pd.DataFrame, studies: pd.DataFrame) -> None:
    """AUC (95% CI over patients) of the ranking against a label column of the dataset, whose
    ``studies`` (indexed by study_id) give each study's split."""
    labels = labels_or_warning(studio)
    if labels is None:
        return
    choices = [NO_LABEL, *map(str, labels.columns)]
    restore({"fs-label": NO_LABEL})  # each just before its widget, which takes the value
    if st.session_state["fs-label"] not in choices:  # kept from another dataset's labels
        st.session_state["fs-label"] = NO_LABEL
    row = st.columns([2, 1])
    label = row[0].selectbox(
        "Compare with label", choices, key="fs-label", format_func=display_name
    )
    remember(["fs-label"])
    if label == NO_LABEL:
        return
    splits = studies["split"]
    restore({"fs-split": ALL_STUDIES})
    if st.session_state["fs-split"] not in split_choices(splits):  # another dataset's split
        st.session_state["fs-split"] = ALL_STUDIES
    split = split_picker(row[1], splits, key="fs-split")
    remember(["fs-split"])
    scope = split if split == ALL_STUDIES else f"{split} split"
    try:
        truth = ranking_truth(labels, label, splits, split)  # other splits: unlabelled
        result = studio.few_shot_evaluation(scores, truth, display_name(label))
    except DataError as err:
        st.info(markdown_text(err), icon=":material/info:")
        return
    st.metric(
        markdown_text(f"AUC against {display_name(label)}"),  # a labels file's column
        f"{result.auc:.3f}",
        help=f"{meaning('AUC')} 95% CI by resampling patients.",
    )
    st.caption(
        f"95% CI {result.auc_lo:.3f}–{result.auc_hi:.3f} over {result.n:,} studies with a known "
        f"label ({result.n_positive:,} positive; {scope}). Left out: the {result.examples:,} "
        f"examples and counter-examples and {result.same_patient:,} other studies of their "
        f"patients. {interval_note('`python -m model fewshot --label`')}."
    )


with page_guard(studio):
    dataset = str(studio.dataset_path())
    studies = studio.studies().set_index("study_id")
    dropped = drop_unknown(st.session_state, dataset, studies.index.astype(str))
    if dropped:
        st.warning(markdown_text(dropped), icon=":material/warning:")
    chosen = class_name_box(dataset)
    example_lists(dataset, chosen, studies)
    add_from_picker(dataset, studies)
    load_and_save(dataset, chosen, set(studies.index.astype(str)))
    with page_guard(studio):
        results(dataset, chosen, studies)
