"""bench_train_data on a tiny dataset: the batches are varied as training varies them, and every
timing path runs for both towers. No timing is asserted; the figures live in bench/RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_train_data  # noqa: E402
from model.data.dataset import CMRDataset  # noqa: E402
from model.nn.blocks import IntensityHistogram  # noqa: E402
from model.nn.presets import load_preset  # noqa: E402
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset  # noqa: E402


def test_batches_come_from_the_train_split_varied_like_training(tmp_path: Path) -> None:
    data = make_tiny_dataset(tmp_path / "data")
    preset = load_preset(str(write_tiny_preset(tmp_path / "tiny.json", sentence_drop=0.9)))
    batches, seconds = bench_train_data.load_batches(data, preset, steps=1)
    studies = CMRDataset.open(data).studies.set_index("study_id")
    ids = [study_id for batch in batches for study_id in batch["study_id"]]
    train = int((studies["split"] == "train").sum())
    assert [len(b["study_id"]) for b in batches] == [8, min(8, train - 8)]  # batch 8
    assert set(studies.loc[ids, "split"]) == {"train"} and seconds > 0
    texts = [text for batch in batches for text in batch["text"]]
    assert any(t != studies.loc[i, "impression"] for t, i in zip(texts, ids, strict=True))
    later, _ = bench_train_data.load_batches(data, preset, steps=1, epoch=1)
    assert [i for batch in later for i in batch["study_id"]] == ids  # same studies
    assert [t for batch in later for t in batch["text"]] != texts  # varied anew


@pytest.mark.parametrize(
    "extra",
    [[], ["--warm-epochs", "2", "--autocast-bf16", "--zero-histograms"]],
    ids=["plain", "every-option"],
)
def test_every_tower_prints_its_step_split(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
) -> None:
    data = make_tiny_dataset(tmp_path / "data")
    preset = write_tiny_preset(tmp_path / "tiny.json")
    argv = ["bench_train_data", "--data", str(data), "--preset", str(preset), "--steps", "1"]
    argv += extra
    monkeypatch.setattr(sys, "argv", argv)
    bench_train_data.main()
    lines = [line for line in capsys.readouterr().out.splitlines() if "trainer step" in line]
    assert [line.split()[1] for line in lines] == ["multiview", "flat"]
    assert all("video f+b" in line and "text f+b" in line for line in lines)


def test_zero_histograms_holds_only_while_active() -> None:
    histogram = IntensityHistogram(4, 8)
    frames = torch.rand(3, 8, 8)
    with bench_train_data.zero_histograms():
        assert torch.equal(histogram.features(frames), torch.zeros(3, 8))
    assert histogram.features(frames).abs().sum() > 0  # log shares: never all zero
