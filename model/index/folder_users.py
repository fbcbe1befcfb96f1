"""Which processes use an embedded index folder, and whether a Chroma server serves it.

A Chroma server started on a folder (``chroma run --path DATA_ROOT/chroma``, or ``chroma run``
in ``DATA_ROOT``: its default path is ``./chroma``) keeps the folder's collections and HNSW
segments in memory and writes them back: deleting collections or segment folders underneath it
(``storage --clean-caches --apply``, ``forget --apply``), or writing the folder as an embedded
client (``index``, ``--rebuild`` too), corrupts what it serves. Our own embedded readers (a
dashboard's ``PersistentClient``, a ``search``) also keep ``chroma.sqlite3`` open; an index run
writes while they read, which is supported, so they are counted but never refuse anything.

``folder_users`` reads Linux's ``/proc`` once: each process's command line, its working folder
and the targets of its open files (``/proc/<pid>/fd``). A process is a Chroma server when its
command line runs ``chroma run`` (or Chroma's Python server app, ``chromadb.app``); it serves a
folder when its ``--path`` (or the ``./chroma`` it defaults to, from its working folder) is that
folder, or when it has files open under it (a server started with a config file). A process
whose open files cannot be read (another user's, without root) is counted as not checked (the
debug log names it): its command line, which every user may read, says whether it is a server.
A Chroma server among them whose folder its command line does not name (a config file's, or a
container's) is named in a note, with its pid: it refuses nothing, as it may serve any other
folder (a lab's shared server, say). Processes hidden from this user (``/proc``
mounted with ``hidepid``) are not seen at all, nor are another host's (a server on a machine
sharing the data root's file server). Without ``/proc`` (macOS, Windows) nothing is checked,
and each folder says so. A server started after the check is not seen.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from model.errors import UserError

log = logging.getLogger(__name__)

PROC = Path("/proc")
CHROMA_DEFAULT_PATH = "chroma"  # ``chroma run`` without --path or a config file: ./chroma
CHROMA_DEFAULT_PORT = 8000
_SERVER_APP = "chromadb.app"  # Chroma's Python server, run by uvicorn (before Chroma 1.0)
_VALUED = {"--path", "--host", "--port"}


@dataclass(frozen=True)
class ServerProcess:
    """A Chroma server process: its pid, command line, and where it listens (``port`` None:
    set in a config file); ``folder`` is what its command line names (None: it does not)."""

    pid: int
    command: str
    host: str = "localhost"
    port: int | None = CHROMA_DEFAULT_PORT
    folder: Path | None = None

    def reached_as(self) -> tuple[str, str]:
        """The host and port a client on this machine reaches it at."""
        host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host
        return host, "PORT" if self.port is None else str(self.port)

    def answers_at(self, host: str | None, port: int) -> bool:
        """Whether a client given ``host``:``port`` reaches this server (it runs here)."""
        local = {self.host, "localhost", "127.0.0.1", "::1", socket.gethostname()}
        return self.port == port and host in local


@dataclass
class FolderUsers:
    """The processes with files open under ``folder``: Chroma servers serving it, our embedded
    readers (pids), those not checked (pids) and the Chroma servers among them, whose folder is
    unknown; ``checked`` False: no ``/proc`` to read."""

    folder: Path
    servers: list[ServerProcess] = field(default_factory=list)
    readers: list[int] = field(default_factory=list)
    unchecked: list[int] = field(default_factory=list)
    unknown_servers: list[ServerProcess] = field(default_factory=list)
    checked: bool = True

    def refusal(self, doing: str, through: str) -> str | None:
        """One line saying that ``doing`` (e.g. "deleting its collections") under the Chroma
        server that serves the folder would corrupt what it serves, and what to do
        (``through``: how to go through the server, ``{host}`` and ``{port}`` filled in);
        None when no server serves it."""
        if not self.servers:
            return None
        server = self.servers[0]
        host, port = server.reached_as()
        return (
            f"{self.folder}: a Chroma server (pid {server.pid}, `{server.command}`) serves it; "
            f"{doing} underneath it would corrupt what it serves: stop the server first, or "
            + through.format(host=host, port=port)
        )

    def note(self) -> str | None:
        """What could not be checked, when something could not; None when all was. A process
        whose open files this user may not read (``unchecked``) is said only in the debug log:
        its command line, readable by all, says whether it is a Chroma server."""
        if not self.checked:
            return (
                f"{self.folder}: whether a Chroma server serves it could not be checked (no "
                "/proc on this system): make sure no `chroma run` serves it"
            )
        said = []
        for server in self.unknown_servers:
            said.append(
                f"a Chroma server (pid {server.pid}, `{server.command}`) runs whose folder this "
                "user cannot see (its command line does not name it and its open files may not "
                "be read): if it serves this folder, stop it first"
            )
        if self.unchecked:  # not servers by their command lines: readers at most
            log.debug("%s: open files of pids %s not readable", self.folder, _few(self.unchecked))
        return f"{self.folder}: " + "; ".join(said) if said else None


def folder_users(folders: list[Path], proc: Path = PROC) -> dict[Path, FolderUsers]:
    """Each of ``folders`` (keys as given) with the processes using it, from one pass over
    ``proc``; see the module docstring."""
    real = {folder: Path(os.path.realpath(folder)) for folder in folders}
    found = {folder: FolderUsers(folder) for folder in folders}
    if not (proc / "self" / "fd").is_dir():
        for users in found.values():
            users.checked = False
        return found
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # it ended
                _sort_process(entry, real, found)
    return found


def refuse_served(folder: Path, doing: str, through: str) -> None:
    """Raise a ``UserError`` (``FolderUsers.refusal``) when a Chroma server serves ``folder``;
    log what could not be checked (``FolderUsers.note``)."""
    users = folder_users([folder])[folder]
    if said := users.refusal(doing, through):
        raise UserError(said)
    if note := users.note():  # unreadable processes only: named by their command lines
        quiet = users.checked and not users.unknown_servers
        log.log(logging.INFO if quiet else logging.WARNING, "%s", note)


def _sort_process(entry: Path, real: dict[Path, Path], found: dict[Path, FolderUsers]) -> None:
    pid = int(entry.name)
    argv = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")]
    argv = argv[:-1] if argv and not argv[-1] else argv
    server = _server(pid, argv, entry)
    try:
        opened: list[str] | None = _open_files(f"{entry}/fd")
    except PermissionError:
        opened = None
    for folder, path in real.items():
        users = found[folder]
        if server is not None and server.folder is not None:
            if server.folder == path:  # its command line names it: its files need not be read
                users.servers.append(server)
        elif opened is None:
            if server is not None:
                users.unknown_servers.append(server)
            elif argv:  # an empty command line: a kernel thread, which opens no files
                users.unchecked.append(pid)
        elif any(_under(target, path) for target in opened):
            if server is not None:
                users.servers.append(server)
            else:
                users.readers.append(pid)


def _open_files(fds: str) -> list[str]:
    """The link targets of the descriptors in ``fds`` (strings, not Paths: a third of the
    scan's time); one closed meanwhile is passed over, not the whole process."""
    targets = []
    for fd in os.listdir(fds):
        with contextlib.suppress(FileNotFoundError):
            targets.append(os.readlink(f"{fds}/{fd}"))
    return targets


def _server(pid: int, argv: list[str], entry: Path) -> ServerProcess | None:
    """``argv`` as a Chroma server's (see the module docstring), or None when it is not one."""
    names = [os.path.basename(arg) for arg in argv]
    runs = [i for i in range(len(argv) - 1) if names[i] == "chroma" and argv[i + 1] == "run"]
    if not runs:
        if any(arg.startswith(_SERVER_APP) for arg in argv):  # uvicorn: its folder in its env
            port = _option(argv, "--port") or str(CHROMA_DEFAULT_PORT)  # uvicorn's too
            return ServerProcess(pid, _short(argv), port=int(port) if port.isdigit() else None)
        return None
    args = argv[runs[0] + 2 :]
    configured = _has_positional(args)  # ``chroma run CONFIG``: path and port in the file
    path = _option(args, "--path") or (None if configured else CHROMA_DEFAULT_PATH)
    port = _option(args, "--port") or (None if configured else str(CHROMA_DEFAULT_PORT))
    return ServerProcess(
        pid,
        _short(argv),
        _option(args, "--host") or "localhost",
        int(port) if port and port.isdigit() else None,
        _resolved(path, entry) if path else None,
    )


def _option(args: list[str], name: str) -> str | None:
    """The value of ``name VALUE`` or ``name=VALUE`` in ``args`` (the last one given)."""
    value = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def _has_positional(args: list[str]) -> bool:
    return any(
        not arg.startswith("-") and (i == 0 or args[i - 1] not in _VALUED)
        for i, arg in enumerate(args)
    )


def _resolved(path: str, entry: Path) -> Path | None:
    """``path`` as the process sees it (a relative one from its working folder); None when
    its working folder cannot be read."""
    if not os.path.isabs(path):
        try:
            path = os.path.join(os.readlink(entry / "cwd"), path)
        except OSError:
            return None
    return Path(os.path.realpath(path))


def _under(target: str, folder: Path) -> bool:
    """Whether an open file's link target lies in ``folder`` (a deleted one's too)."""
    target = target.removesuffix(" (deleted)")
    return target == str(folder) or target.startswith(str(folder).rstrip("/") + "/")


def _short(argv: list[str], limit: int = 120) -> str:
    command = " ".join(argv)
    return command if len(command) <= limit else command[: limit - 1] + "…"


def _few(pids: list[int], shown: int = 5) -> str:
    listed = ", ".join(str(pid) for pid in pids[:shown])
    return listed + (f" and {len(pids) - shown} more" if len(pids) > shown else "")
