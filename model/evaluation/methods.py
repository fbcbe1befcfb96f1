"""How an evaluation's figures were computed, in sentences a reader of the report can cite.

Built from the ``config`` record of ``summary.json`` (``runner._config_record``), so the report
and the dashboard state the same settings the run used: what was evaluated, with which labels
and prompts, the decision rule, the CI method with its number of resamples and seed, the few-shot
episodes, the probes' cross-validation and the retrieval rule; and, for a run that recorded them,
the software versions and the SHA-256 of its prompt set and labels files. ``site_line`` says
what was evaluated at each site, from the summary's ``sites`` records.
"""

from __future__ import annotations

from typing import Any

from model.provenance import shown_path
from model.wording import counted

# metrics.CALIBRATION_BINS, not imported: metrics needs scipy, which the dashboard never loads
CALIBRATION_BINS = 10


def _joined(values: Any) -> str:
    items = [str(v) for v in values] if isinstance(values, list | tuple) else []
    return ", ".join(items) if items else "none"


def _count(value: Any) -> str:
    """A count as the pages write one (1,000); anything else as it is."""
    return f"{value:,}" if isinstance(value, int) else str(value)


def site_line(site: dict[str, Any]) -> str:
    """What was evaluated at a site (a ``summary.json`` site record): its studies and, for a run
    that recorded them, their patients (the bootstrap's unit), the selection, and those with
    labels."""
    patients = site.get("n_patients")
    of_patients = f" of {counted(patients, 'patient')}" if patients is not None else ""
    notes = site.get("not_held_out")
    notes = notes if isinstance(notes, list) else []  # none recorded before 2026-12
    return (
        f"{counted(site.get('n_evaluated'), 'study')}{of_patients} evaluated "
        f"({site.get('selection')}) of {_count(site.get('n_total'))} in the dataset; "
        f"{_count(site.get('n_labelled'))} with labels" + "".join(f"; {note}" for note in notes)
    )


def _bootstrap(suite: dict[str, Any], unit: Any) -> str:
    """The CI sentence; ``unit`` is the config's ``bootstrap_unit``: "patient", or None for a run
    before it was recorded, whose bootstrap resampled studies."""
    resamples = int(suite.get("bootstrap") or 0)
    if resamples <= 0:
        return "Confidence intervals: none (run with --bootstrap 0)."
    over = (
        "the patients of each site (a drawn patient brings all of their studies, which are not "
        "independent)"
        if unit == "patient"
        else "the studies of each site"
    )
    return (
        f"Confidence intervals: 95% percentile bootstrap over {over}, {resamples} resamples, "
        f"seed {suite.get('seed')}; a resample that draws no study of a class has no AUC and is "
        "left out of the AUC's interval (auc_resamples counts those used). Accuracy, F1, "
        "sensitivity and specificity re-count the fixed p ≥ 0.5 decisions of the drawn studies; "
        "a resample with no positive study has no sensitivity and one with no negative study has "
        "no specificity, and each is left out of that interval (a subset of those the AUC's "
        "leaves out). Prevalence: every table gives n and n_positive."
    )


def _mean_intervals(suite: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The sentence on the headline means' intervals; none for a run without resamples, or one
    before those means had intervals."""
    if int(suite.get("bootstrap") or 0) <= 0 or not config.get("mean_intervals"):
        return []
    return [
        "Headline means over labels (mean AUC of the findings, zero-shot, linear probe, each "
        "few-shot method and k): 95% percentile bootstrap interval over the same resamples, "
        "one patient draw per site shared by all its labels: each label's AUC under a resample "
        "re-weights its known studies (a few-shot label's is its two-level resample), the "
        "resample's value is their mean over the labels the headline averages, and a resample "
        "in which one of those labels draws no study of a class is left out."
    ]


def _fewshot(fewshot: dict[str, Any], suite: dict[str, Any], interval: Any) -> str:
    """The few-shot sentence; ``interval`` is the config's ``fewshot_interval``: "episodes and
    patients", or None for a run before it was recorded, whose interval was mean ± 1.96 SE."""
    return (
        f"Few-shot: k = {_joined(fewshot.get('shots'))} studies of each class (drawn by study: "
        f"two of a support can be one patient's), {fewshot.get('episodes')} episodes per k (seed {fewshot.get('seed')}), every other "
        "labelled study of the site a query unless its patient has a study in the support; "
        "prototype (cosine to the class means; positive when closer to the positive one), "
        f"logistic (C = {fewshot.get('probe_c')}) and prompted (logistic with the zero-shot "
        f"logit as offset, C = {fewshot.get('prompted_c')}) probes (positive at p ≥ 0.5); mean "
        f"over episodes{_fewshot_interval(suite, interval)}. A k is skipped for a label with no "
        "more than k studies of a class; an episode whose support leaves no query of a class is "
        "left out (episodes counts those kept), and a k with none is skipped."
    )


def _fewshot_interval(suite: dict[str, Any], interval: Any) -> str:
    if interval != "episodes and patients":
        return (
            " with 95% CI mean ± 1.96 SE, the spread over support draws around the same query "
            "studies, not a sampling interval of the site's studies"
        )
    resamples = int(suite.get("bootstrap") or 0)
    if resamples <= 0:
        return ", without a CI (run with --bootstrap 0)"
    return (
        f" with a 95% two-level percentile bootstrap interval ({resamples} resamples, seed "
        f"{suite.get('seed')}): each resample draws the episodes with replacement and the "
        "site's patients with replacement, as the other intervals, and averages the drawn "
        "episodes' AUCs over their queries weighted by their patient's draws, so it covers both "
        "the supports drawn and the test patients (a drawn episode left with no query of a "
        "class is left out of that resample)"
    )


def _probe(probe: dict[str, Any], train_split: bool) -> str:
    c = probe.get("c")
    chosen = (
        f"fixed C = {c}"
        if c is not None
        else f"C chosen per fit by patient-grouped inner CV (lowest log-loss) from "
        f"{_joined(probe.get('c_grid'))}"
    )
    text = (
        "Linear probe: L2 logistic regression on the frozen embeddings standardised by the "
        "mean and SD of each fit's own training studies (never its test fold's), "
        f"{probe.get('folds')}-fold patient-grouped cross-validation on each site's evaluated "
        f"studies (seed {probe.get('seed')}), {chosen}. A finding or diagnosis class held by "
        "a single patient at a site is left out of its cross-validation (listed in the "
        "problems): the fold holding that patient would train without the class. The fits are "
        "unweighted (no class weights; each label's prevalence is its n_positive of n), and the "
        "interval resamples patients with the out-of-fold predictions fixed: the probes are not "
        "refitted per resample, so it leaves out the variation of refitting."
    )
    if train_split:
        text += (
            " Train-split probe: the same, fitted once on the internal dataset's labelled train "
            "and val studies (patients with a test-split study left out) and applied unchanged."
        )
    return text


def _retrieval_intervals(suite: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The retrieval CI sentence; none for a run without resamples, or one before its
    retrieval had intervals."""
    if int(suite.get("bootstrap") or 0) <= 0 or not config.get("retrieval_intervals"):
        return []
    return [
        "Retrieval intervals (R@k, median rank, precision@10 and its ceiling): 95% percentile "
        "bootstrap over the same patients and resamples, each query's rank and precision fixed "
        "(a resample weights the queries by how often their patient is drawn; nothing is "
        "ranked again); the chance level has none."
    ]


def _retrieval(config: dict[str, Any]) -> str:
    """The retrieval rule; ``retrieval_ties`` is None for a run before ties were broken at
    random, whose ranks counted every tie in the query's favour."""
    if config.get("retrieval_ties") == "random order, in expectation":
        ranks = (
            "a query's rank is the position of its first correct candidate with the candidates "
            "tied in similarity in random order, in expectation (R@k: the mean chance of rank ≤ "
            "k; median rank: of the expected ranks; precision@10 takes the candidates tied at "
            "the edge of its top 10 likewise)"
        )
    else:
        ranks = (
            "a query's rank is 1 + the wrong candidates scoring strictly above its best correct "
            "one, ties counted in the query's favour"
        )
    return (
        "Retrieval: a candidate with the same impression text (ignoring case and surrounding "
        f"spaces) counts as correct, so a repeated report is no error; {ranks}; R@k and median "
        "rank over every study with a report."
    )


def _comparison(config: dict[str, Any]) -> list[str]:
    """The paired comparison sentence; none for a run without a baseline."""
    if not config.get("compare") and not isinstance(config.get("general_clip"), dict):
        return []
    return [
        "Model comparison (comparison.csv): for each baseline, setting (zero-shot, linear "
        "probe, train-split probe) and finding, both models' AUCs on the studies both scored "
        "with the finding known, and the paired difference (main − baseline) with its 95% CI "
        "(difference ± 1.96 SE) and two-sided p-value by DeLong's test for correlated ROC AUCs "
        "(midrank components, Sun & Xu 2014; ties count one half), its variance summed per "
        "patient where a patient has several studies (Obuchowski 1997). The p-value refers "
        "the difference over its standard error to the standard normal distribution, a "
        "large-sample approximation: with few studies of a class, or AUCs near 1, the CI and "
        "p-value are approximate, and the CI can reach beyond what an AUC difference can be. "
        "P-values Holm-adjusted over the findings of one baseline and setting, not across "
        "settings or sites."
    ]


def _subgroups(suite: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The subgroup sentence; none for a run before subgroups were evaluated."""
    recorded = config.get("subgroups")
    if not isinstance(recorded, dict):
        return []
    minimum = recorded.get("min_class")
    resamples = int(suite.get("bootstrap") or 0)
    interval = (
        f"95% percentile bootstrap over the subgroup's patients ({resamples} resamples, seed "
        f"{suite.get('seed')}), one draw per resample shared by its findings as for the "
        "headline means"
        if resamples > 0
        else "no interval (run with --bootstrap 0)"
    )
    return [
        f"Subgroups ({_joined(recorded.get('variables'))}, as studies.parquet records them; a "
        "blank or unreadable value, or a field strength of 0, is 'unknown', counted as a value "
        "of its own): each zero-shot finding's AUC on the subgroup's studies where it is known, "
        f"with a {interval}; not estimable (no AUC given, its counts are) with under "
        f"{minimum} positive or {minimum} negative studies; the mean over findings of every "
        "value of a variable is over the same findings, those estimable in each of its values "
        "('unknown' and values with none aside), its interval from the same resamples, and its "
        "difference from the mean of the known value with most studies with the percentile "
        "interval of the resampled differences (the two values' patients drawn independently). "
        "A variable with one value at a site is marked: it compares nothing there."
    ]


def _paths(values: Any) -> str:
    """Files as a shareable report names them (``shown_path``: no user's folder names)."""
    paths = values if isinstance(values, list | tuple) else [values] if values else []
    return _joined([shown_path(path) for path in paths])


def _code(config: dict[str, Any]) -> list[str]:
    """The code version and threads sentence; none for a run before they were recorded."""
    if not config.get("code"):
        return []
    threads = config.get("threads") or {}
    counts = ", ".join(f"{name} {value}" for name, value in threads.items()) or "not recorded"
    device = f"; device: {config['device']}" if config.get("device") else ""
    return [
        f"Code: {config['code']}{device}; threads: {counts} (another device or thread count can "
        "change the last digits of a figure; the command line is in summary.json)."
    ]


def _provenance(config: dict[str, Any]) -> list[str]:
    """The software and input-file sentences; none for a run before they were recorded."""
    lines = _code(config)
    versions = config.get("versions")
    if isinstance(versions, dict) and versions:
        lines.append("Software: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    hashes = config.get("sha256")
    if isinstance(hashes, dict) and hashes:
        files = [
            f"{name} {_joined(value) if isinstance(value, list) else value}"
            for name, value in hashes.items()
        ]
        lines.append("Input files (SHA-256): " + "; ".join(files) + ".")
    return lines


def methods_lines(config: dict[str, Any]) -> list[str]:
    """One sentence per aspect of the run; empty for a config without a ``suite`` record, or
    without a ``labels`` one: a version before the methods were recorded wrote it, and its
    methods (probes, settings) may differ from those this version's sentences state."""
    suite = config.get("suite") if isinstance(config, dict) else None
    if not isinstance(suite, dict) or "labels" not in config:
        return []
    external = config.get("external") or []
    baselines = [shown_path(path) for path in config.get("compare") or []]
    general = config.get("general_clip")
    if isinstance(general, dict):
        weights = (
            shown_path(general.get("weights")) or "random weights: chance, not a pretrained CLIP"
        )
        baselines.append(f"general CLIP {general.get('model')} ({weights})")
    return [
        f"Model: {_paths(config.get('checkpoint'))}; baselines in the same tables: "
        f"{_joined(baselines)}.",
        f"Internal site: the test split of {_paths(config.get('data'))} (no train or val study "
        f"is evaluated); external sites (all studies): {_paths(external)}.",
        f"Labels: {_paths(config.get('labels'))}. Each label is evaluated on the studies where "
        "it is known; blank values are excluded and counted (counts table, n_unknown). A "
        "diagnosis is known when exactly one diagnosis column holds 1.",
        f"Prompt set: {_paths(config.get('prompts'))}.",
        "Zero-shot findings: p = sigmoid(scale · (cos(study, mean positive prompt) − "
        "cos(study, mean negative prompt))); accuracy, F1, sensitivity and specificity at "
        "p ≥ 0.5. Zero-shot diagnosis: arg-max of the softmax over the class prompts. A "
        "diagnosis class's one-vs-rest rows (task diagnosis, every setting) rank the studies by "
        "its probability and count a study as called that class when it is the arg-max. No "
        "threshold is chosen on labelled data.",
        _bootstrap(suite, config.get("bootstrap_unit")),
        *_mean_intervals(suite, config),
        "Calibration (brier, ece in the zero-shot and probe tables): Brier score and expected "
        f"calibration error over {CALIBRATION_BINS} equal-width bins of the predicted "
        "probability, point values without a CI.",
        _fewshot(suite.get("fewshot") or {}, suite, config.get("fewshot_interval")),
        _probe(suite.get("probe") or {}, bool(suite.get("train_split_probes"))),
        _retrieval(config),
        "Label-consistent precision@10 = share of a report's 10 top studies (those of its "
        "patient left out) whose known finding labels all equal its study's, with its ceiling (perfect ranking) and chance level on the same studies. "
        "R@k is left blank at a site with no more than k studies with a report, and "
        "precision@10 with its bounds at one with no more than 11: so few studies fix them "
        "whatever the model.",
        *_retrieval_intervals(suite, config),
        *_comparison(config),
        *_subgroups(suite, config),
        *_provenance(config),
    ]
