"""What the pages show: one name per label on every page, an unknown field strength as unknown,
a readable case metadata panel, the prompt-set upload's own size limit, numbers as users read
them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import page_opener, tiny_data_root
from streamlit.testing.v1 import AppTest

from dashboard.case_search import index_where
from dashboard.context import Studio
from dashboard.studies import StudyFilter, apply_filter, display_table, filter_options
from model.evaluation.tables import display_name
from model.schema import DIAGNOSES, VIEW_SLOTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_data_root(tmp_path_factory)


@pytest.fixture
def app(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    return page_opener(data_root, monkeypatch)


@pytest.fixture
def unknown_strength(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The active dataset's first three studies as ingest stores a missing MagneticFieldStrength
    (0.0); their ids."""
    studies = Studio.studies

    def with_unknown(self: Studio) -> pd.DataFrame:
        table = studies(self).copy()
        table.loc[table.index[:3], "field_strength"] = 0.0
        return table

    monkeypatch.setattr(Studio, "studies", with_unknown)
    return [f"s{i:06d}" for i in range(3)]


def test_the_prompt_upload_states_its_own_one_mb_limit(app) -> None:
    at = app("pages/zeroshot.py")
    upload = next(u for u in at.get("file_uploader") if u.proto.id.endswith("zs-upload"))
    assert upload.proto.max_upload_size_mb == 1
