"""The Case browser's filters at 800 px: readable boxes and labels."""

from __future__ import annotations


def test_the_filters_wrap_at_a_readable_width_and_say_all_when_empty(app) -> None:
    """Six fixed columns cut an 800 px window's filter boxes to "Ch" (of "Choose options") and
    broke their labels letter by letter ("Manufact / urer", "dysfuncti / on")."""
    from dashboard_fixtures import block_holding

    at = app("pages/browser.py")
    boxes = [m for m in at.multiselect if m.key and m.key.startswith("b-")]
    assert {"b-site", "b-label-lge"} <= {m.key for m in boxes}, [m.key for m in boxes]
    for box in boxes:
        row = block_holding(at.main, lambda e, key=box.key: getattr(e, "key", None) == key)
        assert row is not None and row.proto.WhichOneof("type") != "column", (box.key, row.proto)
        assert box.placeholder == "All", box.key
