"""Case browser: natural-language search, more-like-this, metadata filters, paged case cards."""

import streamlit as st

from dashboard.context import Studio
from dashboard.scoring import clean_query
from dashboard.search import page_of, rank, vector_of
from dashboard.studies import StudyFilter, apply_filter, filter_options
from dashboard.ui import LIKE_KEY, case_card, page_guard, page_header

PER_PAGE = 12
studio = Studio()
page_header("Case browser", "Find studies by describing them, or by example: more like this.")


def filters(studies):
    options = filter_options(studies)
    chosen = StudyFilter()
    with st.expander("Filters", expanded=False):
        cols = st.columns(max(len(options), 1))
        for col, (name, values) in zip(cols, options.items(), strict=False):
            chosen.values[name] = col.multiselect(name.replace("_", " "), values, key=f"b-{name}")
    return apply_filter(studies, chosen)


def results():
    studies = studio.studies()
    allowed = filters(studies)
    like = st.session_state.get(LIKE_KEY)
    mode = st.radio(
        "Search by",
        ["Text", "More like this"],
        horizontal=True,
        index=1 if like else 0,
        key="b-mode",
    )
    emb = studio.embeddings()
    if mode == "Text":
        query = st.text_input(
            "Describe the study",
            placeholder="dilated left ventricle with mid-wall LGE",
            key="b-query",
            max_chars=500,
        )
        if not query.strip():
            st.caption(
                f"Type a description to rank {len(allowed):,} studies, or switch to More like this."
            )
            return None
        vector = studio.text_encoder()([clean_query(query)])[0]
        exclude: list[str] = []
    else:
        ids = studies["study_id"].astype(str).tolist()
        like = st.selectbox(
            "Example study", ids, index=ids.index(like) if like in ids else 0, key="b-like"
        )
        st.session_state[LIKE_KEY] = like
        vector = vector_of(like, emb.ids, emb.vectors)
        exclude = [like]
    ranked = rank(
        vector, emb.ids, emb.vectors, set(allowed["study_id"].astype(str)), exclude, k=200
    )
    return ranked.merge(allowed, on="study_id", how="left")


with page_guard(studio):
    ranked = results()
    if ranked is not None:
        if ranked.empty:
            st.warning("No study matches the filters.")
        else:
            pages = -(-len(ranked) // PER_PAGE)
            page = (
                st.number_input(f"Page (of {pages})", 1, pages, 1, key="b-page") if pages > 1 else 1
            )
            st.caption(f"Top {len(ranked)} matches · page {page}/{pages}")
            cells = st.columns(3)
            for i, row in enumerate(page_of(ranked, int(page), PER_PAGE).to_dict("records")):
                with cells[i % 3]:
                    case_card(studio, row, row["similarity"], key=f"b-{page}-{i}")
