"""``dashboard.content_key``: the key the cached evaluations are looked up by changes with any
value, index, name or type of what it reads, and only with them."""

import numpy as np
import pandas as pd

from dashboard.content_key import content_key


def test_equal_content_gives_one_key_and_any_change_another() -> None:
    ids = ["s1", "s2", "s3"]
    probs = pd.Series([0.1, 0.5, np.nan], index=ids, name="lge")
    patients = pd.Series(["p1", None, "p1"], index=ids, dtype="string")
    key = content_key(probs, patients)
    assert key == content_key(probs.copy(), patients.astype("string"))
    changes = [
        (probs.set_axis(["s1", "s3", "s2"]), patients),  # another study order
        (probs.rename("rv_dilation"), patients),
        (probs.fillna(0.0), patients),
        (probs, patients.fillna("None")),  # a missing key is not the text "None"
        (probs, patients.replace("p1", "p2")),
        (probs.to_frame(), patients),
    ]
    assert len({key, *(content_key(*parts) for parts in changes)}) == len(changes) + 1


def test_a_frame_is_read_column_by_column_with_its_index() -> None:
    frame = pd.DataFrame({"score": [0.9, 0.1], "example": ["example", ""]}, index=["a", "b"])
    assert content_key(frame) == content_key(frame.copy())
    assert content_key(frame) != content_key(frame.set_axis(["b", "a"]))
    assert content_key(frame) != content_key(frame[["example", "score"]])
    assert content_key(frame, "LGE") != content_key(frame, "RV")
