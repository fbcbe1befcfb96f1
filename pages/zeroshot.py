"""Zero-shot: edit prompt sets, score every study, inspect top cases, ROC/AUC/confusion with labels."""

from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.context import DataError, Studio, UserError
from dashboard.explanations import explain_section
from dashboard.finding_summary import (
    VIEW_STUDIES,
    case_views,
    choice_classes,
    label_word,
    shown_cases,
)
from dashboard.formatting import duration_text
from dashboard.inert_text import markdown_text
from dashboard.page_memory import kept_tables, remember, remember_tables, restore
from dashboard.prompt_editor import (
    MAX_UPLOAD_MB,
    PromptSet,
    diagnoses_rows,
    edited_or_last_valid,
    findings_rows,
    load_prompt_set,
    prompt_files,
    prompt_set_from_rows,
    save_prompt_set,
    trial_key,
    trial_replaces,
    with_trial,
)
from dashboard.score_table_view import score_table_section
from dashboard.scoring import (
    clean_query,
    display_name,
    prompt_choices,
)
from dashboard.ui import (
    card_cells,
    case_card,
    page_guard,
    page_header,
)
from dashboard.zero_shot_labels import label_comparison

studio = Studio()
page_header(
    "Zero-shot",
    "Classify studies with text prompts alone: each study is compared with a positive and a "
    "negative wording of a finding, and the closer wording gets the higher probability.",
    words=("zero-shot", "prompt", "embedding", "cosine similarity", "logit scale", "AUC", "ROC")
    + ("95% CI",),
)
SCORING_HELP = (
    "p = softmax(scale · [cos(v, positive), cos(v, negative)]): v is the study's video "
    "embedding, cos its similarity to a wording's (several wordings are averaged), and scale "
    "the sharpness the model learned in training: how strongly a small difference in "
    "similarity becomes a probability near 0 or 1. A diagnosis goes to the class whose "
    "wordings the study is closest to."
)


EDITOR_DEFAULTS = {  # kept while the user visits other pages (dashboard.page_memory)
    "zs-source": None,
    "zs-try-name": "custom",
    "zs-try-pos": "",
    "zs-try-neg": "",
    "zs-save-name": "my-prompts",
    "zs-overwrite": False,
}
READ_DEFAULT = {"zs-read": False}


def editing_origin(files: dict[str, Path]) -> tuple[str, str]:
    """The chosen set's name and what the editor edits (that set, or an upload): an upload
    still edited after a visit to another page (which empties the uploader) stays the origin."""
    if st.session_state.get("zs-source") not in files:
        st.session_state["zs-source"] = next(iter(files))  # first visit, or the set was deleted
    returned = "zs-upload" not in st.session_state
    top = st.columns([2, 2])
    source = top[0].selectbox("Prompt set", list(files), key="zs-source")
    upload = top[1].file_uploader(
        "…or load a YAML file",
        type=["yaml", "yml"],
        key="zs-upload",
        max_upload_size=MAX_UPLOAD_MB,  # not the app's limit, set for DICOM zips
    )
    origin = f"upload:{upload.file_id}" if upload is not None else source
    edited = str(st.session_state.get("zs-origin"))
    if upload is None and returned and edited.startswith("upload:"):
        origin = edited
    if st.session_state.get("zs-origin") != origin:
        loaded = load_prompt_set(files[source], upload)
        st.session_state["zs-origin"] = origin
        st.session_state["zs-base"] = (findings_rows(loaded), diagnoses_rows(loaded))
    kept = kept_tables("zs-tables", origin, f"zs-f-{origin}")
    if kept is not None:
        st.session_state["zs-base"] = kept
    return source, origin


def prompt_editor() -> PromptSet | None:
    files = prompt_files(studio.settings)
    restore(EDITOR_DEFAULTS)
    source, origin = editing_origin(files)
    base_findings, base_diagnoses = st.session_state["zs-base"]
    tab_f, tab_d, tab_y = st.tabs(["Findings", "Diagnoses", "YAML · save"])
    with tab_f:
        st.caption(
            "One row per finding; separate several prompts in a cell with `|`. Add or delete rows freely."
        )
        findings = st.data_editor(
            base_findings, num_rows="dynamic", key=f"zs-f-{origin}", width="stretch"
        )
    with tab_d:
        st.caption(
            "One row per diagnosis class; the study goes to the class whose prompts it matches best."
        )
        diagnoses = st.data_editor(
            base_diagnoses, num_rows="dynamic", key=f"zs-d-{origin}", width="stretch"
        )
    with tab_f:
        name, positive, negative, scored_note = trial_finding()
    remember(EDITOR_DEFAULTS)
    remember_tables("zs-tables", origin, (findings, diagnoses))
    prompts, problem = edited_or_last_valid(
        lambda: prompt_set_from_rows(with_trial(findings, name, positive, negative), diagnoses),
        st.session_state,
    )
    if scored_note is not None and problem is None:  # not "scored" above an error saying why not
        shown = markdown_text(display_name(trial_key(name)))
        instead = (
            f", in place of the set's own “{shown}” prompts"
            if trial_replaces(findings, name)
            else ""
        )
        scored_note.caption(
            f"Scored as “{shown}”{instead}: its top-scoring studies are shown below."
        )
    if problem is not None:
        st.error(markdown_text(problem), icon=":material/block:")
        if prompts is not None:
            st.caption(
                "The scores below are those of the last valid prompt set until this is fixed."
            )
        return prompts
    with tab_y:
        save_tab(prompts, None if origin.startswith("upload:") else files[source])
    return prompts


def trial_finding() -> tuple[str, str, str, DeltaGenerator | None]:
    """The "Try a finding" inputs: (name, positive, negative, the place of the line saying how
    the trial is scored, filled once the edited set is known to be valid; None unless both
    wordings are typed)."""
    st.caption("Try a finding: type a positive and a negative wording; it is scored at once.")
    row = st.columns([1, 2, 2])
    name = row[0].text_input("Name", key="zs-try-name")
    positive = row[1].text_input("Positive prompt", key="zs-try-pos", max_chars=500)
    negative = row[2].text_input("Negative prompt", key="zs-try-neg", max_chars=500)
    note = None
    if positive.strip() and negative.strip():
        note = st.empty()
        restore(READ_DEFAULT)  # just before its widget, drawn only with both wordings
        if st.toggle("How does the model read these two wordings?", key="zs-read"):
            prompt_reading(positive, negative)
        remember(READ_DEFAULT)
    elif positive.strip() or negative.strip():
        missing = "negative" if positive.strip() else "positive"
        st.caption(f"Type a {missing} wording too: a finding is scored as one against the other.")
    return name, positive, negative, note


def save_tab(prompts: PromptSet, loaded: Path | None) -> None:
    """The edited set as YAML, saved to the data root or downloaded."""
    st.code(prompts.dumps(), language="yaml")
    row = st.columns([2, 1, 1])
    name = row[0].text_input("Save as", key="zs-save-name")
    overwrite = row[0].checkbox(
        "Overwrite a saved set of this name",
        key="zs-overwrite",
        help="Replaces the set saved under this name, whoever saved it",
    )
    if row[1].button("Save to data root", key="zs-save"):
        save(prompts, name, loaded, overwrite)
    row[2].download_button(
        "Download YAML", prompts.dumps(), file_name=f"{name}.yaml", mime="text/yaml"
    )


def save(prompts: PromptSet, name: str, loaded: Path | None, overwrite: bool) -> None:
    """Save the edited set, or say why not; the set it was loaded from and the sets this session
    saved may be saved over, so saving again after more edits works."""
    saved = st.session_state.setdefault("zs-saved", set())
    mine = {*saved, *filter(None, [loaded])}
    try:
        path = save_prompt_set(studio.settings, prompts, name, mine, overwrite)
    except UserError as err:  # shown here: the scores below stay on the page
        st.error(markdown_text(err), icon=":material/block:")
        return
    saved.add(path)
    st.success(markdown_text(f"Saved {path}"))


def prompt_reading(positive: str, negative: str) -> None:
    reading = studio.prompt_reading(clean_query(positive), clean_query(negative))
    for warning in reading.warnings():
        st.warning(markdown_text(warning), icon=":material/warning:")
    st.caption(
        f"The two wordings are read at cosine {reading.cosine:.2f} (1.00: the model cannot tell "
        "them apart). Closest sentences of this dataset's reports, and how many studies state each:"
    )
    columns = st.columns(2)
    sides = (("Positive", reading.positive), ("Negative", reading.negative))
    for column, (title, side) in zip(columns, sides, strict=True):
        column.markdown(f"**{title}:** “{markdown_text(side.prompt)}”")
        if side.neighbours.empty:
            column.info("This dataset has no report impressions to compare with.")
            continue
        column.dataframe(
            side.neighbours,
            hide_index=True,
            column_config={"cosine": st.column_config.NumberColumn(format="%.2f")},
            key=f"zs-read-{title.lower()}",
        )


def scores_section(prompts: PromptSet) -> None:
    scoring = studio.zero_shot_scores(prompts)
    scores = scoring.scores
    when = "when this prompt set was first scored; reused now" if scoring.reused else "just now"
    st.caption(
        f"Scored {len(scores.findings):,} studies × {scores.findings.shape[1]} findings + "
        f"{scores.diagnoses.shape[1]} classes in {duration_text(scoring.elapsed_ms)} ({when}; "
        f"the model's scale {studio.logit_scale():.1f})",
        help=SCORING_HELP,
    )
    unread_text_warnings(prompts)
    studies = studio.studies().set_index("study_id")
    score_table_section(scores, studies)
    top_cases(scores, studies, prompts)
    label_comparison(studio, scores, studies["split"])


def unread_text_warnings(prompts: PromptSet) -> None:
    """Name the prompts the text tower cannot read whole: cut at its length, or with words it
    has no word pieces for."""
    limits = studio.unread_prompt_text(prompts)
    if limits.cut:
        quoted = ", ".join(f"“{markdown_text(text)}”" for text in limits.cut)
        st.warning(
            f"The text tower reads the first {limits.context_length} word pieces of a sentence "
            f"and ignores the rest, so the end of these prompts is not scored: {quoted}. "
            "Shorten them or split them into sentences.",
            icon=":material/content_cut:",
        )
    if limits.unknown:
        quoted = ", ".join(
            f"“{markdown_text(text)}” ({markdown_text(' '.join(words))})"
            for text, words in limits.unknown.items()
        )
        st.warning(
            "The text tower learned English report language and has no word pieces for some "
            "words of these prompts, so it reads each as one and the same unknown token and "
            f"their scores mean little: {quoted}. Write them in English.",
            icon=":material/translate:",
        )


def top_cases(scores, studies, prompts: PromptSet) -> None:
    choices = prompt_choices(scores)
    if not choices:
        return
    st.subheader("Top-scoring studies")
    show_tried_finding(choices)
    choice = st.selectbox("Prompt", list(choices), key="zs-top")
    try:
        labels = studio.labels()
    except DataError:  # the Against-labels section below says what is wrong with the file
        labels = None
    key = str(choices[choice].name)
    classes = choice_classes(scores, choice)  # a diagnosis is read one-hot, as its matrix is
    views = case_views(labels, key)
    view = st.segmented_control("Show", views, default=views[0], key="zs-top-view") or views[0]
    top = shown_cases(choices[choice], labels, key, view, classes=classes)
    if top.empty:
        st.info(markdown_text(f"No study is {VIEW_STUDIES[view]} for {choice}."))
    for i, ((study_id, prob), cell) in enumerate(
        zip(top.items(), card_cells(len(top)), strict=True)
    ):
        row = {"study_id": study_id, **studies.loc[study_id].to_dict()}
        with cell:
            st.metric(markdown_text(f"p({choice})"), f"{prob:.3f}")
            word = label_word(labels, key, study_id, classes)
            if word is not None:  # whether the labels agree, without reading the report
                st.caption(word)
            case_card(studio, row, None, key=f"zs-{i}")
    explain_section(studio, prompts, scores.findings, key, list(top.index))


def show_tried_finding(choices: dict) -> None:
    """Show the top studies of a finding just tried (typed, or its wording changed); the
    user's own pick of another stays until the next try."""
    tried = tuple(st.session_state.get(k, "") for k in ("zs-try-name", "zs-try-pos", "zs-try-neg"))
    if not (tried[1].strip() and tried[2].strip()) or st.session_state.get("zs-tried") == tried:
        return
    st.session_state["zs-tried"] = tried
    shown = display_name(trial_key(tried[0]))
    if shown in choices:
        st.session_state["zs-top"] = shown


with page_guard(studio):
    prompt_set = prompt_editor()
    with page_guard(studio):
        if prompt_set is not None:
            scores_section(prompt_set)
