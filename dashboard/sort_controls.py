"""The "Sort by" and "Order" controls above a table that lists only its first rows (Studies,
Zero-shot): the order chosen applies to every row before the cut, unlike a header click in the
browser, which sorts only the rows sent."""

from __future__ import annotations

from collections.abc import Sequence

from streamlit.delta_generator import DeltaGenerator

from dashboard.study_order import DIRECTIONS, sort_label

SORT_PX = 200  # "Sort by": as wide as a finding's long name or "Field strength (T)"


def sort_controls(
    row: DeltaGenerator, columns: Sequence[str], key: str, rows: str
) -> tuple[str, bool]:
    """(column, descending) chosen in ``row`` among ``columns``; widget keys ``{key}-sort`` and
    ``{key}-order``; ``rows`` names what is sorted ("every matching study")."""
    column = row.selectbox(
        "Sort by",
        columns,
        format_func=sort_label,
        key=f"{key}-sort",
        width=SORT_PX,
        help=f"Sorts {rows}, then lists the first ones; a click on a column header sorts only "
        "the rows listed.",
    )
    direction = row.radio("Order", DIRECTIONS, horizontal=True, key=f"{key}-order", width="content")
    return column, direction == DIRECTIONS[1]
