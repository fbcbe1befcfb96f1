"""``python -m dashboard.launch``: the README's main job.

Starts the demo build as a background job when the demo is not built yet (the Home page shows its
progress and it survives browser refreshes), then serves the dashboard on localhost (``.streamlit/config.toml``); a network address given
with ``--server.address`` is served with a warning about what that exposes.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from dashboard.jobs import JobManager, model_command
from dashboard.settings import DATA_ROOT_ENV, Settings
from model.demo import DemoLayout
from model.errors import UserError

log = logging.getLogger("dashboard.launch")
APP = Path(__file__).resolve().parent.parent / "app.py"


def start_demo_build(settings: Settings) -> None:
    """Launch ``python -m model demo`` unless the demo is built or already being built."""
    if DemoLayout(settings.data_root).is_built():
        log.info("demo data ready under %s", settings.data_root)
        return
    try:
        job = JobManager(settings.jobs_dir).launch(
            "demo",
            model_command("demo", "--root", str(settings.data_root)),
            title="Build the demo (generate, ingest, train, index)",
        )
    except UserError as err:
        log.info("%s", err)
        return
    log.info(
        "building the demo in the background (log: %s); follow it on the Home page", job.log_path
    )


LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ADDRESS_ENV = "STREAMLIT_SERVER_ADDRESS"


def served_address(argv: list[str]) -> str | None:
    """The ``--server.address`` given on the command line, else Streamlit's environment variable
    for it, which also overrides the config file (``None``: the config's localhost)."""
    for index, arg in enumerate(argv):
        if arg.startswith("--server.address="):
            return arg.split("=", 1)[1]
        if arg == "--server.address" and index + 1 < len(argv):
            return argv[index + 1]
    return os.environ.get(ADDRESS_ENV) or None


def exposure_warning(argv: list[str]) -> str | None:
    """A warning when the dashboard is asked to serve beyond this machine, else ``None``."""
    address = served_address(argv)
    if address is None or address in LOOPBACK:
        return None
    return (
        f"serving on {address}: anyone who can reach this address sees patient images and "
        "reports without logging in; put an authenticating TLS reverse proxy in front "
        "(README, Patient data and security)"
    )


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warning = exposure_warning(argv)
    if warning:
        log.warning("%s", warning)
    settings = Settings.from_env()
    try:
        settings.data_root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        log.error(
            "cannot create the data root %s (%s); set %s to a folder this user can write",
            settings.data_root,
            err.strerror or err,
            DATA_ROOT_ENV,
        )
        return 1
    os.environ[DATA_ROOT_ENV] = str(settings.data_root)
    start_demo_build(settings)
    command = [sys.executable, "-m", "streamlit", "run", str(APP), *argv]
    os.execv(sys.executable, command)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
