"""A real ``chroma run`` server on a free loopback port, and a bearer-token gate in front of it.

``chroma_server(folder)`` starts the Chroma CLI installed beside the test interpreter and yields
its ``ChromaLocation`` once it answers; it is stopped on exit (``chroma_process`` also yields the
process, to pause or stop it, and takes a ``port`` to restart a server where it was). Chroma 1.x
has no built-in authentication, so a shared deployment puts a reverse proxy in front that checks
the token the client sends (``Authorization: Bearer <CMR_CHROMA_TOKEN>``).
``token_gate(upstream, token)`` is that proxy in miniature, for tests: it answers 401 to a
request without the right token, 502 Bad Gateway while the server behind it is down (as nginx
does), and forwards everything else unchanged. ``other_service(answer)`` is something else
listening on a port: ``answer(path) -> (status, content type, body)``.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from model.errors import UserError
from model.index.client import ChromaLocation, open_client

CHROMA = Path(sys.executable).parent / "chroma"
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def chroma_server(folder: Path, timeout_s: float = 60.0) -> Iterator[ChromaLocation]:
    """``chroma run --path folder/data`` on 127.0.0.1; yields its location once it answers."""
    with chroma_process(folder, timeout_s=timeout_s) as (location, _):
        yield location


@contextlib.contextmanager
def chroma_process(
    folder: Path, port: int | None = None, timeout_s: float = 60.0
) -> Iterator[tuple[ChromaLocation, subprocess.Popen]]:
    """``chroma run --path folder/data`` on 127.0.0.1:``port`` (a free one by default); yields
    its location and process once it answers, and stops it on exit (unless already stopped)."""
    executable = str(CHROMA) if CHROMA.exists() else shutil.which("chroma")
    if executable is None:
        raise RuntimeError("the chroma CLI is not installed beside the test interpreter")
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    command = [executable, "run", "--path", str(folder / "data"), "--host", "127.0.0.1"]
    with (folder / "server.log").open("a") as log:
        proc = subprocess.Popen([*command, "--port", str(port)], stdout=log, stderr=log)
        try:
            location = ChromaLocation(host="127.0.0.1", port=port)
            _wait_until_up(location, proc, folder / "server.log", timeout_s)
            yield location, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)


def _wait_until_up(
    location: ChromaLocation, proc: subprocess.Popen, log: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            open_client(location)
            return
        except UserError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"chroma run did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)


def _gate_handler(upstream: ChromaLocation, token: str) -> type:
    class Gate(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _forward(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {token}":
                self._answer(401, b"<html><title>401 Authorization Required</title></html>")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            conn = http.client.HTTPConnection(upstream.host or "", upstream.port, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
            except ConnectionRefusedError:
                self._answer(502, b"<html><title>502 Bad Gateway</title></html>")
                return
            finally:
                conn.close()
            self.send_response(reply.status)
            for key, value in reply.getheaders():
                if key.lower() not in _HOP_HEADERS:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, status: int, body: bytes) -> None:  # as nginx
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

    return Gate


@contextlib.contextmanager
def token_gate(upstream: ChromaLocation, token: str) -> Iterator[ChromaLocation]:
    """A loopback proxy to ``upstream`` that requires ``Authorization: Bearer <token>``."""
    with _serving(_gate_handler(upstream, token)) as location:
        yield location


Answer = Callable[[str], tuple[int, str, bytes]]


@contextlib.contextmanager
def other_service(answer: Answer) -> Iterator[ChromaLocation]:
    """A loopback HTTP service that answers every request with ``answer(path)``."""

    class Service(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            status, content_type, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

    with _serving(Service) as location:
        yield location


@contextlib.contextmanager
def _serving(handler: type) -> Iterator[ChromaLocation]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ChromaLocation(host="127.0.0.1", port=server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
