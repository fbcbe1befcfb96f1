"""``python -m model storage [--data-root ROOT] [--clean-caches [--apply]]
[--include-server-index]``: what a data root takes on disk, by kind (with the case index's
collections of checkpoints no longer under the root), and the caches and leftovers that can go
(``model/storage.py``, ``model/storage_index.py``).

A dry run by default, which writes nothing: ``--clean-caches`` lists what it would remove and
why; only ``--apply`` removes it. Datasets, runs, evaluations, uploads and saved sets are never
removed. A Chroma server (``CMR_CHROMA_HOST``) is read and cleaned only with
``--include-server-index``: it may hold other data roots' indexes. An embedded index folder a
Chroma server serves (``chroma run --path ROOT/chroma``) is left alone, said in one line with the
server's pid (``model.index.folder_users``): clean it through the server instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from model.errors import UserError
from model.index.folder_users import folder_users
from model.schema import default_data_root
from model.storage import (
    KINDS,
    Cleaning,
    Survey,
    checkpoint_fingerprints,
    clean_caches,
    human_size,
    survey,
    with_active,
)
from model.storage_index import (
    HOST_ENV,
    IndexCollection,
    IndexListing,
    gone,
    read_folder,
    read_server,
)

if TYPE_CHECKING:
    from model.index.client import ChromaLocation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "What the data root takes on disk, by kind (datasets, embedding caches, case indexes, "
        "runs, evaluations, job records, uploads, ...). --clean-caches lists what can be made "
        "again or is left over (embedding caches of a dataset's earlier version, caches and "
        "case index collections of checkpoints no longer under the data root, what dead index "
        "rebuilds left, writes interrupted over a day ago, ended job records beyond the "
        "newest of each kind) and "
        "removes nothing unless --apply is given too. Nothing a user made (a dataset, run, "
        "evaluation, upload or saved set) and nothing in use is removed."
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="the data root (default: CMR_DATA_ROOT, else data/)",
    )
    parser.add_argument(
        "--clean-caches",
        action="store_true",
        help="list the caches and leftovers that can go (a dry run unless --apply)",
    )
    parser.add_argument(
        "--apply", action="store_true", help="with --clean-caches: remove what it lists"
    )
    parser.add_argument(
        "--include-server-index",
        action="store_true",
        help="read (and with --clean-caches --apply, clean) the case index on the Chroma server "
        f"named by {HOST_ENV} too; it may hold other data roots' indexes, so it is left alone "
        "unless this is given",
    )


def run(args: argparse.Namespace) -> int:
    root = (args.data_root or default_data_root()).expanduser()
    if not root.is_dir():
        raise UserError(f"data root {root} is not a folder; give --data-root ROOT")
    if args.apply and not args.clean_caches:
        raise UserError("--apply removes what --clean-caches lists: give both")
    server = _server() if args.include_server_index else None
    if args.clean_caches:
        cleaning = clean_caches(root, apply=args.apply, server=server)
        sys.stdout.write(cleaning_text(cleaning, root))
    found = survey(root)
    notes: list[str] = []
    owners = with_active(root, checkpoint_fingerprints(found.checkpoints, notes), notes)
    sys.stdout.write(usage_text(found, gone_lines(found.index_folders, owners, root, server)))
    return 0


def _server() -> ChromaLocation:
    from model.index.client import resolve_location

    if not os.environ.get(HOST_ENV):
        raise UserError(f"--include-server-index: no Chroma server is named; set {HOST_ENV}")
    return resolve_location(None, None, None, None)


def usage_text(found: Survey, index_lines: list[str] | None = None) -> str:
    """The table of what each kind takes, largest first, kinds with no file left out;
    ``index_lines`` under the case indexes' row."""
    total = found.total
    lines = [f"{found.root}: {human_size(total.bytes)} on disk in {total.files:,} files"]
    rows = sorted(
        ((kind, found.usage[kind]) for kind in KINDS if found.usage[kind].files),
        key=lambda row: row[1].bytes,
        reverse=True,
    )
    for kind, usage in rows:
        lines.append(f"  {kind:<17} {human_size(usage.bytes):>9} {usage.files:>10,} files")
        if kind == "case indexes":
            lines += index_lines or []
    if index_lines and not found.usage["case indexes"].files:  # a Chroma server's only
        lines += ["  case indexes      (none under the root)", *index_lines]
    return "\n".join(lines) + "\n"


def cleaning_text(cleaning: Cleaning, root: Path) -> str:
    """What was (or would be) removed, by reason then path, and what was left and why."""
    size = human_size(sum(r.bytes for r in cleaning.removals))
    count = len(cleaning.removals)
    indexed = any(r.why.startswith("case indexes") for r in cleaning.removals)
    things = "files, folders or index collections" if indexed else "files or folders"
    if not count:
        head = "nothing to clean"
    elif cleaning.applied:
        head = f"removed {count} {things}, {human_size(cleaning.freed)}"
    else:
        head = f"would remove {count} {things}, {size} (add --apply to remove them)"
    lines = [head + ":" if count else head]
    reasons = sorted({r.why for r in cleaning.removals})
    for why in reasons:
        chosen = [r for r in cleaning.removals if r.why == why]
        lines.append(f"  {human_size(sum(r.bytes for r in chosen))} in {len(chosen)}: {why}")
        lines += [
            f"    {_shown(r.path, root)}" + (f" ({r.detail})" if r.detail else "") for r in chosen
        ]
    lines += [f"index database: {note}" for note in cleaning.databases]
    lines += [f"left alone: {note}" for note in cleaning.skipped]
    lines += [f"not checked: {note}" for note in cleaning.notes]
    return "\n".join(lines) + "\n\n"


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def gone_lines(
    folders: list[Path], owners: set[str] | None, root: Path, server: ChromaLocation | None = None
) -> list[str]:
    """The listing's lines under *case indexes*: each collection of a checkpoint no longer under
    the data root, with its study count and size, in the ``folders`` (and on ``server``)."""
    head = "    of checkpoints no longer under the data root"
    if owners is None:
        return [f"{head}: not told apart, as a checkpoint under the root cannot be read"]
    found: list[tuple[str, IndexCollection]] = []
    notes = []
    for listing in _listings(folders, server, notes):
        where = Path(listing.where)
        found += [(_shown(where / c.name, root), c) for c in gone(listing, owners)]
    if server is None and (host := os.environ.get(HOST_ENV)):
        notes.append(f"      the Chroma server {host} is not read: add --include-server-index")
    if not found:
        return [f"{head}: none", *notes]
    studies, size = sum(c.count for _, c in found), sum(c.bytes for _, c in found)
    lines = [
        f"{head}: {len(found)} collections, {studies:,} studies, {human_size(size)} "
        "(--clean-caches removes them)"
    ]
    lines += [f"      {name}: {c.count:,} studies, {human_size(c.bytes)}" for name, c in found]
    return lines + notes


def _listings(
    folders: list[Path], server: ChromaLocation | None, notes: list[str]
) -> list[IndexListing]:
    listings = []
    users = folder_users(folders)
    for folder in folders:
        if served := users[folder].servers:
            notes.append(
                f"      {folder}: a Chroma server (pid {served[0].pid}) serves it: "
                "--clean-caches leaves it alone (its collections are listed all the same)"
            )
        try:
            listings.append(read_folder(folder))
        except UserError as err:
            notes.append(f"      not read: {err}")
    if server is not None:
        try:
            listings.append(read_server(server)[0])
        except UserError as err:
            notes.append(f"      not read: {err}")
    return listings
