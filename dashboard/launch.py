"""``python -m dashboard.launch``: the README's main job.

Starts the demo build as a background job when the demo is not built yet and the data root holds
no datasets of its own (the Home page shows its progress and it survives browser refreshes),
then serves the dashboard on localhost
(``.streamlit/config.toml``, which accepts only loopback host names); a network address given
with ``--server.address`` is served with a warning about what that exposes, to any host name
unless ``--server.allowedHosts`` names them. A port already taken is named before anything starts.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import socket
import sys
import tomllib
from pathlib import Path

from dashboard.jobs import JobManager, model_command
from dashboard.settings import Settings
from model.demo import DEMO_TITLE, DemoLayout
from model.errors import UserError
from model.schema import DATA_ROOT_ENV

log = logging.getLogger("dashboard.launch")
APP = Path(__file__).resolve().parent.parent / "app.py"


def start_demo_build(settings: Settings) -> None:
    """Launch ``python -m model demo`` unless the demo is built or already being built, or the
    data root holds datasets of its own and no demo build was ever begun there: a hospital's
    root is not filled with synthetic studies and a 13-minute training job unasked (Home's
    Build the demo still builds it there); a build begun earlier goes on."""
    layout = DemoLayout(settings.data_root)
    if layout.is_built():
        log.info("demo data ready under %s", settings.data_root)
        return
    own = settings.own_datasets()
    if own and not layout.dataset("").exists():
        named = ", ".join(str(path.relative_to(settings.data_root)) for path in own[:3])
        log.info(
            "the data root %s holds datasets of its own (%s%s): the demo is not built there; "
            "Home's Build the demo builds it",
            settings.data_root,
            named,
            ", ..." if len(own) > 3 else "",
        )
        return
    jobs = JobManager(settings.jobs_dir)
    running = jobs.latest("demo")
    if running is not None and running.running:  # ./run.sh stopped and started again mid-build
        log.info(
            "the demo build (%s) is still running; follow it on the Home page",
            running.origin,
        )
        return
    try:
        job = jobs.launch(
            "demo",
            model_command("demo", "--root", str(settings.data_root)),
            title=DEMO_TITLE,
        )
    except UserError as err:
        log.info("%s", err)
        return
    again = running is not None and running.state == "stopped"  # by a service stop, say
    log.info(
        "%s the demo in the background (log: %s); follow it on the Home page; Ctrl-C here "
        "leaves it running (a service stop stops it, and the next start goes on from there)",
        "going on building, from the first unfinished step," if again else "building",
        job.log_path,
    )


LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CONFIG = APP.parent / ".streamlit" / "config.toml"
STREAMLIT_DEFAULT_PORT = 8501


def _option(argv: list[str], name: str) -> str | None:
    """Streamlit option ``name`` given on the command line, else in its environment variable
    (``server.allowedHosts``: ``STREAMLIT_SERVER_ALLOWED_HOSTS``); both override
    ``.streamlit/config.toml``."""
    flag = f"--{name}"
    for index, arg in enumerate(argv):
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
        if arg == flag and index + 1 < len(argv):
            return argv[index + 1]
    variable = "STREAMLIT_" + re.sub(r"([a-z])([A-Z])", r"\1_\2", name).replace(".", "_").upper()
    return os.environ.get(variable) or None


def served_address(argv: list[str]) -> str | None:
    """The address asked for with ``--server.address`` (``None``: the config's localhost)."""
    return _option(argv, "server.address")


def _configured_port() -> int:
    try:
        return int(tomllib.loads(CONFIG.read_text(encoding="utf-8"))["server"]["port"])
    except (OSError, ValueError, KeyError):
        return STREAMLIT_DEFAULT_PORT


def busy_port_message(argv: list[str]) -> str | None:
    """A message when the port the dashboard would serve on is taken, else ``None``."""
    try:
        port = int(_option(argv, "server.port") or _configured_port())
    except ValueError:
        return None  # Streamlit names a malformed port itself
    address = served_address(argv) or "127.0.0.1"
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                return None
            return (
                f"port {port} is already in use (another ./run.sh, or another program): stop "
                f"it, or serve on another port with ./run.sh --server.port {port + 1}"
            )
    return None


def exposure_warning(argv: list[str]) -> str | None:
    """A warning when the dashboard is asked to serve beyond this machine, else ``None``."""
    address = served_address(argv)
    if address is None or address in LOOPBACK:
        return None
    return (
        f"serving on {address}: anyone who can reach this address sees patient images and "
        "reports without logging in; put an authenticating TLS reverse proxy in front "
        "and name its host with --server.allowedHosts (README, Patient data and security)"
    )


def host_names(argv: list[str]) -> list[str]:
    """``--server.allowedHosts *`` when a network address is served and no host names are
    given: the config's loopback names would refuse every other machine's connection."""
    if exposure_warning(argv) is None or _option(argv, "server.allowedHosts") is not None:
        return []
    return ["--server.allowedHosts", "*"]


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = [sys.executable, "-m", "streamlit", "run", str(APP), *host_names(argv), *argv]
    if "--help" in argv or "-h" in argv:  # `streamlit run`'s options; no demo build for that
        os.execv(sys.executable, command)
        return 0
    warning = exposure_warning(argv)
    if warning:
        log.warning("%s", warning)
    busy = busy_port_message(argv)
    if busy:
        log.error("%s", busy)
        return 1
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
    os.execv(sys.executable, command)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
