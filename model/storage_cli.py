"""``python -m model storage [--data-root ROOT] [--clean-caches [--apply]]``: what a data root
takes on disk, by kind, and the caches and leftovers that can go (``model/storage.py``).

A dry run by default: ``--clean-caches`` lists what it would remove and why; only ``--apply``
removes it. Datasets, runs, evaluations, uploads and saved sets are never removed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model.errors import UserError
from model.schema import default_data_root
from model.storage import KINDS, Cleaning, Survey, clean_caches, human_size, survey


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "What the data root takes on disk, by kind (datasets, embedding caches, case indexes, "
        "runs, evaluations, job records, uploads, ...). --clean-caches lists what can be made "
        "again or is left over (embedding caches of a dataset's earlier version, writes "
        "interrupted over a day ago, ended job records beyond the newest of each kind) and "
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


def run(args: argparse.Namespace) -> int:
    root = (args.data_root or default_data_root()).expanduser()
    if not root.is_dir():
        raise UserError(f"data root {root} is not a folder; give --data-root ROOT")
    if args.apply and not args.clean_caches:
        raise UserError("--apply removes what --clean-caches lists: give both")
    if args.clean_caches:
        cleaning = clean_caches(root, apply=args.apply)
        sys.stdout.write(cleaning_text(cleaning, root))
    sys.stdout.write(usage_text(survey(root)))
    return 0


def usage_text(found: Survey) -> str:
    """The table of what each kind takes, largest first, kinds with no file left out."""
    total = found.total
    lines = [f"{found.root}: {human_size(total.bytes)} on disk in {total.files:,} files"]
    rows = sorted(
        ((kind, found.usage[kind]) for kind in KINDS if found.usage[kind].files),
        key=lambda row: row[1].bytes,
        reverse=True,
    )
    lines += [
        f"  {kind:<17} {human_size(usage.bytes):>9} {usage.files:>10,} files"
        for kind, usage in rows
    ]
    return "\n".join(lines) + "\n"


def cleaning_text(cleaning: Cleaning, root: Path) -> str:
    """What was (or would be) removed, by reason then path, and what was left and why."""
    size = human_size(sum(r.bytes for r in cleaning.removals))
    count = len(cleaning.removals)
    if not count:
        head = "nothing to clean"
    elif cleaning.applied:
        head = f"removed {count} files or folders, {human_size(cleaning.freed)}"
    else:
        head = f"would remove {count} files or folders, {size} (add --apply to remove them)"
    lines = [head + ":" if count else head]
    reasons = sorted({r.why for r in cleaning.removals})
    for why in reasons:
        chosen = [r for r in cleaning.removals if r.why == why]
        lines.append(f"  {human_size(sum(r.bytes for r in chosen))} in {len(chosen)}: {why}")
        lines += [f"    {_shown(r.path, root)}" for r in chosen]
    lines += [f"left alone: {note}" for note in cleaning.skipped]
    return "\n".join(lines) + "\n\n"


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
