"""Study/text embeddings, the on-disk cache, and the embed and zeroshot commands."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import model.embed as embed_module
from model.cli import main as cli_main
from model.data.dataset import CMRDataset
from model.embed import StudyEmbeddings, cache_path, cached_study_embeddings, embed_texts
from model.training.checkpoint import load_checkpoint, read_checkpoint_meta, save_checkpoint
from tests.tiny_dataset import shared_tiny_checkpoint


@pytest.fixture(scope="module")
def setup() -> tuple[Path, Path]:
    return shared_tiny_checkpoint()


def test_cached_embeddings_are_unit_norm_and_reused(
    setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, checkpoint = setup
    ds = CMRDataset.open(data)
    first = cached_study_embeddings(checkpoint, ds)
    assert first.ids == ds.ids() and first.vectors.shape == (16, 32)
    np.testing.assert_allclose(np.linalg.norm(first.vectors, axis=1), 1.0, rtol=1e-5)
    path = cache_path(ds, read_checkpoint_meta(checkpoint).fingerprint)
    assert path.is_file() and path.parent == data / "embeddings"

    def refuse(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(embed_module, "embed_studies", refuse)
    again = cached_study_embeddings(checkpoint, ds)
    np.testing.assert_array_equal(again.vectors, first.vectors)


def test_text_embeddings_are_unit_norm(setup: tuple[Path, Path]) -> None:
    model, _ = load_checkpoint(setup[1])
    vectors = embed_texts(model, ["Dilated left ventricle.", "No pericardial effusion."])
    assert vectors.shape == (2, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert embed_texts(model, []).shape == (0, 32)


def test_small_text_requests_run_single_threaded_and_restore_threads(
    setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = load_checkpoint(setup[1])
    seen: list[int] = []
    encode = model.encode_text
    monkeypatch.setattr(
        model,
        "encode_text",
        lambda *a, **k: (seen.append(torch.get_num_threads()), encode(*a, **k))[1],
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # ./test.sh runs its workers with one thread: make a restore seen
    try:
        small = embed_texts(model, ["Dilated left ventricle."])
        large = embed_texts(
            model, ["Dilated left ventricle."] * (embed_module.SMALL_TEXT_BATCH + 1)
        )
        assert seen == [1, 2] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(small[0], large[0], rtol=1e-5, atol=1e-6)


def test_studies_embed_in_bf16_on_a_gpu_and_in_float32_on_a_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert embed_module.video_autocast(torch.device("cpu")).__class__.__name__ == "nullcontext"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    with warnings.catch_warnings():  # without a GPU, torch warns and disables it
        warnings.simplefilter("ignore")
        on_gpu = embed_module.video_autocast(torch.device("cuda", 0))
    assert isinstance(on_gpu, torch.autocast)
    assert (on_gpu.device, on_gpu.fast_dtype) == ("cuda", torch.bfloat16)


def test_embed_cli_writes_npz_and_parquet(setup: tuple[Path, Path], tmp_path: Path) -> None:
    data, checkpoint = setup
    for name in ("out.npz", "out.parquet"):
        code = cli_main(
            [
                "embed",
                "--checkpoint",
                str(checkpoint),
                "--data",
                str(data),
                "--out",
                str(tmp_path / name),
            ]
        )
        assert code == 0
    loaded = StudyEmbeddings.load(tmp_path / "out.npz")
    table = pd.read_parquet(tmp_path / "out.parquet")
    assert list(table["study_id"]) == loaded.ids
    np.testing.assert_allclose(table.drop(columns="study_id").to_numpy(), loaded.vectors)
    from_parquet = StudyEmbeddings.load(tmp_path / "out.parquet")
    assert from_parquet.ids == loaded.ids
    np.testing.assert_array_equal(from_parquet.vectors, loaded.vectors)


def test_embed_cli_rejects_a_foreign_checkpoint(setup: tuple[Path, Path], tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    code = cli_main(
        [
            "embed",
            "--checkpoint",
            str(bogus),
            "--data",
            str(setup[0]),
            "--out",
            str(tmp_path / "o.npz"),
        ]
    )
    assert code == 2 and not (tmp_path / "o.npz").exists()


def test_zeroshot_cli_writes_probabilities_and_metrics(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = setup
    out = tmp_path / "scores.csv"
    argv = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    assert cli_main([*argv, "--labels", str(data / "labels.csv")]) == 0
    scores = pd.read_csv(out)
    assert len(scores) == 16 and {"study_id", "site", "lge", "dx_hcm"} <= set(scores.columns)
    assert scores["lge"].between(0, 1).all()
    dx = scores[[c for c in scores.columns if c.startswith("dx_")]]
    np.testing.assert_allclose(dx.sum(axis=1), 1.0, rtol=1e-4)
    metrics = pd.read_csv(tmp_path / "scores_metrics.csv")
    assert {"model", "site", "Label", "Accuracy", "F1-score", "AUC"} <= set(metrics.columns)
    assert set(metrics["site"]) == {"all", "internal", "external"}
    # named as evaluate names it (every run has a best.pt), e.g. "run/last"
    assert set(metrics["model"]) == {f"{checkpoint.parent.name}/{checkpoint.stem}"}
    # without --labels the dataset's own labels.csv gives the same metrics
    given = metrics.copy()
    (tmp_path / "scores_metrics.csv").unlink()
    assert cli_main(argv) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "scores_metrics.csv"), given)
    # a run folder given for its checkpoint is named as a folder, not as missing
    assert cli_main([*argv[:2], str(checkpoint.parent), *argv[3:]]) == 2
    assert "is a folder; give its .pt file" in caplog.text
    # ... and its metadata sidecar (best.pt.meta.json) as its metadata, not as a broken pickle
    sidecar = f"{checkpoint}.meta.json"
    assert Path(sidecar).is_file()
    assert cli_main([*argv[:2], sidecar, *argv[3:]]) == 2
    assert f"{sidecar} is a checkpoint's metadata; give the checkpoint, {checkpoint.name}" in (
        caplog.text
    )


def test_zeroshot_cli_without_labels_anywhere_writes_probabilities_alone(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = setup
    unlabelled = tmp_path / "unlabelled"
    shutil.copytree(data, unlabelled, ignore=shutil.ignore_patterns("labels.csv"))
    out = tmp_path / "scores.csv"
    argv = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(unlabelled)]
    (tmp_path / "scores_metrics.csv").write_text("an earlier run's metrics")
    assert cli_main([*argv, "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 16
    assert not (tmp_path / "scores_metrics.csv").exists()  # not left beside the new scores
    # the dataset's own labels of diagnoses alone (an ACDC ingest's), or of other studies, are
    # no error either: they were not asked for
    table = pd.read_csv(data / "labels.csv", dtype=str)
    table[["accession_number", "normal", "hcm"]].to_csv(unlabelled / "labels.csv", index=False)
    assert cli_main([*argv, "--out", str(out)]) == 0
    table.assign(accession_number="OTHER" + table["accession_number"]).to_csv(
        unlabelled / "labels.csv", index=False
    )
    with caplog.at_level(logging.WARNING):
        assert cli_main([*argv, "--out", str(out)]) == 0
    assert "matches the dataset's linkage.csv: probabilities only" in caplog.text
    assert not (tmp_path / "scores_metrics.csv").exists()


def test_zeroshot_cli_says_why_a_finding_has_no_auc(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A hospital's label column of one class (every known value 0) left a bare NaN AUC."""
    data, checkpoint = setup
    labels = tmp_path / "labels.csv"
    table = pd.read_csv(data / "labels.csv", dtype=str)
    table.assign(lge="0").to_csv(labels, index=False)
    out = tmp_path / "s.csv"
    argv = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    with caplog.at_level(logging.WARNING):
        assert cli_main([*argv, "--labels", str(labels)]) == 0
    metrics = pd.read_csv(tmp_path / "s_metrics.csv")
    assert metrics[metrics["Label"] == "lge"]["AUC"].isna().all()
    said = [r.getMessage() for r in caplog.records if "lge" in r.getMessage()]
    assert said == ["lge: no AUC: every one of its 16 studies with a known label is 0"]


def test_zeroshot_cli_rejects_bad_labels(setup: tuple[Path, Path], tmp_path: Path) -> None:
    data, checkpoint = setup
    labels = tmp_path / "labels.csv"
    labels.write_text("accession_number,lge\nACC9,2\n")
    argv = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(data)]
    assert cli_main([*argv, "--labels", str(labels), "--out", str(tmp_path / "s.csv")]) == 2
    labels.write_text("study,lge\nx,1\n")
    assert cli_main([*argv, "--labels", str(labels), "--out", str(tmp_path / "s.csv")]) == 2
    assert not (tmp_path / "s.csv").exists()


def test_zeroshot_cli_labels_without_a_finding_column_are_one_line_before_any_work(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = setup
    diagnoses_only = tmp_path / "diagnoses.csv"  # as an ACDC ingest writes its labels
    table = pd.read_csv(data / "labels.csv", dtype=str)
    table[["accession_number", "normal", "hcm"]].to_csv(diagnoses_only, index=False)
    out = tmp_path / "s.csv"
    argv = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    with caplog.at_level(logging.ERROR):
        assert cli_main([*argv, "--labels", str(diagnoses_only)]) == 2
    assert f"labels file {diagnoses_only} has no column for a finding of the prompt set" in (
        caplog.text
    )
    assert "its columns: normal, hcm" in caplog.text
    assert not out.exists() and not (tmp_path / "s_metrics.csv").exists()


def test_a_dataset_that_cannot_take_the_cache_is_still_embedded(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A dataset shared read-only (here: its cache folder cannot be created) embeds all the same."""
    data, checkpoint = setup
    shared = tmp_path / "shared"
    shutil.copytree(data, shared, ignore=shutil.ignore_patterns("embeddings"))
    (shared / "embeddings").write_text("not a folder")
    out = tmp_path / "emb.npz"
    with caplog.at_level(logging.WARNING):
        assert (
            cli_main(
                ["embed", "--checkpoint", str(checkpoint), "--data", str(shared), "--out", str(out)]
            )
            == 0
        )
    written = StudyEmbeddings.load(out)
    assert written.ids == CMRDataset.open(shared).ids() and written.vectors.shape == (16, 32)
    assert "embedding cache" in caplog.text and "not written" in caplog.text
    assert (shared / "embeddings").read_text() == "not a folder"


def test_a_damaged_embedding_cache_is_recomputed_not_fatal(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = setup
    copy = tmp_path / "data"
    shutil.copytree(data, copy, ignore=shutil.ignore_patterns("embeddings"))
    ds = CMRDataset.open(copy)
    good = cached_study_embeddings(checkpoint, ds)
    cache = cache_path(ds, read_checkpoint_meta(checkpoint).fingerprint)
    cache.write_bytes(cache.read_bytes()[:100])  # a bad sector, a copy cut short
    with caplog.at_level(logging.WARNING):
        again = cached_study_embeddings(checkpoint, ds)
    assert again.ids == good.ids and np.allclose(again.vectors, good.vectors, atol=1e-6)
    assert "is unreadable" in caplog.text and "recomputing" in caplog.text
    assert StudyEmbeddings.load(cache).ids == good.ids  # the cache is whole again


def test_embed_cli_refuses_a_dataset_without_studies(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = setup
    empty = tmp_path / "empty"
    shutil.copytree(data, empty, ignore=shutil.ignore_patterns("embeddings"))
    studies = pd.read_parquet(empty / "studies.parquet")
    studies.iloc[:0].to_parquet(empty / "studies.parquet", index=False)
    out = tmp_path / "emb.npz"
    argv = ["embed", "--checkpoint", str(checkpoint), "--data", str(empty), "--out", str(out)]
    with caplog.at_level(logging.ERROR):
        assert cli_main(argv) == 2
    assert f"dataset {empty} holds no studies to embed" in caplog.text
    assert not out.exists() and not (empty / "embeddings").exists()


def test_zeroshot_cli_refuses_a_split_without_studies(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = setup
    no_test = tmp_path / "no-test"
    shutil.copytree(data, no_test, ignore=shutil.ignore_patterns("embeddings"))
    studies = pd.read_parquet(no_test / "studies.parquet")
    studies[studies["split"] != "test"].to_parquet(no_test / "studies.parquet", index=False)
    out = tmp_path / "scores.csv"
    argv = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(no_test), "--out", str(out)]
    with caplog.at_level(logging.ERROR):
        assert cli_main([*argv, "--split", "test"]) == 2
    assert f"dataset {no_test} holds no studies in the test split to score" in caplog.text
    assert not out.exists() and not (tmp_path / "scores_metrics.csv").exists()


def test_an_embed_job_whose_checkpoint_is_replaced_files_nothing_under_the_old_name(
    setup: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The dashboard names the job's --out after the checkpoint it read (the cache key); a
    running training replaces best.pt after that: the new weights' embeddings must not be
    filed under the old weights' name, where a copy of the old weights (last.pt) finds them."""
    import model.training.checkpoint as checkpoint_module

    data = Path(shutil.copytree(setup[0], tmp_path / "data", ignore=shutil.ignore_patterns("emb*")))
    checkpoint = Path(shutil.copy(setup[1], tmp_path / "best.pt"))
    ds = CMRDataset.open(data)
    named = cache_path(ds, read_checkpoint_meta(checkpoint).fingerprint)  # as the page names it
    model, meta = load_checkpoint(checkpoint)
    with torch.no_grad():
        next(model.visual.parameters()).add_(0.5)  # a later training step
    replacement = tmp_path / "next-best.pt"
    replaced = save_checkpoint(
        replacement, model, meta.config, data_fingerprint=meta.data_fingerprint, epoch=1, step=3
    )
    load = checkpoint_module.load_checkpoint

    def replaced_before_the_load(path: str | Path, **kwargs: object) -> object:
        shutil.copy(replacement, path)  # the training writes its new best.pt now
        return load(path, **kwargs)

    monkeypatch.setattr(checkpoint_module, "load_checkpoint", replaced_before_the_load)
    argv = ["embed", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(named)]
    with caplog.at_level(logging.ERROR):
        code = cli_main(argv)
    if named.exists():
        assert StudyEmbeddings.load(named).provenance["checkpoint_fingerprint"] != replaced
    assert code == 2 and "names the embedding cache of other weights" in caplog.text
    assert cache_path(ds, replaced).is_file()  # the new weights' embeddings, by their own name
    assert cache_path(ds, replaced).name in caplog.text
