"""A cheap cache key of the pandas objects a cached evaluation is computed from.

``st.cache_data`` hashes a Series argument with ``pd.util.hash_pandas_object`` element by
element, its index too: at 20,000 studies the Zero-shot page's eight AUC rows hashed their
scores, labels and the studies' patient keys (Arrow strings, the slowest to hash) on every
rerun, 0.37 s of a rerun with nothing changed, growing with the studies. ``content_key`` reads
the same content as bytes (numbers as float64, text joined) into one digest; the cached
functions take it as their key and the objects themselves unhashed (``_`` arguments).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

_SEPARATOR = "\x1f"  # the ASCII unit separator: never inside a study ID, key or label


def _text_bytes(values: pd.Index | pd.Series) -> bytes:
    missing = np.asarray(values.isna(), dtype=bool)
    plain = values.to_numpy(dtype=object)  # one conversion: Arrow strings read one by one are slow
    try:
        text = _SEPARATOR.join(plain)  # study IDs and keys: already strings
    except TypeError:  # numbers or missing values among them
        text = _SEPARATOR.join(map(str, plain))
    return missing.tobytes() + text.encode()


def _values_bytes(values: pd.Index | pd.Series) -> bytes:
    """The values as bytes: numbers (and booleans) as float64, anything else as text."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return np.asarray(values.to_numpy(dtype="float64", na_value=np.nan)).tobytes()
    return _text_bytes(values)


def content_key(*parts: pd.Series | pd.DataFrame | str | float | None) -> str:
    """Hex digest of ``parts``: each Series' name, dtype, index and values, each DataFrame's
    columns in order, and plain values by their text; equal content gives the same key."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, pd.DataFrame):
            columns = [part[c] for c in part.columns]
            digest.update(f"frame{part.shape}{list(map(str, part.columns))}".encode())
        elif isinstance(part, pd.Series):
            columns = [part]
        else:
            digest.update(f"value:{type(part).__name__}:{part!r}{_SEPARATOR}".encode())
            continue
        digest.update(b"index" + _values_bytes(part.index))
        for column in columns:
            digest.update(f"series:{column.name}:{column.dtype}{_SEPARATOR}".encode())
            digest.update(_values_bytes(column))
    return digest.hexdigest()
