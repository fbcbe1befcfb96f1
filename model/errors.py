"""Errors that carry a message meant for the user (bad input, missing files).

The CLI prints them as one line and exits non-zero; the dashboard shows them as an error box.
Anything else is a bug and keeps its traceback in the log.
"""


class UserError(Exception):
    """A problem with the user's input, described in plain words."""


class DataError(UserError):
    """A dataset, DICOM folder, labels or prompts file that cannot be used as given."""


class DamagedIndex(DataError):  # noqa: N818 - named for what the user has, as DataError
    """A case index whose stored files Chroma reads back wrong: it has to be rebuilt."""


class CheckpointError(UserError):
    """A checkpoint that is missing, foreign, corrupted or from another model family."""


class OutOfDeviceMemory(UserError):
    """A training step ran out of GPU memory; the run stops and keeps its last checkpoint.

    Its message starts with ``PREFIX``, which a run's status keeps, so the dashboard can tell
    this failure from others and offer to resume with gradient checkpointing.
    """

    PREFIX = "out of GPU memory"
