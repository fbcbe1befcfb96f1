"""The dashboard's logic (pages hold UI only and call this package)."""

import os


def set_process_environment() -> None:
    """Give the dashboard's process ``model.PROCESS_ENVIRONMENT`` where the environment has no
    value of its own: what ``import model`` once set for every process that imported it."""
    from model import PROCESS_ENVIRONMENT

    for key, value in PROCESS_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
