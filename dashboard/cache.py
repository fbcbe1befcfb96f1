"""The dashboard's shared cached resources (``st.cache_*``; Few-shot's own: ``few_shot.py``).

Each function is keyed by file paths plus a ``version`` (modification times, computed by the
caller with ``version_of``), so a retrained checkpoint or a re-ingested dataset is picked up
without restarting the dashboard, while reruns with nothing changed cost nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.cine import cine_player_html
from dashboard.evaluation_view import EvaluationOutputs, read_models, read_outputs
from dashboard.file_versions import append_version as append_version
from dashboard.file_versions import file_identity as file_identity
from dashboard.file_versions import version_of as version_of
from dashboard.gpus import detect_gpus
from dashboard.scoring import (
    CachedTextEncoder,
    FindingEvaluation,
    Scores,
    evaluate_finding,
    score_all,
)
from model.errors import DataError
from model.labels import labels_by_study, read_labels_csv
from model.projection import Projection, ProjectionConfig
from model.prompt_reading import ReportSentences

HUNG_READ_RECHECK_S = 300.0  # how long a verdict that reading the index hung is kept

if TYPE_CHECKING:
    from model.index.client import ChromaLocation
    from model.index.embedding_index import EmbeddingIndex
    from model.index.read_check import ReadCheck


@st.cache_resource(show_spinner="Opening the dataset…", max_entries=4)
def dataset(path: str, version: tuple[float, ...]) -> Any:
    """The opened ``CMRDataset`` (studies table in memory, tensors memory-mapped)."""
    from model.data.dataset import CMRDataset

    return CMRDataset.open(path)


def studies(path: str, version: tuple[float, ...]) -> pd.DataFrame:
    """The dataset's studies table (one row per study), read once with the dataset.

    A shallow copy: pandas copies on write, so a caller's changes never reach the cached table,
    and nothing is copied for the many that only read it (``st.cache_data`` unpickled a whole
    copy on every call: a quarter of a second per call at 50,000 studies, twice a rerun)."""
    return dataset(path, version).studies.copy(deep=False)


@st.cache_data(show_spinner=False, max_entries=4)
def embedding_file(
    path: str, version: tuple[float, ...], checkpoint: str, ckpt_version: tuple[float, ...]
) -> str:
    """Where the study embeddings of this checkpoint + dataset are (or will be) cached on disk."""
    from model.checkpoint_meta import read_checkpoint_meta
    from model.study_embeddings import cache_path

    meta = read_checkpoint_meta(checkpoint)
    return str(cache_path(dataset(path, version), meta.fingerprint))


@st.cache_resource(show_spinner="Loading study embeddings…", max_entries=4)
def study_embeddings(path: str, version: tuple[float, ...]) -> Any:
    """``StudyEmbeddings`` read from an ``.npz`` cache file (ids, vectors float32 [N, D])."""
    from model.study_embeddings import StudyEmbeddings

    return StudyEmbeddings.load(path)


@st.cache_resource(show_spinner="Loading the checkpoint…", max_entries=2)
def checkpoint_model(path: str, version: tuple[float, ...]) -> tuple[Any, Any]:
    """(model in eval mode on CPU, CheckpointMeta); loaded with ``torch.load(weights_only=True)``."""
    from model.training.checkpoint import load_checkpoint

    return load_checkpoint(path, device="cpu")


@st.cache_resource(show_spinner=False, max_entries=4)
def text_encoder(path: str, version: tuple[float, ...], folder: str) -> CachedTextEncoder:
    """The checkpoint's text tower behind a per-text cache, in memory and in the store of the
    dataset's ``embeddings/`` folder ``folder`` (``model.text_store``): the model is built only
    for a text neither holds."""
    from model.checkpoint_meta import read_checkpoint_meta
    from model.text_store import TextStore, read_texts

    store = TextStore(Path(folder), read_checkpoint_meta(path).fingerprint)

    def read(texts: list[str]) -> dict:
        model, meta = checkpoint_model(path, version)
        if meta.fingerprint != store.fingerprint:  # replaced since: never stored as the other's
            store.close(f"{path} was replaced while it was read")
        return read_texts(model, texts)

    return CachedTextEncoder(read, store)


@st.cache_data(
    show_spinner="Reading the reports' sentences (once per checkpoint and dataset)…", max_entries=2
)
def report_sentences(
    path: str, version: tuple[float, ...], checkpoint: str, ckpt_version: tuple[float, ...]
) -> ReportSentences:
    """The dataset's unique impression sentences embedded by the checkpoint's text tower: read
    back from beside its study embeddings when kept there (``model.sentence_store``), else
    encoded by the model, built only then."""
    from model.sentence_store import stored_report_sentences

    def encode(texts: list[str]) -> np.ndarray:
        from model.embed import embed_texts

        return embed_texts(checkpoint_model(checkpoint, ckpt_version)[0], texts)

    cache_file = Path(embedding_file(path, version, checkpoint, ckpt_version))
    impressions = studies(path, version).get("impression", pd.Series(dtype=str))
    fingerprint = str(checkpoint_summary(checkpoint, ckpt_version)["fingerprint"])
    return stored_report_sentences(cache_file, fingerprint, impressions, encode)


@st.cache_data(show_spinner="Scoring every study with the prompts…", max_entries=16)
def zero_shot_scores(
    embeddings_path: str,
    embeddings_version: tuple[float, ...],
    checkpoint: str,
    checkpoint_version: tuple[float, ...],
    prompts_yaml: str,
) -> tuple[Scores, float, float]:
    """(scores of every study under the prompt set, milliseconds the scoring took, the wall
    clock time it finished: earlier than a call means the call was answered from the cache).

    Keyed by the prompt set's YAML, so a rerun without an edit (a threshold slider, another
    finding) costs a cache lookup, and toggling back to an earlier wording is instant.
    """
    from model.prompts import PromptSet

    emb = study_embeddings(embeddings_path, embeddings_version)
    start = time.perf_counter()
    scores = score_all(
        emb.ids,
        emb.vectors,
        PromptSet.loads(prompts_yaml),
        text_encoder(checkpoint, checkpoint_version, str(Path(embeddings_path).parent)),
        logit_scale(checkpoint, checkpoint_version),
    )
    return scores, (time.perf_counter() - start) * 1000, time.time()


@st.cache_data(show_spinner=False, max_entries=64)
def finding_evaluation(
    key: str, threshold: float, _probs: pd.Series, _labels: pd.Series, _patients: pd.Series
) -> FindingEvaluation | None:
    """``evaluate_finding`` (patient bootstrap CI) memoised on the threshold and ``key``, the
    ``content_key`` of the three Series (hashed by Streamlit: 0.37 s a rerun at 20,000 studies)."""
    return evaluate_finding(_probs, _labels, threshold, patients=_patients)


@st.cache_data(show_spinner=False, max_entries=128)
def run_metrics(run: str, version: tuple[int, ...]) -> pd.DataFrame:
    """The run folder ``run``'s metrics.jsonl as a table, parsed once per ``version`` of the file
    (``append_version``): the Train page lists every run's metrics every 5 s, and only a live
    run's file changes."""
    from model.training.run_folder import RunFolder

    return pd.DataFrame(RunFolder(Path(run)).read_metrics())


@st.cache_data(show_spinner=False, max_entries=4)
def evaluation_outputs(folder: str, version: tuple[float, ...]) -> EvaluationOutputs:
    """Every table, figure and summary of one evaluation folder (``read_outputs``), read once
    per version of its ``summary.json`` (which an evaluation writes last)."""
    return read_outputs(Path(folder))


@st.cache_data(show_spinner=False, max_entries=256)
def evaluation_models(folder: str, version: tuple[float, ...]) -> list[str] | None:
    """``read_models`` of one evaluation folder, read once per version of its ``summary.json``
    (the picker lists every evaluation on each rerun)."""
    return read_models(Path(folder))


@st.cache_data(show_spinner=False, max_entries=2)
def logit_scale(path: str, version: tuple[float, ...]) -> float:
    """The checkpoint's learned softmax scale exp(logit_scale), capped at 100 as in CLIP, read
    from its sidecar or weights (``model.zeroshot.checkpoint_scale``): no model is built."""
    from model.zeroshot import checkpoint_scale

    return checkpoint_scale(path)


@st.cache_data(show_spinner=False, max_entries=2)
def checkpoint_summary(path: str, version: tuple[float, ...]) -> dict[str, Any]:
    """Checkpoint metadata for display: fingerprint, epoch, step, tower kind, embedding size."""
    from model.checkpoint_meta import read_checkpoint_meta
    from model.nn.config import TextTowerConfig

    meta = read_checkpoint_meta(path)
    model_cfg = meta.config.get("model", {})
    return {
        "fingerprint": meta.fingerprint,
        "data_fingerprint": meta.data_fingerprint,
        "epoch": meta.epoch,
        "step": meta.step,
        "tower": model_cfg.get("video", {}).get("kind", "?"),
        "embed_dim": model_cfg.get("embed_dim", "?"),
        "context_length": (model_cfg.get("text") or {}).get(
            "context_length", TextTowerConfig.context_length
        ),
    }


@st.cache_resource(show_spinner="Opening the case index…", max_entries=4)
def case_index(
    _location: ChromaLocation,
    where: str,
    fingerprint: str,
    checkpoint: str,
    version: tuple[float, ...],
    database: tuple[int, ...],
    texts_folder: str,
    unreadable: frozenset[str] = frozenset(),
) -> EmbeddingIndex:
    """The case index of a checkpoint (keyed by ``where`` = the location's description and the
    checkpoint ``fingerprint``), reading an existing Chroma folder or server: it never creates one.

    The client is reopened when another process (the index job) has written a new revision. An
    embedded folder deleted and rebuilt has a new ``database`` file identity, hence a new handle,
    opened afresh: Chroma would otherwise hand back its cached view of the deleted files; the
    collections that crash a reader (``unreadable``) are never read through it. Text
    queries go through the checkpoint's cached text tower, loaded on the first text search.
    """
    from model.index.client import reopen_client
    from model.index.embedding_index import EmbeddingIndex

    def encode(text: str) -> np.ndarray:
        return text_encoder(checkpoint, version, texts_folder)([text], keep=False)[0]  # typed

    return EmbeddingIndex(
        reopen_client(_location),
        fingerprint,
        text_encoder=encode,
        reopen=lambda: reopen_client(_location),
        unreadable=unreadable,
    )


def index_damage(location: ChromaLocation, where: str, state: tuple) -> dict[str, str]:
    """Which collections of the embedded folder ``where`` crash or hang whoever reads it, and
    why (``model.index.read_check.check_folder``): checked in child processes once per folder
    ``state`` (``folder_state``), for every session and checkpoint. A read that only hung is
    checked again after ``HUNG_READ_RECHECK_S`` (the machine may have been overloaded, not the
    index damaged); a crash stays the verdict until the folder changes."""
    check = _index_check(location, where, state)
    if check.hung and time.time() - check.checked > HUNG_READ_RECHECK_S:
        _index_check.clear(location, where, state)
        check = _index_check(location, where, state)
    return check.damaged


@st.cache_data(show_spinner="Checking the case index…", max_entries=8)
def _index_check(_location: ChromaLocation, where: str, state: tuple) -> ReadCheck:
    from model.index.read_check import check_folder

    return check_folder(_location)


@st.cache_resource(
    show_spinner="Computing the map (once per checkpoint, dataset and method)…", max_entries=4
)
def projection(embeddings_path: str, version: tuple[float, ...], method: str) -> Projection:
    """UMAP (cosine) or PCA of the cached study embeddings, fitted on a sample once and kept
    beside the cache file (``model.projection_store``): a new process reads it back."""
    from model.projection_store import stored_projection

    emb = study_embeddings(embeddings_path, version)
    config = ProjectionConfig(method=method)
    return stored_projection(Path(embeddings_path), emb.ids, emb.vectors, config)


@st.cache_data(show_spinner=False, max_entries=4)
def labels_file(labels_csv: str, labels_version: tuple[float, ...]) -> pd.DataFrame | DataError:
    """The labels file ``labels_csv`` parsed (``read_labels_csv``), or the ``DataError`` saying
    why it cannot be, once per version (``version_of``): ``labels`` and ``labels_prints``."""
    try:
        return read_labels_csv(labels_csv)
    except DataError as err:
        return err


@st.cache_data(show_spinner=False, max_entries=4)
def labels(
    path: str, version: tuple[float, ...], labels_csv: str, labels_version: tuple[float, ...]
) -> pd.DataFrame:
    """``labels_csv`` (``labels_file``) joined to the dataset's studies (``labels_by_study``)."""
    parsed = labels_file(labels_csv, labels_version)
    if isinstance(parsed, DataError):
        raise parsed
    return labels_by_study(Path(labels_csv), dataset(path, version).linkage(), parsed)


@st.cache_data(show_spinner=False, max_entries=4)
def labels_prints(
    path: str, version: tuple[float, ...], labels_csv: str, labels_version: tuple[float, ...]
) -> tuple[str, str]:
    """The dataset's own labels file ``labels_csv`` as the case index takes it
    (``model.index.held_datasets.own_labels_prints``; ("", "") when it cannot be read)."""
    from model.index.held_datasets import own_labels_prints

    parsed = labels_file(labels_csv, labels_version)
    if isinstance(parsed, DataError):
        return "", ""
    return own_labels_prints(Path(path), dataset(path, version).linkage(), parsed)


@st.cache_data(show_spinner=False, max_entries=64)
def case_player(
    path: str, version: tuple[float, ...], study_id: str, views: tuple[str, ...]
) -> str:
    """Cine-player HTML of one study's ``views`` (see dashboard/cine.py)."""

    frames = study_frames(path, version, study_id)
    chosen = {name: frames[name] for name in views if name in frames}
    return cine_player_html(chosen) if chosen else ""


@st.cache_data(show_spinner=False, max_entries=256)
def study_frames(path: str, version: tuple[float, ...], study_id: str) -> dict[str, np.ndarray]:
    """Present views of one study: name -> uint8 frames [T_valid, H, W]."""
    from dashboard.studies import view_frames

    ds = dataset(path, version)
    counts = ds.row(study_id).get("view_frames")  # not a re-indexed table per case card
    return view_frames(
        np.asarray(ds.load_video(study_id)), None if counts is None else list(counts)
    )


@st.cache_data(show_spinner=False, ttl=60)
def gpus() -> list[str]:
    """Visible NVIDIA GPUs (re-checked at most once a minute)."""
    return detect_gpus()
