"""How a reader of a checkpoint's index rides out a ``--rebuild``'s swap (``model.index.rebuild``).

The swap renames the rebuilt collection ``swapping-...``, deletes the old one and renames the new
one to the checkpoint's name, within milliseconds. A reader can meet it in three ways:

- it asks for the collection by name after the old one is deleted and before the new one is
  renamed: ``NotFoundError``, so it waits for the rename (``exists``);
- it asks while the server is deleting the old one: Chroma answers with an error of its own
  ("Error getting collection: Missing field: [Missing metadata segment]"), so it waits the same;
- it got the old collection a moment before and reads it after it was deleted (a query, a count,
  a page of the snapshot: Chroma addresses a collection by its id, which is gone): ``read``
  notices that the name now stands for another collection, or that a swap is under way, and
  does the same read on the new one. The read may fail, or (a server deleting the collection's
  segments) come back empty: a read whose caller says what empty is (``missing``) is checked
  for a swap too, so "more like this" never says a study is not indexed, nor a count reads 0,
  because of one.

All waits end after ``SWAP_WAIT_S``: a swap still not done by then stopped with its rebuild
(``swap_stalled``), and a reader says there is no index rather than hang. Any other failure is
raised as it came: a reader retries only a read whose collection a swap replaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import ChromaError, NotFoundError

from model.index.collection_spec import swapping_name

log = logging.getLogger(__name__)

SWAP_WAIT_S = 5.0
_POLL_S = 0.05
T = TypeVar("T")


class SwapWaiting:
    """The swap-aware lookups of ``EmbeddingIndex``: a ``client``, the collection's ``name``
    and its ``checkpoint`` (set by the subclass)."""

    client: ClientAPI
    name: str
    checkpoint: str
    _stalled_swap: str | None  # id of a swap that exists() waited out in vain

    def collection(self) -> Collection:  # the subclass's: it may reopen the client
        raise NotImplementedError

    def exists(self) -> bool:
        """Whether the collection is there; while a rebuild swaps its new collection in (the
        old one deleted, the new one not yet renamed) this waits up to ``SWAP_WAIT_S`` for it.
        A swap not done by then stopped with its rebuild (``swap_stalled``): later calls do not
        wait for that one again, only for another rebuild's."""
        deadline = time.monotonic() + SWAP_WAIT_S
        swapping = swapping_name(self.checkpoint)
        while True:
            collections = {c.name: c for c in self.client.list_collections()}
            if self.name in collections:
                self._stalled_swap = None
                return True
            pending = collections.get(swapping)
            if pending is None:
                return False
            if str(pending.id) == self._stalled_swap:
                return False
            if time.monotonic() > deadline:
                log.warning("%s: its rebuild stopped while swapping it in", swapping)
                self._stalled_swap = str(pending.id)
                return False
            time.sleep(_POLL_S)

    @property
    def swap_stalled(self) -> bool:
        """Whether ``exists`` last found the checkpoint's rebuilt index left mid-swap by a
        rebuild that stopped (the next index run finishes the swap)."""
        return self._stalled_swap is not None

    def _get_collection(self) -> Collection:
        """The collection by name, waiting out a rebuild's swap (see the module docstring)."""
        deadline = time.monotonic() + SWAP_WAIT_S
        retried = False
        while True:
            try:
                return self.client.get_collection(self.name, embedding_function=None)
            except NotFoundError:
                if not self.exists() or time.monotonic() > deadline:
                    raise
            except ChromaError:  # the server's answer while it deletes the old collection
                under_way = self._swapped(None)
                if (retried and not under_way) or time.monotonic() > deadline:
                    raise  # once more at most when no swap is seen: it may have just ended
                retried = True
                time.sleep(_POLL_S)

    def read(
        self, action: Callable[[Collection], T], missing: Callable[[T], bool] | None = None
    ) -> T:
        """``action(collection)``; when a rebuild's swap deleted the collection under it, the
        same on the collection swapped in (waited for up to ``SWAP_WAIT_S``). A server may
        answer a read of a collection it is deleting with nothing rather than an error: a result
        ``missing`` calls empty is read again too when a swap replaced the collection."""
        deadline = time.monotonic() + SWAP_WAIT_S
        while True:
            collection = self.collection()
            try:
                result = action(collection)
            except ChromaError:
                if not self._swapped(str(collection.id)) or time.monotonic() > deadline:
                    raise
            else:
                if missing is None or not missing(result) or time.monotonic() > deadline:
                    return result
                if not self._swapped(str(collection.id)):
                    return result
            log.info("%s was replaced by its rebuild while read: reading the new one", self.name)
            time.sleep(_POLL_S)

    def _swapped(self, used: str | None) -> bool:
        """Whether a rebuild is swapping the collection in, or has swapped in another one than
        the collection ``used`` (its id; None: only a swap under way counts)."""
        names = {c.name: str(c.id) for c in self.client.list_collections()}
        if swapping_name(self.checkpoint) in names:
            return True
        return used is not None and self.name in names and names[self.name] != used
