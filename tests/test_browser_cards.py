"""Case cards of the Case browser: More like this on a card shows that study's neighbours; a study
whose views cannot be read keeps its card (with the reason) and the other results still show."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from dashboard_fixtures import tiny_data_root
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
pytestmark = pytest.mark.slow
EXTERNAL = [f"s00{i:04d}" for i in range(0, 24, 5)]  # tiny_dataset: every fifth study


def _cards(at: AppTest) -> list[str]:
    return [
        re.match(r"\*\*(\S+)\*\*", m.value).group(1) for m in at.markdown if "similarity" in m.value
    ]


@pytest.fixture
def browser(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CMR_DATA_ROOT", str(tiny_data_root(tmp_path_factory)))
    for name in ("CMR_CHROMA_HOST", "CMR_CHROMA_PORT", "CMR_CHROMA_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def open_browser(**state: object) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        return at.switch_page("pages/browser.py").run()

    return open_browser


@pytest.mark.parametrize("start", ["text", "like"])
def test_more_like_this_on_a_result_card_shows_that_studys_neighbours(browser, start) -> None:
    at = browser(**({"like_id": "s000003"} if start == "like" else {}))
    if start == "text":
        at.text_input(key="b-query").input("Dilated left ventricle").run()
    example = _cards(at)[1]
    next(b for b in at.button if b.key == "like-b-1-1").click().run()
    assert not at.exception and not at.error and not at.warning
    assert at.radio(key="b-mode").value == "More like this"
    assert at.selectbox(key="b-like").value == example
    cards = _cards(at)
    assert len(cards) == 12 and example not in cards


def test_a_study_with_unreadable_views_keeps_its_card_and_the_rest_show(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tiny_data_root(tmp_path_factory)
    root = Path(shutil.copytree(shared, tmp_path_factory.mktemp("cards") / "data"))
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    for name in ("CMR_CHROMA_HOST", "CMR_CHROMA_PORT", "CMR_CHROMA_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/browser.py").run()  # the dataset and its embeddings are open
    (root / "ds" / "tiny" / "tensors" / f"{EXTERNAL[1]}.npy").unlink()  # lost from the disk
    at.multiselect(key="b-site").select("external").run()
    at.text_input(key="b-query").input("Dilated left ventricle").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert sorted(_cards(at)) == EXTERNAL
    [note] = [c.value for c in at.caption if "Views unavailable" in c.value]
    assert f"tensor of study {EXTERNAL[1]} is missing" in note


def test_more_like_this_sets_the_widgets_the_browser_shows(browser) -> None:
    """The browser keeps showing (and sends back on the next click) a widget's old value unless
    the run sets it: a forgotten value left "Text" shown and lost the results on the next page."""
    at = browser()
    at.text_input(key="b-query").input("Dilated left ventricle").run()
    at.number_input(key="b-page").increment().run()
    example = _cards(at)[1]
    next(b for b in at.button if b.key == "like-b-2-1").click().run()
    assert not at.exception
    told = {
        "b-mode": at.radio(key="b-mode").proto,
        "b-like": at.selectbox(key="b-like").proto,
        "b-page": at.number_input(key="b-page").proto,
    }
    assert all(proto.set_value for proto in told.values()), [
        k for k, p in told.items() if not p.set_value
    ]
    assert (at.radio(key="b-mode").value, at.selectbox(key="b-like").value) == (
        "More like this",
        example,
    )
    assert at.number_input(key="b-page").value == 1
    at.number_input(key="b-page").increment().run()  # the next click keeps the example's results
    assert at.radio(key="b-mode").value == "More like this"
    assert at.selectbox(key="b-like").value == example and example not in _cards(at)
