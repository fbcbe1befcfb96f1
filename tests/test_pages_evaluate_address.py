"""The Evaluate page keeps the evaluation it shows in its address: a demo's view is one a
colleague opens from a shared link or a reload, not a sequence of clicks to repeat."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dashboard_fixtures import APP, tiny_writable_root
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow


@pytest.fixture
def evaluations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two finished evaluations under a data root of this test's own; ``older`` listed last."""
    folder = tiny_writable_root(tmp_path, monkeypatch) / "evaluations"
    for name, stamp in (("older", 1e9), ("newer", 2e9)):
        (folder / name / "internal").mkdir(parents=True)
        (folder / name / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.9\n")
        summary = {"config": {"checkpoint": f"/runs/{name}/best.pt"}, "results": []}
        (folder / name / "summary.json").write_text(json.dumps(summary))
        os.utime(folder / name, (stamp, stamp))
    return folder


def _evaluate(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    at.run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_evaluation_shown_is_kept_in_the_address(evaluations: Path) -> None:
    at = _evaluate({})
    assert at.selectbox(key="ev-folder").value == evaluations / "newer"  # newest first
    assert at.query_params.get("evaluation") == "newer"
    at.selectbox(key="ev-folder").select(evaluations / "older").run()
    assert at.query_params.get("evaluation") == "older"


def test_a_shared_address_opens_the_evaluation_it_names(evaluations: Path) -> None:
    at = _evaluate({"evaluation": "older"})  # a new session: nothing in session state
    assert at.selectbox(key="ev-folder").value == evaluations / "older"


def test_an_address_naming_no_evaluation_opens_the_newest_and_says_so(evaluations: Path) -> None:
    at = _evaluate({"evaluation": "../../etc"})
    assert at.selectbox(key="ev-folder").value == evaluations / "newer"
    assert any("../../etc" in c.value for c in at.caption), [c.value for c in at.caption]
    assert at.query_params.get("evaluation") == "newer"


def test_a_figure_s_caption_says_what_it_shows_not_only_its_file(evaluations: Path) -> None:
    """On a projector the caption under a figure read "internal/plots/roc_m.png": the audience
    sees no alt text, so the caption says what the figure shows, then its file."""
    import pandas as pd

    from model.evaluation.plots import plot_confusion

    matrix = pd.DataFrame([[3, 1], [0, 2]], index=["a", "b"], columns=["a", "b"])
    plot_confusion(
        matrix, "t", evaluations / "newer" / "internal" / "plots" / "confusion_zero-shot_m.png"
    )
    at = _evaluate({})
    [image] = [image for images in at.get("image") for image in images.proto.imgs]
    assert image.caption.startswith("Confusion matrix of the zero-shot diagnosis: true rows")
    assert image.caption.endswith(". File: internal/plots/confusion_zero-shot_m.png"), image.caption


def test_the_zero_shot_tab_shows_the_published_figures_as_not_ours(evaluations: Path) -> None:
    """Issue 4: the published CMR-CLIP AUCs beside ours, on the page a demo shows too."""
    from model.evaluation.published import PUBLISHED_COLUMN

    at = _evaluate({})
    tables = [frame.value for frame in at.dataframe]
    [published] = [t for t in tables if PUBLISHED_COLUMN in t.columns]
    assert published.set_index("Label")[PUBLISHED_COLUMN]["LGE"] == 0.705
    assert published.set_index("Label")["AUC"]["LGE"] == 0.9  # ours, from internal/zeroshot.csv
    assert any("real patients" in c.value for c in at.caption)


def _open_tab(at: AppTest) -> str:
    """The title of the tab the page opens (its tab container's current tab)."""
    found, blocks = [], [at.main]
    while blocks:
        block = blocks.pop()
        if type(block.proto).__name__ == "Block" and block.proto.HasField("tab_container"):
            found.append(block)
        blocks += [child for child in getattr(block, "children", {}).values()]
    [container] = found
    titles = [tab.label for tab in container.children.values()]
    return titles[container.proto.tab_container.default_tab_index]


def test_the_open_tab_is_kept_in_the_address(evaluations: Path) -> None:
    """Which tab was open was not in the address: a link to the Figures of an evaluation, or
    a reload, opened its first tab."""
    for table in ("retrieval", "probe"):
        (evaluations / "older" / "internal" / f"{table}.csv").write_text("model,R@1\nm,0.5\n")
    at = _evaluate({"evaluation": "older", "tab": "Retrieval"})  # a shared link
    assert _open_tab(at) == "Retrieval"
    assert at.query_params.get("tab") == "Retrieval"
    at.query_params["tab"] = "Linear probe"  # the browser's address once the reader switched
    at.run()
    assert _open_tab(at) == "Linear probe"
    at.selectbox(key="ev-folder").select(evaluations / "newer").run()  # no probe there
    assert _open_tab(at) == "Zero-shot" and "tab" not in at.query_params and not at.exception


def test_an_address_naming_no_tab_opens_the_first(evaluations: Path) -> None:
    at = _evaluate({"evaluation": "newer", "tab": "Retrieval"})  # a tab this one lacks
    assert _open_tab(at) == "Zero-shot" and "tab" not in at.query_params
