"""Pages while the demo build that ``./run.sh`` started is running: they say which step makes
what they lack and where the build is, never "Build the demo" (a build is running) nor a job
that would compute beside the build what one of its steps computes."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dashboard_fixtures import make_tiny_checkpoint, make_tiny_dataset, page_opener
from streamlit.testing.v1 import AppTest

from dashboard import jobs as jobs_module
from dashboard.demo_wait import demo_busy_note, demo_step, demo_wait
from dashboard.job import Job
from dashboard.jobs import JobManager
from model.demo import DemoLayout
from model.schema import DatasetPaths


def _job(state: str, stage: str | None) -> Job:
    progress = {"stage": stage} if stage else {}
    return Job(Path("j"), {"id": "demo-1", "kind": "demo"}, state, progress=progress)


def test_demo_step_reads_the_step_number_of_the_stage() -> None:
    assert demo_step({"stage": "3/5 train · train"}) == 3
    assert demo_step({"stage": "starting…"}) == 0
    assert demo_step({}) == 0


def test_the_wait_applies_only_until_the_step_that_makes_it_has_ended() -> None:
    wait = demo_wait(_job("running", "1/5 generate · generate"), "ingest")
    assert wait is not None and wait.step == 2
    assert "step 2/5 (ingest)" in wait.note and "step 1/5 (generate)" in wait.note
    assert demo_wait(_job("running", None), "train").note.count("is starting") == 1
    making = demo_wait(_job("running", "2/5 ingest · ingest"), "ingest")
    assert making is not None and "is making it (step 2/5, ingest)" in making.note
    assert demo_wait(_job("running", "3/5 train · train"), "ingest") is None  # really missing
    assert demo_wait(_job("finished", "1/5 generate"), "ingest") is None
    assert demo_wait(_job("running", "1/5 generate"), None) is None
    assert demo_wait(None, "ingest") is None


def _texts(at: AppTest) -> str:
    return " ".join(str(p.value) for p in (*at.info, *at.markdown, *at.caption))


@pytest.fixture
def demo_at(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``demo_at(stage)``: a running demo build job under ``tmp_path/data`` whose progress
    reads ``stage``; cancelled afterwards."""
    root = tmp_path / "data"
    jobs = JobManager(root / "jobs")
    started: list[str] = []

    def start(stage: str) -> Path:
        progress = json.dumps({"stage": stage, "done": 1, "total": 4, "fraction": 0.25})
        script = (
            "import os, time; "
            f"open(os.environ['CMR_PROGRESS_FILE'], 'w').write({progress!r}); time.sleep(60)"
        )
        job = jobs.launch("demo", [sys.executable, "-c", script], title="Build the demo")
        started.append(job.id)
        deadline = time.monotonic() + 60
        while jobs.get(job.id).progress.get("stage") != stage:  # the page reads it so
            assert time.monotonic() < deadline, f"the job never reported {stage!r}"
            time.sleep(0.05)
        return root

    yield start
    for job_id in started:
        jobs.cancel(job_id)
    jobs_module._CHILDREN.clear()


def test_while_the_demo_generates_pages_say_the_step_that_makes_their_data(
    demo_at, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_page = page_opener(demo_at("1/5 generate · generate"), monkeypatch)
    for page in ("pages/embeddings.py", "pages/train.py", "pages/browser.py"):
        shown = _texts(open_page(page))
        assert "makes it in step 2/5 (ingest)" in shown, page
        assert "at step 1/5 (generate)" in shown, page
        assert "Build the demo data" not in shown and "Build the demo on Home" not in shown


def test_while_the_demo_indexes_no_page_offers_to_embed_its_studies(
    demo_at, demo_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = demo_at("4/5 index · embed")
    dataset = _demo_parts(demo_template, root, embedded=False)
    assert not DatasetPaths(dataset).embeddings.exists()  # no study embeddings yet
    open_page = page_opener(root, monkeypatch)
    for page in (
        "pages/embeddings.py",
        "pages/zeroshot.py",
        "pages/browser.py",
        "pages/fewshot.py",
    ):
        at = open_page(page)  # at once: Few-shot said it only once examples were picked
        assert "Compute study embeddings" not in [b.label for b in at.button], page
        assert "is making it (step 4/5, index)" in _texts(at), page


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding what the build's steps up to its index leave: the demo's internal
    dataset (8 studies), its run's checkpoints and their study embeddings. Built once; each
    test copies the parts it needs (``_demo_parts``)."""
    from model.data.dataset import CMRDataset
    from model.embed import cached_study_embeddings

    root = tmp_path_factory.mktemp("demo-template") / "data"
    dataset = make_tiny_dataset(DemoLayout(root).dataset("internal"), n=8)
    make_tiny_checkpoint(dataset, DemoLayout(root).run)
    for saved in DemoLayout(root).run.glob("*.pt"):  # the page's is one of them
        cached_study_embeddings(saved, CMRDataset.open(dataset))
    return root


def _demo_parts(template: Path, root: Path, embedded: bool, run: Path | None = None) -> Path:
    """The template's demo dataset (with its study embeddings when ``embedded``) copied under
    ``root``, and its run's folder copied to ``run`` (the demo's run by default); the dataset's
    folder."""
    source, target = DemoLayout(template), DemoLayout(root)
    ignore = None if embedded else shutil.ignore_patterns(DatasetPaths(template).embeddings.name)
    dataset = shutil.copytree(source.dataset("internal"), target.dataset("internal"), ignore=ignore)
    shutil.copytree(source.run, run or target.run)
    return Path(dataset)


def test_while_the_demo_indexes_the_case_browser_offers_no_index_build_beside_it(
    demo_at, demo_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between embedding a site and writing the index, a search offered Build the case index:
    a second index job, beside the build's, of the same checkpoint and studies."""
    root = demo_at("4/5 index · embed studies")
    _demo_parts(demo_template, root, embedded=True)
    at = page_opener(root, monkeypatch)("pages/browser.py")
    at.text_input(key="b-query").input("dilated left ventricle").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Build the case index" not in [b.label for b in at.button]
    assert "is making it (step 4/5, index)" in _texts(at)


def test_the_busy_note_says_what_starting_work_costs_the_build() -> None:
    training = demo_busy_note(_job("running", "3/5 train · train"))
    assert training is not None and "is at step 3/5 (train)" in training
    assert "fewer epochs in its time budget" in training
    indexing = demo_busy_note(_job("running", "4/5 index · embed"))
    assert indexing is not None and "fewer epochs" not in indexing  # its training is done
    assert demo_busy_note(_job("finished", "5/5 map")) is None
    assert demo_busy_note(None) is None


@pytest.mark.parametrize("page", ["pages/train.py", "pages/evaluate.py"])
def test_train_and_evaluate_caution_against_competing_work_while_the_demo_trains(
    demo_at, demo_template: Path, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    """Train and Evaluate offered a run beside the demo build's training without a word: on 2
    cores both slowed, and the build's time budget chose 7 epochs instead of 84 (session 44)."""
    root = demo_at("3/5 train · train")
    _demo_parts(demo_template, root, embedded=False, run=root / "runs" / "earlier")  # Evaluate's
    at = page_opener(root, monkeypatch)(page)
    assert not at.exception, [e.value for e in at.exception]
    [warning] = [w.value for w in at.warning if "demo build" in w.value]
    assert "is at step 3/5 (train)" in warning and "fewer epochs" in warning


def test_while_the_demo_draws_its_map_the_embeddings_page_waits_for_it(
    demo_at, demo_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the build's map step the Embeddings page fitted its own UMAP of the same embeddings
    beside the build's, on the same two cores; it now waits for the build's, as other pages
    wait for their step."""
    root = demo_at("5/5 map · internal")
    dataset = _demo_parts(demo_template, root, embedded=True)
    at = page_opener(root, monkeypatch)("pages/embeddings.py")
    assert not at.exception, [e.value for e in at.exception]
    assert "is making it (step 5/5, map)" in _texts(at)
    assert not list(dataset.rglob("*.map-*.npz"))  # no map of its own fitted and kept
