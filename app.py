"""CMR-CLIP Studio: the Streamlit entry point (page config and navigation over pages/).

``st.navigation`` lists the pages explicitly, which also turns off Streamlit's automatic
discovery of the ``pages/`` folder.

Streamlit runs this file as ``__main__`` (and installs it as ``sys.modules["__main__"]``), so
a child process that multiprocessing spawns from a page (the case index's read check,
``model.index.read_check``) imports this file again, as ``__mp_main__``: there it must do
nothing, not import Streamlit and lay out the pages (which doubled the check's time).
"""

# The sidebar's width (Streamlit's least; its own is 300 px): it holds only the page list. On a
# tablet in landscape (1024 px) the default left the page 564 px, so the case view's cine player
# got one view to a row (eight stacked) and paired charts ~250 px each; 200 gives the page 664 px.
# A window narrower than a tablet's portrait width still starts with the sidebar hidden ("auto").
SIDEBAR_PX = 200


def main() -> None:
    import streamlit as st

    from dashboard import set_process_environment

    set_process_environment()

    # an emoji tab icon is drawn by the browser; a :material: one is fetched from Google's fonts
    st.set_page_config(
        page_title="CMR-CLIP Studio",
        page_icon="🫀",
        layout="wide",
        initial_sidebar_state=SIDEBAR_PX,
    )
    pages = [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/studies.py", title="Studies", icon=":material/folder_open:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
        st.Page("pages/zeroshot.py", title="Zero-shot", icon=":material/target:"),
        st.Page("pages/fewshot.py", title="Few-shot", icon=":material/category:"),
        st.Page("pages/browser.py", title="Case browser", icon=":material/search:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    ]
    navigation = st.navigation(pages, position="sidebar")
    st.sidebar.caption("CMR-CLIP Studio · video–text encoder for cardiac MRI")
    navigation.run()


if __name__ == "__main__":
    main()
