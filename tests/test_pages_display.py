"""What the pages show: one name per label on every page, an unknown field strength as unknown,
a readable case metadata panel, the prompt-set upload's own size limit, numbers as users read
them."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from dashboard.case_search import index_where
from dashboard.context import Studio
from dashboard.studies import StudyFilter, apply_filter, display_table, filter_options
from model.evaluation.tables import display_name
from model.schema import DIAGNOSES, VIEW_SLOTS

pytestmark = pytest.mark.slow


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


def test_zero_shot_names_labels_as_the_evaluate_page_does(app) -> None:
    at = app("pages/zeroshot.py")
    table = next(d.value for d in at.dataframe if "site" in d.value.columns)
    assert {"Left ventricle dilation", "dx: NICM", "dx: Abnormal RV"} <= set(table.columns)
    assert not {"lv_dilation", "dx_nicm", "predicted_dx"} & set(table.columns)
    assert set(table["predicted diagnosis"]) <= {display_name(c) for c in DIAGNOSES}
    finding = at.selectbox(key="zs-eval-finding")
    assert "Left ventricle dilation" in finding.options and "lv_dilation" not in finding.options
    assert "dx: NICM" in at.selectbox(key="zs-top").options
    cm = next(c for c in at.get("plotly_chart") if "Diagnosis" in c.proto.spec)
    assert '"NICM"' in cm.proto.spec and '"nicm"' not in cm.proto.spec
    roc = next(c for c in at.get("plotly_chart") if "ROC:" in c.proto.spec)
    title = " ".join(json.loads(roc.proto.spec)["layout"]["title"]["text"].split("<br>"))
    title = " ".join(title.split())  # a break keeps its space, for a screen reader
    assert title == f"ROC: {display_name(finding.value)}"  # in lines that fit half a column


def test_an_unknown_field_strength_is_shown_and_filtered_as_unknown() -> None:
    table = pd.DataFrame({"study_id": ["a", "b", "c"], "field_strength": [0.0, 1.5, float("nan")]})
    assert display_table(table)["field_strength"].tolist() == ["unknown", "1.5", "unknown"]
    assert filter_options(table)["field_strength"] == ["1.5", "unknown"]
    chosen = StudyFilter(values={"field_strength": ["unknown"]})
    assert apply_filter(table, chosen)["study_id"].tolist() == ["a", "c"]
    where = index_where(chosen, "tiny")
    assert {"field_strength": {"$in": [0.0]}} in where["$and"]


def test_the_studies_page_shows_an_unknown_field_strength_as_unknown(app, unknown_strength) -> None:
    at = app("pages/studies.py")
    table = at.dataframe(key="studies-table").value
    shown = table.set_index("study_id")["field_strength"].astype(str)
    assert (shown[unknown_strength] == "unknown").all() and "0.0" not in set(shown)
    box = next(m for m in at.multiselect if m.key == "f-field_strength")
    assert "unknown" in box.options and "0.0" not in box.options
    box.select("unknown").run()
    listed = at.dataframe(key="studies-table").value["study_id"].tolist()
    assert listed == unknown_strength
    case = app("pages/studies.py", studies_view="Case view", case_id=unknown_strength[0])
    metadata = case.table[0].value["value"]
    assert metadata["Field strength"] == "unknown"


def test_the_case_metadata_is_every_field_readable_without_a_scrolling_table(app) -> None:
    at = app("pages/studies.py", studies_view="Case view", case_id="s000002")
    # the old ten-row table, scrolled and cut (the one dataframe: the Model reading's findings)
    assert [list(d.value.columns)[:2] for d in at.dataframe] == [["finding", "probability"]]
    metadata = at.table[0].value["value"]
    assert metadata["Views"] == ", ".join(VIEW_SLOTS)  # spaced: it wraps in the narrow column
    assert metadata["Field strength"] == "1.5 T" and metadata["Pixel spacing"] == "1.50 mm"
    assert {"Split", "Scanner", "Age band", "Sex", "Cine phases"} <= set(metadata.index)
    assert not any("patient" in f.lower() or f == "View frames" for f in metadata.index)
    assert "ps000002" not in " ".join(metadata)  # its patient key


def test_the_prompt_upload_states_its_own_one_mb_limit(app) -> None:
    at = app("pages/zeroshot.py")
    upload = next(u for u in at.get("file_uploader") if u.proto.id.endswith("zs-upload"))
    assert upload.proto.max_upload_size_mb == 1


def test_the_embedding_map_colours_by_named_labels_and_an_unknown_field_strength(
    app, unknown_strength
) -> None:
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    options = at.selectbox(key="e-colour").options
    assert "LGE (label)" in options and "NICM (label)" in options
    assert not [o for o in options if o.startswith("label_")]
    at.selectbox(key="e-colour").select("field_strength").run()
    spec = at.get("plotly_chart")[0].proto.spec
    assert '"name":"unknown"' in spec and '"name":"0"' not in spec, spec[:2000]


def test_the_embedding_map_names_study_columns_as_the_tables_do(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The colour box, legend and hover text showed ``age_band``, ``pixel_spacing_mm``, where
    the selection table below names them Age band, Pixel spacing (mm)."""
    from dashboard.studies import column_label

    studies = Studio.studies

    def two_age_bands(self: Studio) -> pd.DataFrame:  # one band for all is no colour choice
        table = studies(self).copy()
        table.loc[table.index[0], "age_band"] = "20-29"
        return table

    monkeypatch.setattr(Studio, "studies", two_age_bands)
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    options = at.selectbox(key="e-colour").options
    assert column_label("age_band") in options and "LGE (label)" in options, options
    assert not [o for o in options if "_" in o], options
    at.selectbox(key="e-colour").select("age_band").run()
    assert at.selectbox(key="e-colour").value == "age_band"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["legend"]["title"]["text"] == column_label("age_band")
    hover = next(t["hovertemplate"] for t in spec["data"] if t.get("hovertemplate"))
    assert "age_band" not in hover and column_label("age_band") in hover, hover


def test_the_map_controls_are_laid_out_as_wide_as_they_need(app) -> None:
    """Three fixed columns cut the Map choice to "UMAP" (PCA hidden) and the colour box to
    "(none" on an 800 px window."""
    from dashboard_fixtures import block_holding

    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    for label in ("Map", "Colour by"):
        row = block_holding(at.main, lambda e, label=label: getattr(e, "label", None) == label)
        assert row is not None and row.proto.WhichOneof("type") != "column", (label, row.proto)


def test_the_zero_shot_label_controls_are_laid_out_as_wide_as_they_need(app) -> None:
    """Fixed columns cut "all splits" to "all" and the finding to "Left ventricle dys" on an
    800 px window."""
    from dashboard_fixtures import block_holding

    at = app("pages/zeroshot.py")
    for label in ("Studies", "Finding", "Decision threshold"):
        row = block_holding(at.main, lambda e, label=label: getattr(e, "label", None) == label)
        assert row is not None and row.proto.WhichOneof("type") != "column", (label, row.proto)


def _table_headers(table) -> dict[str, str]:
    """A shown table's column -> its header (the column's own name unless relabelled)."""
    config = json.loads(table.proto.columns or "{}")
    return {str(c): config.get(str(c), {}).get("label", str(c)) for c in table.value.columns}


def test_few_shot_and_zero_shot_tables_name_study_columns_as_every_page(app) -> None:
    """Few-shot and Zero-shot headed their tables study_id, impression, site, where the
    Studies and Embeddings tables say Study ID, Impression, Site."""
    from dashboard.studies import column_label

    fewshot = app("pages/fewshot.py")
    fewshot.selectbox(key="fs-pick").set_value("s000001").run()
    fewshot.button(key="fs-add-True").click().run()
    for key in ("fs-list-Examples", "fs-ranked"):
        (table,) = [d for d in fewshot.dataframe if d.key and d.key.startswith(key)]
        headers = _table_headers(table)
        assert headers["study_id"] == column_label("study_id"), (key, headers)
        assert not [h for h in headers.values() if "_" in h], (key, headers)
    scores = [d for d in app("pages/zeroshot.py").dataframe if "study_id" in d.value.columns]
    zeroshot = _table_headers(scores[0])
    assert zeroshot["study_id"] == column_label("study_id"), zeroshot


def test_zero_shot_metrics_are_named_as_on_the_evaluate_page() -> None:
    """Zero-shot's metrics table said auc, f1, ci_low where the Evaluate page says AUC,
    F1-score and a 95% CI."""
    from dashboard.scoring import evaluate_finding
    from model.evaluation.tables import PAPER_COLUMNS

    ids = [f"s{i}" for i in range(8)]
    probs = pd.Series([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9], index=ids)
    labels = pd.Series([0.0, 0, 0, 0, 1, 1, 1, 1], index=ids)
    table = evaluate_finding(probs, labels, 0.5, resamples=20).table
    names = table.iloc[:, 0].tolist()
    assert {"Accuracy", "F1-score", "AUC"} <= set(names) and set(PAPER_COLUMNS[2:]) <= set(names)
    assert not [c for c in [*table.columns, *names] if "_" in c or c.islower()], table


def _blocks(node):
    from streamlit.testing.v1.element_tree import Block

    for child in node.children.values():
        if isinstance(child, Block):
            yield child
            yield from _blocks(child)


def test_case_cards_fill_the_row_in_columns_as_wide_as_the_page_allows(app) -> None:
    """Three fixed columns of case cards squeezed each to ~145 px on an 800 px window; fixed
    250 px cards then left a 130-200 px gap at the right of a 1024 px window and a 768 px
    tablet. The cards sit in a grid of as many columns as fit at ``CARD_PX`` or more, widened
    to fill the row; each card's buttons, alike in every card, name its study in their tooltip."""
    from dashboard.ui import CARD_PX

    zeroshot = app("pages/zeroshot.py")
    browser = app("pages/browser.py")
    browser.text_input(key="b-query").input("dilated left ventricle").run()
    for at in (zeroshot, browser):
        cards = [b for b in at.button if b.label == "Open case"]
        [grid] = at.main.grid
        assert grid.min_column_width == CARD_PX and grid.width == "stretch"
        assert len([b for b in _buttons(grid) if b.label == "Open case"]) == len(cards)
        helps = [b.help for b in cards]
        assert len(set(helps)) == len(cards) and all("study" in h for h in helps), helps


def _buttons(node):
    from streamlit.testing.v1.element_tree import Button

    for child in node.children.values():
        if isinstance(child, Button):
            yield child
        elif hasattr(child, "children"):
            yield from _buttons(child)


def test_the_case_browser_filters_are_named_as_the_studies_page_names_them(app) -> None:
    """Its filters read "age band", "field strength" where the Studies page's read Age band,
    Field strength (T); its findings read "lv_dilation" where the Zero-shot page's read Left
    ventricle dilation."""
    from dashboard.label_filters import DIAGNOSIS
    from dashboard.studies import FILTER_COLUMNS, column_label
    from model.evaluation.tables import display_name
    from model.schema import FINDINGS

    labels = {m.label for m in app("pages/browser.py").multiselect}
    findings = {display_name(name) for name in (DIAGNOSIS, *FINDINGS)}  # "Diagnosis" too
    assert labels & findings, labels  # the tiny dataset's labels file holds findings
    assert labels <= {column_label(c) for c in FILTER_COLUMNS} | findings, labels


def test_home_writes_its_counts_with_thousands_separators(app, monkeypatch, data_root) -> None:
    import dashboard.overview

    status = dashboard.overview.studio_status

    def large(settings):  # a hospital's site: 1,300 studies
        real = status(settings)
        sites = [dashboard.overview.DatasetSummary(d.path, 1300) for d in real.datasets]
        return dataclasses.replace(real, datasets=sites)

    monkeypatch.setattr(dashboard.overview, "studio_status", large)
    at = app("pages/home.py")
    assert next(m for m in at.metric if m.label == "Studies").value == "1,300"
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["studies"]["type_config"]["format"] == "localized", config


def test_zero_shot_gives_a_probability_the_same_decimals_in_table_and_cards(app) -> None:
    at = app("pages/zeroshot.py")
    table = next(d for d in at.dataframe if "site" in d.value.columns)
    config = json.loads(table.proto.columns)
    formats = {c["type_config"]["format"] for c in config.values() if "type_config" in c}
    assert formats == {"%.3f"}, config
    card = at.metric[0].value  # p(top study), as the metrics table writes it
    assert len(card.split(".")[1]) == 3, card


def _headers(frame) -> dict[str, str]:
    """Column -> header a dataframe of a page was given (its column config's labels)."""
    config = json.loads(frame.proto.columns)
    return {name: c["label"] for name, c in config.items() if "label" in c}


def test_study_tables_are_headed_as_the_filters_name_the_columns(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The study tables were headed by raw column names (age_band, pixel_spacing_mm) under
    filters named "age band", "field strength"."""
    at = app("pages/studies.py")
    headers = _headers(at.dataframe(key="studies-table"))
    assert headers["age_band"] == "Age band" and headers["cine_phases"] == "Cine phases"
    assert headers["pixel_spacing_mm"] == "Pixel spacing (mm)"
    assert headers["field_strength"] == "Field strength (T)"
    assert set(headers) == set(at.dataframe(key="studies-table").value.columns)
    filters = {m.key[2:]: m.label for m in at.multiselect if m.key != "f-views"}
    assert filters and all(headers[column] == label for column, label in filters.items())
    monkeypatch.setattr("dashboard.map_figure.selected_rows", lambda points, figure: [0, 1])
    chosen = app("pages/embeddings.py", **{"e-method": "PCA"}).dataframe(key="e-table")
    assert _headers(chosen) == headers
