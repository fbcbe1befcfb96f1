"""Test-wide settings: everything offline, no telemetry, no GPU; and the page tests' data root
(the tiny one, one per test module) with an ``app`` fixture opening a page over it."""

import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

# Test modules import the tiny-dataset helpers both as ``tiny_dataset`` (this folder is on the
# path) and as ``tests.tiny_dataset``: one module under both names, so that
# ``shared_tiny_checkpoint()`` trains its checkpoint once per test process, not once per name.
import tiny_dataset  # noqa: E402

sys.modules.setdefault("tests.tiny_dataset", tiny_dataset)


@pytest.fixture(autouse=True)
def _streamlit_component_scan_once() -> None:
    """Each new ``AppTest`` scans every installed distribution's metadata for Streamlit
    custom components (~0.15 s of CPU, most of opening a simple page); the app has none and the
    installed packages do not change during a test session, so once Streamlit's scanner is
    loaded its answer is kept for the session. Everything else about ``AppTest`` runs as before.
    """
    scanner = sys.modules.get("streamlit.components.v2.manifest_scanner")
    if scanner is not None and not hasattr(scanner.scan_component_manifests, "cache_info"):
        scanner.scan_component_manifests = functools.cache(scanner.scan_component_manifests)


@pytest.fixture(autouse=True)
def _main_module_restored() -> Iterator[None]:
    """``AppTest`` runs a page as a new ``__main__`` module and leaves it in ``sys.modules``: a
    later test's spawn pool (``generate --workers 2``) would run that page again in each worker
    as it starts (a function's page, ``AppTest.from_function``, fails there: the pool breaks)."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(autouse=True, scope="session")
def own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The account's cache (dataset fingerprint memos) in a folder of this session, not the
    home's; the processes the tests start inherit it."""
    from model.process_setup import CACHE_ENV

    before = os.environ.get(CACHE_ENV)
    folder = tmp_path_factory.mktemp("account-cache")
    os.environ[CACHE_ENV] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = before


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny data root (dataset, checkpoint, embeddings); a module may define its own."""
    from dashboard_fixtures import tiny_data_root

    return tiny_data_root(tmp_path_factory)


@pytest.fixture
def app(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Callable:
    """``app(page, **session_state)`` -> an AppTest of that page over ``data_root``."""
    from dashboard_fixtures import page_opener

    return page_opener(data_root, monkeypatch)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models: one intra-op thread avoids thread contention on a shared machine (a module
    opts in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[object]:
    """A ``dashboard.jobs.JobManager`` over a fresh folder; what it still runs at the end is
    cancelled (a module with a data root of its own defines its own)."""
    from dashboard.jobs import JobManager

    jobs = JobManager(tmp_path / "jobs")
    yield jobs
    for job in jobs.list():
        if job.running:
            jobs.cancel(job.id)
