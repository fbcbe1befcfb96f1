"""Where the case index lives, and the Chroma client that reaches it.

Two deployments, one code path:

* **Embedded** (default): ``chromadb.PersistentClient`` on a folder, ``DATA_ROOT/chroma`` beside
  the datasets (``DATASET/../chroma``) unless ``--chroma-path`` says otherwise. Chroma is not
  process-safe on one folder: only one process may *write* it at a time (the index command takes
  ``model.index.writer_lock.WriterLock``); the dashboard only reads.
* **Shared server**: ``chroma run --path DIR --host 127.0.0.1 --port P`` started once, reached with
  ``chromadb.HttpClient`` when ``--chroma-host/--chroma-port`` or ``CMR_CHROMA_HOST`` /
  ``CMR_CHROMA_PORT`` (and ``CMR_CHROMA_TOKEN``, a bearer token) say so. The server serialises
  writers itself, so many processes may index and search at once. Chroma 1.x has no built-in
  authentication: ``CMR_CHROMA_TOKEN`` is sent as ``Authorization: Bearer <token>`` for a reverse
  proxy in front of the server to check; a 401 / 403 becomes a ``UserError`` naming the variable
  (the token itself is never printed).

``chromadb.HttpClient`` has no timeouts and sends requests while being built, so a server is probed
first (``probe_server``: a heartbeat within ``PROBE_TIMEOUT_S``, naming what answers instead of a
Chroma 1.x server); the client's requests then give up after ``CONNECT_TIMEOUT_S`` to connect and
``READ_TIMEOUT_S`` of silence (the largest upsert takes about 2 s). Telemetry is off in both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.base_http_client import BaseHTTPClient
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings
from chromadb.errors import AuthorizationError, ChromaAuthError, ChromaError

from model.errors import DamagedIndex, UserError, full_disk

log = logging.getLogger(__name__)

HOST_ENV = "CMR_CHROMA_HOST"
PORT_ENV = "CMR_CHROMA_PORT"
TOKEN_ENV = "CMR_CHROMA_TOKEN"
DEFAULT_PORT = 8000
CONNECT_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
_TOKEN_PROVIDER = "chromadb.auth.token_authn.TokenAuthClientProvider"
REBUILD_HINT = (
    "rebuild it with `python -m model index --rebuild --checkpoint CKPT --data DATASET` "
    "(which rewrites this checkpoint's index only)"
)


@dataclass(frozen=True)
class ChromaLocation:
    """An embedded Chroma folder (``path``; named as ``copy_of`` when it is a private copy of
    that one: ``model.index.private_copy``) or a Chroma server (``host``/``port``)."""

    path: Path | None = None
    host: str | None = None
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)  # never in messages or logs
    copy_of: Path | None = None

    @property
    def is_server(self) -> bool:
        return self.host is not None

    def describe(self) -> str:
        if self.is_server:
            return f"Chroma server {self.host}:{self.port}"
        return f"Chroma folder {self.copy_of or self.path}"


def default_chroma_path(dataset: str | Path) -> Path:
    """The embedded index folder for a dataset: ``DATASET/../chroma`` (shared by sibling datasets)."""
    return Path(dataset).expanduser().resolve().parent / "chroma"


def _parse_port(value: str | int, source: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise UserError(f"{source}: Chroma port must be a number, got {value!r}") from None
    if not 0 < port < 65536:
        raise UserError(f"{source}: Chroma port must be between 1 and 65535, got {port}")
    return port


def resolve_location(
    chroma_path: str | Path | None,
    chroma_host: str | None,
    chroma_port: int | str | None,
    default_path: Path | None,
) -> ChromaLocation:
    """Combine command-line options with ``CMR_CHROMA_*`` environment variables (options win).

    A host (flag or environment) selects server mode; otherwise the embedded folder is
    ``chroma_path`` or ``default_path``.
    """
    if chroma_path and chroma_host:
        raise UserError(
            "give either --chroma-path (embedded index) or --chroma-host (server), not both"
        )
    token = os.environ.get(TOKEN_ENV) or None
    if chroma_path:
        return ChromaLocation(path=Path(chroma_path).expanduser().resolve())
    host = chroma_host or os.environ.get(HOST_ENV) or None
    if host:
        if chroma_port is not None:
            port = _parse_port(chroma_port, "--chroma-port")
        elif os.environ.get(PORT_ENV):
            port = _parse_port(os.environ[PORT_ENV], PORT_ENV)
        else:
            port = DEFAULT_PORT
        return ChromaLocation(host=host, port=port, token=token)
    if chroma_port is not None:
        raise UserError("--chroma-port needs --chroma-host (or CMR_CHROMA_HOST)")
    if default_path is None:
        raise UserError(
            "say where the index is: --data DATASET (its index is DATASET/../chroma), "
            "--chroma-path DIR or --chroma-host HOST"
        )
    return ChromaLocation(path=Path(default_path).expanduser().resolve())


def open_client(location: ChromaLocation, create: bool = True) -> ClientAPI:
    """A Chroma client for ``location`` with telemetry off; a server must answer its heartbeat.

    With ``create=False`` an embedded folder without an index database is an error instead of a
    new empty index (a reader never writes a database into a folder it was pointed at).
    """
    if location.is_server:
        return _open_http(location)
    assert location.path is not None
    if not create and not (location.path / "chroma.sqlite3").is_file():
        raise UserError(
            f"no index at {location.path}; build one with `python -m model index` "
            "or point --chroma-path / --chroma-host at an existing index"
        )
    location.path.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(
            path=str(location.path), settings=Settings(anonymized_telemetry=False)
        )
    except Exception as err:  # Chroma raises bare Exceptions for unreadable folders
        # SQLite's "database or disk is full" names no remedy; a full disk's message does
        said = f"{err}; {full}" if (full := full_disk(location.path)) else str(err)
        raise UserError(f"cannot open {location.describe()}: {said}") from err


def reopen_client(location: ChromaLocation) -> ClientAPI:
    """A client that sees what other processes wrote since this process opened the index.

    An embedded client keeps the HNSW graph it loaded in memory, so a long-lived reader does not
    see another process's writes until Chroma's per-process system cache is dropped. Dropping it
    affects every embedded client of this process: existing ones keep their old view. A server
    holds the index itself, so each server location has one client per process, kept for good
    (chromadb keeps every ``HttpClient`` it built, and its connections, until it is closed).
    """
    if location.is_server:
        client = _SERVER_CLIENTS.get(location)
        if client is None:  # two threads may both open one; the one kept is the first stored
            opened = open_client(location)
            client = _SERVER_CLIENTS.setdefault(location, opened)
            if client is not opened:
                opened.close()
        return client
    SharedSystemClient.clear_system_cache()
    return open_client(location, create=False)


_SERVER_CLIENTS: dict[ChromaLocation, ClientAPI] = {}
_AUTH_FAILURE = re.compile(
    r"\b40[13]\b|unauthori[sz]ed|forbidden|authori[sz]ation required", re.IGNORECASE
)


def _is_auth_failure(err: Exception) -> bool:
    """A 401/403 from Chroma or from a reverse proxy in front of it (whose body is HTML)."""
    return isinstance(err, AuthorizationError | ChromaAuthError) or bool(
        _AUTH_FAILURE.search(str(err)[:500])
    )


def _not_authorised(location: ChromaLocation) -> UserError:
    given = "was refused" if location.token else "is missing"
    return UserError(
        f"{location.describe()} refused the request (not authorised): the token in "
        f"{TOKEN_ENV} {given}; set it to the token the server's proxy expects"
    )


@contextlib.contextmanager
def index_failures(location: ChromaLocation) -> Iterator[None]:
    """Turn Chroma's failures inside the block into a ``UserError`` naming ``location``.

    An opened index can still fail: a server that went away or stopped accepting the token, a
    folder whose files are damaged or were written by another Chroma version.
    """
    try:
        yield
    except DamagedIndex as err:
        raise DamagedIndex(f"{location.describe()}: {err}; {REBUILD_HINT}") from err
    except Exception as err:
        said = index_failure(location, err)
        if said is None:
            raise
        raise said from err


def index_failure(location: ChromaLocation, err: Exception) -> UserError | None:
    """``err`` of an opened index as ``index_failures`` says it; None when not Chroma's (ours)."""
    not_json = location.is_server and type(err) is Exception  # chromadb's, for such a reply
    if not (not_json or isinstance(err, ChromaError | httpx.HTTPError)):
        return None
    if location.is_server and _is_auth_failure(err):
        return _not_authorised(location)
    if location.is_server:
        hint = f"check that it is still running (`chroma run ... --port {location.port}`)"
    elif full := full_disk(location.path):  # a full disk fails Chroma's writes as damage would
        hint = f"{full}; if it fails again with room to spare, {REBUILD_HINT}"
    else:
        hint = (
            f"its files are damaged or from another Chroma version: {REBUILD_HINT}, "
            "or move the folder aside and index again"
        )
    problem = _plain(str(err))
    return UserError(f"{location.describe()} failed ({type(err).__name__}: {problem}); {hint}")


def _open_http(location: ChromaLocation) -> ClientAPI:
    settings = Settings(anonymized_telemetry=False)
    if location.token:
        settings = Settings(
            anonymized_telemetry=False,
            chroma_client_auth_provider=_TOKEN_PROVIDER,
            chroma_client_auth_credentials=location.token,
        )
    probe_server(location)
    try:
        client = chromadb.HttpClient(
            host=location.host or "", port=location.port, settings=settings
        )
        _bound_requests(client)
        client.heartbeat()
    except Exception as err:  # the server went away or changed between the probe and here
        if _is_auth_failure(err):
            raise _not_authorised(location) from err
        raise UserError(
            f"cannot reach {location.describe()} ({type(err).__name__}: {_plain(str(err))}); "
            f"{_start_hint(location)}"
        ) from err
    log.debug("connected to %s", location.describe())
    return client


def _bound_requests(client: ClientAPI) -> None:
    """Give the client's httpx session (``timeout=None`` in chromadb) our timeouts."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    else:
        log.warning("cannot set timeouts on this chromadb client: a frozen server would hang it")


def probe_server(location: ChromaLocation) -> None:
    """Raise a ``UserError`` saying what is wrong unless ``location`` answers, within
    ``PROBE_TIMEOUT_S``, as a Chroma server of the major version of the installed chromadb."""
    try:
        api = BaseHTTPClient.resolve_url(location.host or "", False, "/api/v2", location.port)
    except ValueError as err:
        raise UserError(f"Chroma host {location.host!r}: {err}") from None
    headers = {"Authorization": f"Bearer {location.token}"} if location.token else {}
    timeout = httpx.Timeout(PROBE_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    try:
        with httpx.Client(timeout=timeout, headers=headers) as http:
            reply = http.get(f"{api}/heartbeat")
            if reply.status_code in (401, 403):
                raise _not_authorised(location)
            alive = "nanosecond heartbeat" in _json(reply, dict)
            if alive:
                version = _json(http.get(f"{api}/version"), str)
            else:  # Chroma before 0.6 serves /api/v1 only
                version = _json(http.get(api.removesuffix("/api/v2") + "/api/v1/version"), str)
    except httpx.TimeoutException as err:
        raise UserError(
            f"{location.describe()} did not answer within {PROBE_TIMEOUT_S:g} s "
            f"({type(err).__name__}): check the host and port, and that no firewall drops "
            "the connection"
        ) from err
    except httpx.HTTPError as err:
        raise UserError(
            f"cannot reach {location.describe()} ({type(err).__name__}: {err}); "
            f"{_start_hint(location)}"
        ) from err
    _check_version(location, version)
    if not alive:
        raise _not_chroma(location, reply)


def _json(reply: httpx.Response, kind: type) -> Any:
    """The JSON body of a successful ``reply`` if it is a ``kind``, else an empty one."""
    try:
        value = reply.json() if reply.is_success else None
    except ValueError:
        value = None
    return value if isinstance(value, kind) else kind()


def _check_version(location: ChromaLocation, version: str) -> None:
    major = version.split(".")[0]
    ours = chromadb.__version__.split(".")[0]
    if major.isdigit() and major != ours:
        raise UserError(
            f"{location.describe()} runs Chroma {version}; this installation's chromadb "
            f"{chromadb.__version__} needs a Chroma {ours}.x server: start the server with "
            f"`chroma run` from the same chromadb version (requirements.txt)"
        )


def _not_chroma(location: ChromaLocation, reply: httpx.Response) -> UserError:
    status = f"HTTP {reply.status_code} {reply.reason_phrase}".strip()
    if reply.status_code in (502, 503, 504):
        return UserError(
            f"{location.describe()} answered {status}: a proxy answers there but the Chroma "
            f"server behind it does not; {_start_hint(location)}"
        )
    kind = reply.headers.get("content-type", "no content type").split(";")[0]
    return UserError(
        f"{location.describe()} is not a Chroma server (it answered {status}, {kind}, to "
        f"/api/v2/heartbeat): check the host and port ({HOST_ENV} / {PORT_ENV} or "
        "--chroma-host / --chroma-port)"
    )


def _start_hint(location: ChromaLocation) -> str:
    return f"start it with `chroma run --path DIR --host {location.host} --port {location.port}`"


def _plain(text: str, limit: int = 300) -> str:
    """An error text for one line of a message: an HTML page's tags and extra spaces removed."""
    text = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
