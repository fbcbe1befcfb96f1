"""Entry point for ``python -m model``."""

import sys

from model.cli import ignore_stops, main

if __name__ == "__main__":
    status = main(process_entry=True)
    ignore_stops()  # the status is decided: a late stop must not turn it into "killed"
    sys.exit(status)
