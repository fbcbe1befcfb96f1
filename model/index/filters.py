"""What a search asks, checked: its metadata filter (validated against the known fields, and
evaluated), its query text and its k.

A filter is Chroma's ``where`` language, e.g.
``{"$and": [{"site": "external"}, {"lv_dilation": 1}, {"age_min": {"$gte": 60}}]}``:
logical ``$and`` / ``$or`` over field conditions ``$eq $ne $gt $gte $lt $lte $in $nin``.
``normalize_where`` checks every field and value against ``FIELD_TYPES`` (and the index's own
label fields, 0/1 ints: ``model.index.label_fields``) and rewrites the filter into one canonical
form (``{field: {op: value}}``, several top-level fields joined by ``$and``), so a typo gives a
message naming the field instead of an empty result. ``evaluate_where`` applies a canonical
filter to a metadata table for exact filtered search: a study without the field never matches,
as in Chroma, except that Chroma lets ``$ne`` / ``$nin`` match it (see ``negates``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from model.errors import UserError
from model.schema import FINDINGS, VIEW_SLOTS

STRING_FIELDS: tuple[str, ...] = (
    "site",
    "split",
    "views",
    "age_band",
    "sex",
    "scanner",
    "manufacturer",
    "dataset",
    "dataset_id",
    "diagnosis",
)
VIEW_FIELDS: tuple[str, ...] = tuple(f"view_{slot}" for slot in VIEW_SLOTS)
INT_FIELDS: tuple[str, ...] = ("n_views", "age_min", *VIEW_FIELDS, *FINDINGS)
FLOAT_FIELDS: tuple[str, ...] = ("field_strength",)
FIELD_TYPES: dict[str, type] = {
    **dict.fromkeys(STRING_FIELDS, str),
    **dict.fromkeys(INT_FIELDS, int),
    **dict.fromkeys(FLOAT_FIELDS, float),
}
COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
MEMBERSHIP = ("$in", "$nin")
NEGATIONS = ("$ne", "$nin")
LOGICAL = ("$and", "$or")
MAX_QUERY_CHARS = 2000
MAX_K = 1000

Where = dict[str, Any]


def load_where(text: str | None) -> Any:
    """``--where`` JSON text as parsed (not yet checked against the fields: see
    ``normalize_where``); ``None`` when blank. Two steps, not one: ``search`` parses before it
    loads the model (a typo fails fast) and checks the fields once the index is open (its own
    label fields are known only then)."""
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"--where is not valid JSON ({err.msg} at character {err.pos})") from None


def field_types(label_fields: Iterable[str] = ()) -> dict[str, type]:
    """``FIELD_TYPES`` and an index's own label fields (0/1 ints)."""
    return {**dict.fromkeys(label_fields, int), **FIELD_TYPES}


def normalize_where(where: Any, label_fields: Iterable[str] = ()) -> Where | None:
    """Validate a filter against ``FIELD_TYPES`` and ``label_fields`` (an index's own label
    fields) and return its canonical form (``None`` for an empty filter)."""
    if where is None or where == {}:
        return None
    if not isinstance(where, dict):
        raise UserError(f"a filter must be a JSON object, got {type(where).__name__}")
    return _normalize_node(where, "filter", field_types(label_fields))


def _normalize_node(node: Any, path: str, types: dict[str, type]) -> Where:
    if not isinstance(node, dict) or not node:
        raise UserError(f"{path}: expected a non-empty JSON object, got {node!r}")
    if len(node) > 1:
        return _join("$and", [{key: value} for key, value in node.items()], path, types)
    ((key, value),) = node.items()
    if key in LOGICAL:
        if not isinstance(value, list) or not value:
            raise UserError(f"{path}: {key} needs a non-empty list of conditions")
        return _join(key, value, path, types)
    if key.startswith("$"):
        raise UserError(f"{path}: unknown operator {key!r}; use one of {', '.join(LOGICAL)}")
    return {key: _normalize_condition(key, value, path, types)}


def _join(op: str, parts: list[Any], path: str, types: dict[str, type]) -> Where:
    children = [_normalize_node(part, f"{path}.{op}[{i}]", types) for i, part in enumerate(parts)]
    return children[0] if len(children) == 1 else {op: children}


def _normalize_condition(
    field: str, condition: Any, path: str, types: dict[str, type]
) -> dict[str, Any]:
    if field not in types:
        known = ", ".join(sorted(types))
        raise UserError(
            f"{path}: unknown filter field {field!r}; known fields: {known} (a labels file's own "
            "columns become fields when its dataset is indexed with it)"
        )
    if not isinstance(condition, dict):
        condition = {"$eq": condition}
    if len(condition) != 1:
        raise UserError(
            f'{path}: give one operator per condition on {field!r}, e.g. {{"$gte": 60}}'
        )
    ((op, value),) = condition.items()
    kind = types[field]
    if op in MEMBERSHIP:
        if not isinstance(value, list) or not value:
            raise UserError(f"{path}: {field} {op} needs a non-empty list of values")
        return {op: [_coerce(field, kind, item, path) for item in value]}
    if op not in COMPARISONS:
        ops = ", ".join((*COMPARISONS, *MEMBERSHIP))
        raise UserError(f"{path}: unknown operator {op!r} on {field!r}; use one of {ops}")
    if op not in ("$eq", "$ne") and kind is str:
        raise UserError(f"{path}: {op} compares numbers, but {field!r} is text")
    return {op: _coerce(field, kind, value, path)}


def _coerce(field: str, kind: type, value: Any, path: str) -> Any:
    """The value as stored in the index's metadata, or a ``UserError`` naming the mismatch."""
    if kind is str:
        if isinstance(value, str):
            return value
    elif isinstance(value, bool):
        if kind is int:
            return int(value)
    elif isinstance(value, int | float):
        if kind is float:
            return float(value)
        if float(value).is_integer():
            return int(value)
    raise UserError(f"{path}: {field!r} holds {kind.__name__} values, got {value!r}")


def where_fields(where: Where | None) -> set[str]:
    """The fields a canonical filter names."""
    if where is None:
        return set()
    ((key, value),) = where.items()
    if key in LOGICAL:
        return set().union(*(where_fields(child) for child in value))
    return {key}


def negates(where: Where | None) -> bool:
    """Whether a canonical filter uses ``$ne`` or ``$nin`` anywhere.

    Chroma lets those match a study *without* the field (e.g. an unlabelled finding);
    ``evaluate_where`` does not, so such filters must be evaluated by ``evaluate_where``.
    """
    if where is None:
        return False
    ((key, value),) = where.items()
    if key in LOGICAL:
        return any(negates(child) for child in value)
    return next(iter(value)) in NEGATIONS


def evaluate_where(where: Where | None, metadata: pd.DataFrame) -> np.ndarray:
    """bool [N]: which rows of ``metadata`` (one column per field, NaN = absent) match ``where``.

    ``where`` must be canonical (from ``normalize_where``).
    """
    if where is None:
        return np.ones(len(metadata), dtype=bool)
    ((key, value),) = where.items()
    if key in LOGICAL:
        masks = [evaluate_where(child, metadata) for child in value]
        return np.logical_and.reduce(masks) if key == "$and" else np.logical_or.reduce(masks)
    if key not in metadata.columns:
        return np.zeros(len(metadata), dtype=bool)
    column = metadata[key]
    present = column.notna().to_numpy()
    ((op, operand),) = value.items()
    return present & _compare(column, op, operand)


def _compare(column: pd.Series, op: str, operand: Any) -> np.ndarray:
    if op in MEMBERSHIP:
        inside = column.isin(operand).to_numpy()
        return inside if op == "$in" else ~inside
    if op in ("$eq", "$ne"):
        equal = (column == operand).to_numpy()
        return equal if op == "$eq" else ~equal
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        result = {
            "$gt": numbers > operand,
            "$gte": numbers >= operand,
            "$lt": numbers < operand,
            "$lte": numbers <= operand,
        }[op]
    return np.asarray(result, dtype=bool)


def check_query(query: str) -> str:
    """The stripped query text, or a ``UserError`` for an empty or overlong query."""
    text = " ".join(str(query or "").split())
    if not text:
        raise UserError(
            "the search query is empty: type a few words, e.g. 'dilated left ventricle'"
        )
    if len(text) > MAX_QUERY_CHARS:
        raise UserError(
            f"the search query has {len(text)} characters; the limit is {MAX_QUERY_CHARS} "
            "(an impression is a few sentences)"
        )
    return text


def check_k(k: int) -> int:
    """``k`` as an int in 1..MAX_K, or a ``UserError``."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise UserError(f"k must be a whole number, got {k!r}")
    if k < 1:
        raise UserError(f"k must be at least 1, got {k}")
    if k > MAX_K:
        raise UserError(f"k must be at most {MAX_K}, got {k}")
    return int(k)
