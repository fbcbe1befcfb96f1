"""The dashboard's logic (pages hold UI only and call this package)."""


def set_process_environment() -> None:
    """Give the dashboard's process ``model.PROCESS_ENVIRONMENT`` where the environment has no
    value of its own (``model.process_setup``; no matplotlib folder: its jobs inherit this
    environment, and would be handed one removed when the dashboard stops)."""
    from model.process_setup import set_environment_defaults

    set_environment_defaults()
