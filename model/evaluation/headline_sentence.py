"""The evaluation's headline as one sentence a talk or a paper can quote.

The headline table (``headline.headline_text``) holds a dozen figures per site; a slide needs one
line: the main model's zero-shot mean AUC over findings at each site, each with its 95% CI and
what was evaluated there, then the linear probe's for scale, then any compared model's:

    demo-cpu-small/best (trained on internal's train split), zero-shot (no labels in
    training): mean AUC over 7 findings 0.746 (95% CI 0.709–0.782) at internal (156 studies
    of 150 patients, test split) and 0.714 (95% CI 0.687–0.742) at external (300 studies of
    282 patients). With labels, a cross-validated linear probe on its embeddings reaches 0.923
    (95% CI 0.901–0.941) and ...

Every number is read from the summary document (``summary.json``), as the table is; a figure
the run did not record is left out, never written as a blank.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from model.evaluation.headline import FIGURES, headline_text, shared_labels
from model.evaluation.headline import PROBE_FINDINGS as PROBE_FIGURE
from model.evaluation.headline import ZERO_SHOT_FINDINGS as LEAD_FIGURE
from model.evaluation.held_out import NOT_HELD_OUT, UNVERIFIED
from model.wording import counted

CI = "95% CI "  # the sentence names each interval


def _shown(cell: str) -> str | None:
    """A cell of ``headline_text(..., ci=CI)``; None for a blank."""
    return None if cell == "–" else cell


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def site_words(site: dict[str, Any]) -> str:
    """What was evaluated at a site, in brackets after its name: ``internal (156 studies of
    150 patients, test split)``; the selection is named only when it is not every study, and
    the studies with labels (the AUCs stand on those) only when some have none, as the site's
    line in the report says them."""
    name = str(site.get("name", "?"))
    studies, patients = _count(site.get("n_evaluated")), _count(site.get("n_patients"))
    labelled = _count(site.get("n_labelled"))
    words = []
    if studies:
        of = f" of {counted(patients, 'patient')}" if patients else ""
        words = [counted(studies, "study") + of]
        if labelled is not None and labelled < studies:
            words.append(f"{labelled:,} with labels")
    selection = site.get("selection")
    if isinstance(selection, str) and selection and selection != "all studies":
        words.append(selection)
    notes = site.get("not_held_out")  # held_out.site_notes; none recorded before 2026-12
    notes = [str(note) for note in notes] if isinstance(notes, list) else []
    if notes:
        leaked = any(note.startswith(NOT_HELD_OUT) for note in notes)
        words.append(NOT_HELD_OUT if leaked else UNVERIFIED)
    return f"{name} ({', '.join(words)})" if words else name


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _columns_of(model: str, results: list[dict[str, Any]], table: pd.DataFrame) -> dict[str, str]:
    """site name -> ``model``'s headline column at that site, in site order: the site's name,
    or ``model · site`` when several models were evaluated."""
    columns = {}
    for result in results:
        if result.get("model") != model:
            continue
        site = str(result.get("site"))
        for column in (site, f"{model} · {site}"):
            if column in table.columns:
                columns[site] = column
    return columns


def _compared(
    models: list[dict[str, Any]], results: list[dict[str, Any]], table: pd.DataFrame
) -> str:
    """The other models' zero-shot means at the same sites, one per set of weights (a model
    with the main one's weights, or another's, would repeat its figures): "" when none."""
    rows, seen, parts = table.set_index("figure"), {models[0].get("fingerprint")}, []
    for model in models[1:]:
        weights = model.get("fingerprint")
        if weights and weights in seen:
            continue
        seen.add(weights)
        columns = _columns_of(str(model.get("name")), results, table).values()
        cells = [shown for c in columns if (shown := _shown(rows.at[LEAD_FIGURE, c]))]
        if cells:
            parts.append(f"{model.get('name')} {_joined(cells)}")
    return f" Compared on the same studies, zero-shot: {'; '.join(parts)}." if parts else ""


def headline_sentence(summary: dict[str, Any]) -> str:
    """The main model's zero-shot mean AUC over findings at each site with its CI (and the
    cross-validated linear probe's, when recorded), as one quotable paragraph; "" when the
    summary has no zero-shot finding figure to quote."""
    results = [r for r in summary.get("results") or [] if isinstance(r, dict)]
    table = headline_text(results, ci=CI)
    if table.empty or LEAD_FIGURE not in set(table["figure"]):
        return ""
    rows = table.set_index("figure")
    models = [m for m in summary.get("models") or [] if isinstance(m, dict)]
    main = str(models[0].get("name") if models else results[0].get("model"))
    columns = _columns_of(main, results, table)
    sites = {str(s.get("name")): s for s in summary.get("sites") or [] if isinstance(s, dict)}
    lead = [
        f"{shown} at {site_words(sites.get(site, {'name': site}))}"
        for site, column in columns.items()
        if (shown := _shown(rows.at[LEAD_FIGURE, column])) is not None
    ]
    if not lead:
        return ""
    averaged = shared_labels([FIGURES[LEAD_FIGURE](r) for r in results])
    over = f"{len(averaged)} findings" if averaged else "the findings"
    trained = next((m.get("trained on") for m in models if m.get("name") == main), None)
    named = f"{main} (trained on {trained})" if trained and trained != "–" else main
    sentence = f"{named}, zero-shot (no labels in training): mean AUC over {over} {_joined(lead)}."
    if PROBE_FIGURE in rows.index:
        probe = [s for c in columns.values() if (s := _shown(rows.at[PROBE_FIGURE, c]))]
        if len(probe) == len(lead):
            sentence += (
                " With labels, a cross-validated linear probe on its embeddings reaches "
                f"{_joined(probe)}."
            )
    return sentence + (_compared(models, results, table) if models else "")
