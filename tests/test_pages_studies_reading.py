"""The Studies page's case view shows what the model makes of the study a clinician opened:
each finding's probability as the Zero-shot page scores it, its rank in the dataset and the
study's label; and "Explain" computes in the background, once per key, the page usable
meanwhile, a failure one line."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import tiny_writable_root

from dashboard import explanations
from dashboard.explain_worker import ExplainWorker
from dashboard.study_reading import NO_LABEL_COLUMN, reading_table

pytestmark = pytest.mark.usefixtures("one_torch_thread")
STUDY = "s000002"
POLLS = 200  # page runs, each a fresh look at the worker, before a test gives up waiting


def _reading(at) -> pd.DataFrame:
    """The case view's Model reading table."""
    return next(d.value for d in at.dataframe if "percentile" in d.value.columns)


def _case(app, study: str = STUDY, **state: object):
    return app("pages/studies.py", studies_view="Case view", case_id=study, **state)


def test_the_case_view_reads_the_study_as_the_zero_shot_page_scores_it(app) -> None:
    zero_shot = next(d.value for d in app("pages/zeroshot.py").dataframe if "site" in d.value)
    page_row = zero_shot.set_index("study_id").loc[STUDY]
    reading = _reading(_case(app)).set_index("finding")
    assert len(reading) == 7  # the default set's findings
    for finding, p in reading["probability"].items():
        assert p == pytest.approx(float(page_row[finding]), abs=1e-6), finding
    assert reading["rank"].str.fullmatch(r"\d+ of 24").all()
    assert set(reading["label"]) <= {"labelled present", "labelled absent", "not labelled"}


def test_the_label_column_shows_only_with_labels_and_ranks_count_ties_once() -> None:
    findings = pd.DataFrame(
        {"lge": [0.9, 0.2, 0.9, 0.1], "hcm": [0.1, 0.3, 0.2, 0.4]},
        index=["a", "b", "c", "d"],
    )
    bare = reading_table(findings, "c", None)
    assert "label" not in bare.columns
    assert bare["rank"].tolist() == ["1 of 4", "3 of 4"]  # a tie with "a" shares its rank
    assert bare["percentile"].tolist() == [100, 50]
    labels = pd.DataFrame({"lge": [1.0, 0.0, float("nan"), 1.0]}, index=findings.index)
    table = reading_table(findings, "c", labels)
    assert table["label"].tolist() == ["not labelled", NO_LABEL_COLUMN]
    assert reading_table(findings, "a", labels)["label"].iloc[0] == "labelled present"


def test_without_labels_the_case_view_shows_no_label_column(app, data_root: Path) -> None:
    labels = data_root / "ds" / "tiny" / "labels.csv"
    hidden = labels.with_name("labels.csv.hidden")
    labels.rename(hidden)
    try:
        reading = _reading(_case(app))
    finally:
        hidden.rename(labels)
    assert "label" not in reading.columns and len(reading) == 7


def test_without_a_checkpoint_the_case_view_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard_fixtures import page_opener

    root = tiny_writable_root(tmp_path, monkeypatch)
    at = page_opener(root, monkeypatch)(
        "pages/studies.py", studies_view="Case view", case_id="s000001"
    )
    lines = [i.value for i in at.info if "model reading" in i.value.lower()]
    assert lines == [
        "No model reading: no trained checkpoint yet; train one on the Train page, or build "
        "the demo on Home."
    ]
    assert at.slider(key="lge-lge_sax").value == 8  # the rest of the case still shows


def _explaining(app):
    at = _case(app, **{"case-explain": True})
    assert not at.exception, [e.value for e in at.exception]
    return at


def _waiting(at) -> bool:
    return any("in the background" in i.value for i in at.info)


def test_the_explanation_renders_its_charts_once_the_worker_is_done(app) -> None:
    at = _explaining(app)
    for _ in range(POLLS):
        if at.get("plotly_chart"):
            break
        assert _waiting(at), [e.value for e in at.error]
        at.run()
    assert len(at.get("plotly_chart")) == 3  # views, frames, regions: the case view has no other
    assert not _waiting(at) and not at.exception
    finding = at.selectbox(key=f"case-explain-finding-{STUDY}")
    reading = _reading(at).set_index("finding")["probability"]
    assert finding.format_func(finding.value) == reading.idxmax()  # the study's highest first
    caption = next(c.value for c in at.caption if "Red: occluding" in c.value)
    assert f"= {reading.max():.3f} for {STUDY}" in caption  # the table's probability


class _HeldExecutor:
    """An executor that counts submissions and runs nothing until ``release``."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Future, object]] = []

    def submit(self, fn, *args):
        future: Future = Future()
        self.jobs.append((future, lambda: fn(*args)))
        return future

    def release(self) -> None:
        for future, run in self.jobs:
            future.set_running_or_notify_cancel()
            try:
                future.set_result(run())
            except Exception as err:  # noqa: BLE001 - the job's own failure, as a thread's
                future.set_exception(err)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> _HeldExecutor:
    executor = _HeldExecutor()
    worker = ExplainWorker(executor)
    monkeypatch.setattr(explanations, "explain_worker", lambda: worker)
    return executor


def test_a_rerun_while_it_computes_submits_nothing_again(app, held: _HeldExecutor) -> None:
    at = _explaining(app)
    assert _waiting(at) and not at.get("plotly_chart")
    at.slider(key="lge-lge_sax").set_value(3).run()  # the page stays usable: a rerun
    assert at.slider(key="lge-lge_sax").value == 3
    at.run()
    assert _waiting(at) and len(held.jobs) == 1
    held.release()
    at.run()
    assert len(at.get("plotly_chart")) == 3 and len(held.jobs) == 1


def test_a_failure_in_the_worker_is_one_error_line(
    app, held: _HeldExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("the tower fell over")

    monkeypatch.setattr(explanations, "explanation", broken)
    at = _explaining(app)
    held.release()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The explanation failed (RuntimeError: the tower fell over). The server log has details."
    ]
    assert not at.get("plotly_chart")
    at.button(key="case-explain-again").click().run()  # "Try again": asked for once more
    assert _waiting(at) and len(held.jobs) == 2 and not at.error
