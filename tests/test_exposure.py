"""Exposure: the dashboard listens on loopback only unless told otherwise; no secrets in the repo.

The listening check starts the real ``streamlit run app.py`` with the repository's
``.streamlit/config.toml`` and reads the kernel's socket table (``/proc/net/tcp*``): its port
must be bound to 127.0.0.1, not to 0.0.0.0 / ::.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from chroma_server import free_port

from dashboard import launch

REPO = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "data", "runs", "test-artifacts", "__pycache__", "node_modules"}
SECRET_PATTERNS = {
    "private key": re.compile(rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----"),
    "AWS access key": re.compile(rb"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(rb"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Hugging Face token": re.compile(rb"\bhf_[A-Za-z0-9]{34}\b"),
    "Slack token": re.compile(rb"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "password assignment": re.compile(
        rb"(?i)\b(?:password|passwd|secret|api_key)\s*[:=]\s*['\"][^'\"\s]{8,}['\"]"
    ),
}


def test_the_config_binds_localhost_and_hides_error_details() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"].get("enableXsrfProtection", True) is True
    assert config["server"].get("enableCORS", True) is True  # no cross-origin connections
    assert set(config["server"]["allowedHosts"]) == {"localhost", "127.0.0.1", "::1"}


def test_the_launcher_adds_no_address_and_warns_about_a_network_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert launch.exposure_warning([]) is None
    assert launch.exposure_warning(["--server.address", "127.0.0.1"]) is None
    assert launch.exposure_warning(["--server.address=localhost"]) is None
    warning = launch.exposure_warning(["--server.port", "9000", "--server.address", "0.0.0.0"])
    assert warning and "0.0.0.0" in warning and "proxy" in warning
    commands: list[list[str]] = []
    monkeypatch.setattr(launch, "start_demo_build", lambda settings: None)
    monkeypatch.setattr(launch, "busy_port_message", lambda argv: None)
    monkeypatch.setattr(launch.os, "execv", lambda exe, command: commands.append(command))
    monkeypatch.setenv("CMR_DATA_ROOT", str(tmp_path))
    launch.main([])
    launch.main(["--server.address", "10.1.2.3"])
    launch.main(["--server.address", "10.1.2.3", "--server.allowedHosts", "studio.example.org"])
    assert not any("--server" in part for part in commands[0])
    assert commands[1][-2:] == ["--server.address", "10.1.2.3"]
    assert "--server.allowedHosts" in commands[1] and "*" in commands[1]  # other machines' names
    assert "*" not in commands[2]  # the names given are the ones accepted
    assert any("serving on 10.1.2.3" in r.getMessage() for r in caplog.records)


def _listeners(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def _stream_handshake(port: int, host: str) -> str:
    """The status line the app's WebSocket route answers a browser's upgrade with, the browser
    having reached the app by ``host`` (a page's own name, after DNS rebinding)."""
    request = (
        f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Origin: http://{host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: streamlit\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(request.encode())
        return connection.recv(4096).decode("latin-1").split("\r\n")[0]


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc/net/tcp")
def test_streamlit_listens_on_loopback_only(tmp_path: Path) -> None:
    """Bound to 127.0.0.1, and reachable only by a loopback name: a web page whose name resolves
    to 127.0.0.1 (DNS rebinding) opened the app's connection and read what it shows."""
    port = free_port()
    env = {**os.environ, "CMR_DATA_ROOT": str(tmp_path), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    with (tmp_path / "streamlit.log").open("wb") as log:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while not _listeners(port) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            listening = _listeners(port)
            rebound = _stream_handshake(port, "evil.example")
            local = _stream_handshake(port, "localhost")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert listening == {"0100007F"}, (listening, (tmp_path / "streamlit.log").read_text())
    assert " 101 " in local and " 101 " not in rebound, (local, rebound)


def _repo_files() -> list[Path]:
    files = []
    for folder, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        files.extend(Path(folder) / name for name in names)
    return files


def test_no_credentials_in_the_repository() -> None:
    files = _repo_files()
    assert len(files) > 50
    assert not [f for f in files if f.name in {".env", "id_rsa", "id_ed25519", ".netrc"}]
    hits = []
    for path in files:
        if path.stat().st_size > 5_000_000:
            continue
        data = path.read_bytes()
        hits.extend((str(path.relative_to(REPO)), kind) for kind, p in SECRET_PATTERNS.items()
                    if p.search(data))  # fmt: skip
    assert not hits, hits


def test_an_address_from_streamlits_environment_variable_is_warned_about(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "0.0.0.0")
    warning = launch.exposure_warning([])
    assert warning and "serving on 0.0.0.0" in warning
    assert launch.exposure_warning(["--server.address", "127.0.0.1"]) is None
