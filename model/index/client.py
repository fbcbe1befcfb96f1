"""Where the case index lives, and the Chroma client that reaches it.

Two deployments, one code path:

* **Embedded** (default): ``chromadb.PersistentClient`` on a folder, ``DATA_ROOT/chroma`` beside
  the datasets (``DATASET/../chroma``) unless ``--chroma-path`` says otherwise. Chroma is not
  process-safe on one folder: only one process may *write* it at a time (the index command takes
  ``model.index.writer_lock.WriterLock``); the dashboard only reads.
* **Shared server**: ``chroma run --path DIR --host 127.0.0.1 --port P`` started once, reached with
  ``chromadb.HttpClient`` when ``--chroma-host/--chroma-port`` or the environment variables
  ``CMR_CHROMA_HOST`` / ``CMR_CHROMA_PORT`` (and ``CMR_CHROMA_TOKEN`` for a bearer token) say so.
  The server serialises writers itself, so many processes may index and search at once.
  Chroma 1.x has no built-in authentication: ``CMR_CHROMA_TOKEN`` is sent as
  ``Authorization: Bearer <token>`` for a reverse proxy in front of the server to check; a 401 /
  403 becomes a ``UserError`` naming the variable (the token itself is never printed).

Anonymous telemetry is switched off in both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings
from chromadb.errors import AuthorizationError, ChromaAuthError, ChromaError

from model.errors import DamagedIndex, UserError

log = logging.getLogger(__name__)

HOST_ENV = "CMR_CHROMA_HOST"
PORT_ENV = "CMR_CHROMA_PORT"
TOKEN_ENV = "CMR_CHROMA_TOKEN"
DEFAULT_PORT = 8000
_TOKEN_PROVIDER = "chromadb.auth.token_authn.TokenAuthClientProvider"
REBUILD_HINT = (
    "rebuild it with `python -m model index --rebuild --checkpoint CKPT --data DATASET` "
    "(which rewrites this checkpoint's index only)"
)


@dataclass(frozen=True)
class ChromaLocation:
    """An embedded Chroma folder (``path``) or a Chroma server (``host``/``port``)."""

    path: Path | None = None
    host: str | None = None
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)  # never in messages or logs

    @property
    def is_server(self) -> bool:
        return self.host is not None

    def describe(self) -> str:
        if self.is_server:
            return f"Chroma server {self.host}:{self.port}"
        return f"Chroma folder {self.path}"


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
        raise UserError("say where the index is: --chroma-path DIR or --chroma-host HOST")
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
        raise UserError(f"cannot open {location.describe()}: {err}") from err


def reopen_client(location: ChromaLocation) -> ClientAPI:
    """A fresh client that sees what other processes wrote since this process opened the index.

    An embedded client keeps the HNSW graph it loaded in memory, so a long-lived reader does not
    see another process's writes until Chroma's per-process system cache is dropped. Dropping it
    affects every embedded client of this process: existing ones keep their old view.
    """
    if not location.is_server:
        SharedSystemClient.clear_system_cache()
    return open_client(location, create=False)


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
    except (ChromaError, httpx.HTTPError) as err:
        if location.is_server and _is_auth_failure(err):
            raise _not_authorised(location) from err
        if location.is_server:
            hint = f"check that it is still running (`chroma run ... --port {location.port}`)"
        else:
            hint = (
                f"its files are damaged or from another Chroma version: {REBUILD_HINT}, "
                "or move the folder aside and index again"
            )
        raise UserError(
            f"{location.describe()} failed ({type(err).__name__}: {err}); {hint}"
        ) from err


def _open_http(location: ChromaLocation) -> ClientAPI:
    settings = Settings(anonymized_telemetry=False)
    if location.token:
        settings = Settings(
            anonymized_telemetry=False,
            chroma_client_auth_provider=_TOKEN_PROVIDER,
            chroma_client_auth_credentials=location.token,
        )
    try:
        client = chromadb.HttpClient(
            host=location.host or "", port=location.port, settings=settings
        )
        client.heartbeat()
    except Exception as err:  # connection refused, auth failure, wrong service on the port
        if _is_auth_failure(err):
            raise _not_authorised(location) from err
        raise UserError(
            f"cannot reach {location.describe()} ({type(err).__name__}: {err}); start it with "
            f"`chroma run --path DIR --host {location.host} --port {location.port}`"
        ) from err
    log.debug("connected to %s", location.describe())
    return client
