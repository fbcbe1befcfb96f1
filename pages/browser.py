"""Case browser: natural-language search, more-like-this, metadata filters, paged case cards."""

import streamlit as st

from dashboard.case_search import CaseQuery, check_ready, search_cases
from dashboard.context import Studio
from dashboard.inert_text import markdown_text
from dashboard.label_filters import (
    LabelledStudies,
    case_studies,
    label_options,
    label_title,
    label_value,
)
from dashboard.search import example_line, page_of
from dashboard.studies import StudyFilter, column_label, filter_options
from dashboard.ui import (
    LIKE_ASKED_KEY,
    LIKE_KEY,
    card_cells,
    case_card,
    page_guard,
    page_header,
    show_empty_state,
    study_picker,
)

PER_PAGE = 12
FILTER_PX = 180
# a more-like-this search's cards read 0.999, 0.997, 0.996 and a text search's 0.456, 0.454:
# without a word on the scale the numbers said nothing
SIMILARITY_MEANING = (
    "Similarity: the cosine of the two embeddings (1 = the same direction). Read it as an order "
    "within this search: a text search's scores usually sit far lower than a study's neighbours'."
)
studio = Studio()
page_header(
    "Case browser",
    "Find studies by describing them, or by example: more like this.",
    words=("embedding", "case index", "checkpoint"),  # its caption says what the similarity is
)


def filters(studies, labels: list[str]) -> StudyFilter:
    """The metadata filters, then the labels' (``labels``: the diagnosis, the findings and the
    dataset's own label columns, under their names in its labels file)."""
    chosen = StudyFilter()
    with st.expander("Filters", expanded=False):
        filter_rows(chosen, filter_options(studies), labelled=False)
        options = label_options(studies, labels)
        if options:
            st.caption(
                "Labels from the dataset's labels file: the diagnosis (its one diagnosis "
                "column marked 1) and each label, 1 = yes, 0 = no"
            )
            filter_rows(chosen, options, labelled=True)
    return chosen


def filter_rows(chosen: StudyFilter, options: dict[str, list[str]], labelled: bool) -> None:
    """One box per field, each as wide as a label like "Left ventricle dysfunction", as many to
    a row as fit (six fixed columns cut an 800 px window's boxes to "Ch" and broke their labels
    letter by letter: "Manufact / urer"). An empty box filters nothing: "All"."""
    row = st.container(horizontal=True, gap="small")
    for name in options:
        title = label_title(name) if labelled else column_label(name)
        key = f"b-label-{name}" if labelled else f"b-{name}"  # a label may be named "query"
        chosen.values[name] = row.multiselect(
            title,
            options[name],
            key=key,
            placeholder="All",
            width=FILTER_PX,
            format_func=lambda value, name=name: label_value(name, value) if labelled else value,
        )


def prepare() -> LabelledStudies:
    """The studies joined to their labels, once per rerun: the filters and the search share it."""
    like = st.session_state.get(LIKE_KEY)
    # a card's More like this, even on this page: set (not just forget) the widgets' values, so
    # the browser shows them too and does not send its old choice back on the next click
    if st.session_state.pop(LIKE_ASKED_KEY, False):
        st.session_state.update({"b-mode": "More like this", "b-like": like, "b-page": 1})
    st.session_state.setdefault("b-mode", "More like this" if like else "Text")
    studio.studies()  # no dataset: its empty state first
    check_ready(studio)
    return case_studies(studio)


def ask(labelled: LabelledStudies) -> CaseQuery | None:
    like = st.session_state.get(LIKE_KEY)
    studies = labelled.table
    chosen = filters(studies, list(labelled.columns))
    mode = st.radio("Search by", ["Text", "More like this"], horizontal=True, key="b-mode")
    if mode == "Text":
        query = st.text_input(
            "Describe the study",
            placeholder="dilated left ventricle with mid-wall LGE",
            key="b-query",
            max_chars=500,
        )
        if not query.strip():
            st.caption(
                f"Type a description to rank {len(studies):,} studies, or switch to More like this."
            )
            return None
        return CaseQuery(text=query, filters=chosen)
    ids = studies["study_id"].astype(str).tolist()
    like = study_picker("Example study", ids, like, key="b-like")
    if like is None:
        return None
    # the example itself is never a match: without this line the cards had nothing to compare to
    st.caption(f"Example: {markdown_text(example_line(studies, like))}")
    st.session_state[LIKE_KEY] = like
    return CaseQuery(like=like, filters=chosen)


def show(results, query: CaseQuery) -> None:
    if results.missing is not None:
        show_empty_state(results.missing, studio)
    if results.notice:
        st.warning(markdown_text(results.notice), icon=":material/warning:")
    ranked = results.table
    if ranked.empty:
        other = " other" if query.like is not None else ""  # the example itself is never a match
        st.warning(f"No{other} study matches the filters.")
        st.caption(f"Searched with the {results.backend}")
        return
    pages = -(-len(ranked) // PER_PAGE)
    page = st.number_input(f"Page (of {pages})", 1, pages, key="b-page") if pages > 1 else 1
    st.caption(
        f"Top {len(ranked)} matches · page {page}/{pages} · searched with the {results.backend}"
    )
    st.caption(SIMILARITY_MEANING)
    rows = page_of(ranked, int(page), PER_PAGE).to_dict("records")
    for i, (cell, row) in enumerate(zip(card_cells(len(rows)), rows, strict=True)):
        with cell:  # in rank order, row by row
            case_card(studio, row, row["similarity"], key=f"b-{page}-{i}")


with page_guard(studio):
    labelled = prepare()
    query = ask(labelled)
    if query is not None:
        show(search_cases(studio, query, labelled), query)
