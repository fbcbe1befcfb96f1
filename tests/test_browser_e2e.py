"""One real-browser run of the dashboard: Streamlit server + Debian chromium driven by Playwright.

Empty install: home -> zero-shot -> case browser, each showing its empty state. With the tiny
dataset and checkpoint: type a prompt set edit and see scores, search, open a case and see the
cine player's frames. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Every case card (one "Open case" button each) shows its thumbnail strip, decoded by the browser.
# Counted are the buttons laid out: Streamlit keeps a hidden (display: none) copy of each button
# that has a tooltip.
EVERY_CARD_HAS_ITS_THUMBNAIL = """() => {
    const cards = [...document.querySelectorAll("button")]
        .filter((b) => b.innerText.trim() === "Open case" && b.getClientRects().length > 0)
        .length;
    const images = [...document.querySelectorAll('[data-testid="stImage"] img')];
    return cards > 1 && images.length === cards
        && images.every((image) => image.complete && image.naturalWidth > 0);
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium missing (apt-get install chromium)"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def streamlit_server(data_root: Path) -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free port until the block ends; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "CMR_DATA_ROOT": str(data_root), "PYTHONPATH": str(REPO)}
    log = open(data_root.parent / "streamlit.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).status == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError((data_root.parent / "streamlit.log").read_text())
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
        log.close()


@contextlib.contextmanager
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def _nav(page: object, label: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(label, exact=True).click()


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_empty_install_home_zeroshot_browser(tmp_path: Path) -> None:
    with streamlit_server(tmp_path / "data") as base, browser_page() as page:
        page.goto(base)
        page.get_by_text("Quick start").wait_for()
        page.get_by_role("button", name="Build the demo").wait_for()
        _shot(page, "empty-home")
        _nav(page, "Zero-shot")
        page.get_by_text("No dataset yet").wait_for()
        page.get_by_text("Prompt set").first.wait_for()
        _shot(page, "empty-zeroshot")
        _nav(page, "Case browser")
        page.get_by_text("No dataset yet").wait_for()
        _shot(page, "empty-browser")
        assert page.get_by_text("Traceback").count() == 0


@pytest.mark.slow
def test_prompt_search_and_case_with_a_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    from dashboard_fixtures import tiny_data_root

    root = tiny_data_root(tmp_path_factory)
    with streamlit_server(root) as base, browser_page() as page:
        page.goto(f"{base}/zeroshot")
        page.get_by_text("Scored 24 studies").wait_for(timeout=180_000)
        page.get_by_label("Positive prompt").fill("Dilated left ventricle.")
        page.get_by_label("Negative prompt").fill("Normal left ventricular size.")
        page.get_by_label("Negative prompt").press("Enter")
        page.get_by_text("Scored 24 studies × 8 findings").wait_for()
        page.get_by_text("How does the model read these two wordings?").click()
        page.get_by_text("read at cosine").wait_for(timeout=120_000)
        _shot(page, "data-zeroshot")

        _nav(page, "Case browser")
        page.get_by_label("Describe the study").fill("Late gadolinium enhancement is present.")
        page.get_by_label("Describe the study").press("Enter")
        page.get_by_text("similarity").first.wait_for()
        page.locator('[data-testid="stImage"] img').first.wait_for()
        page.wait_for_function(EVERY_CARD_HAS_ITS_THUMBNAIL, timeout=60_000)
        _shot(page, "data-browser")
        page.get_by_role("button", name="Open case").first.click()

        page.get_by_text("Report impression").wait_for()
        player = page.frame_locator("iframe").first
        player.locator("#img0").wait_for()
        assert player.locator("#img0").get_attribute("src").startswith("data:image/png;base64,")
        player.get_by_role("button", name="Play all").click()
        page.wait_for_timeout(500)
        counter = player.locator("#count0").inner_text()
        assert counter.endswith("/16")
        _shot(page, "data-case")
        assert page.get_by_text("Traceback").count() == 0
