"""Negation hard negatives: the contradiction rules, the loss against a plain reference on seeded
data, its effect on a two-way choice, and a real two-process gloo group."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from model.negation import contradict, contradict_all
from model.nn.negation_loss import NegationLoss

WORLD = 2
LOCAL_BATCH = 3
OWNER = [0, 0, 1, 2, 2, 2, 3, 4, 4, 5]  # sentences per study are ragged across the two ranks


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("No LV hypertrophy.", "LV hypertrophy."),
        ("No late gadolinium enhancement.", "Late gadolinium enhancement."),
        ("No evidence of cardiomyopathy.", "Evidence of cardiomyopathy."),
        ("There is no pericardial effusion.", "There is pericardial effusion."),
        ("The left ventricle is not dilated.", "The left ventricle is dilated."),
        (
            "Simple hepatic cyst, of no clinical significance.",
            "Simple hepatic cyst, of clinical significance.",
        ),  # fmt: skip
        ("LV cavity size within normal limits.", "LV cavity size outside normal limits."),
        ("Non-dilated left ventricle", "Dilated left ventricle"),
        (
            "Likely non-ischaemic dilated cardiomyopathy.",
            "Likely ischaemic dilated cardiomyopathy.",
        ),  # fmt: skip
        ("Normal RV size and function.", "Abnormal RV size and function."),
        ("Structurally normal heart.", "Structurally abnormal heart."),
        ("Preserved LVEF (63%).", "Impaired LVEF (63%)."),
        ("The right ventricle is dilated.", "The right ventricle is not dilated."),
        ("Concentric LV hypertrophy.", "No concentric LV hypertrophy."),
        ("LVEF 35%.", "No LVEF 35%."),
        ("Pericardial effusion", "No pericardial effusion"),
    ],
)
def test_contradiction_rules(sentence: str, expected: str) -> None:
    assert contradict(sentence) == expected


def test_a_late_non_prefix_qualifies_a_detail_and_is_kept() -> None:
    sentence = "Transmural LGE of the anterior wall; non-viable myocardium."
    assert contradict(sentence) == "No transmural LGE of the anterior wall; non-viable myocardium."


@pytest.mark.parametrize("sentence", ["No LGE.", "Dilated RV.", "Normal LV size.", "x", ""])
def test_a_contradiction_always_differs(sentence: str) -> None:
    assert contradict(sentence) != sentence
    assert contradict_all([sentence, sentence]) == [contradict(sentence)] * 2


def features(seed: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    video = F.normalize(torch.randn(6, 8, generator=generator), dim=1)
    sentences = F.normalize(torch.randn(len(OWNER), 8, generator=generator), dim=1)
    contradictions = F.normalize(torch.randn(len(OWNER), 8, generator=generator), dim=1)
    return video.double(), sentences.double(), contradictions.double()


def reference_loss(video, sentences, contradictions, scale: float) -> float:
    """Two-way softmax per sentence, target the sentence, averaged with plain Python loops."""
    total = 0.0
    for s, b in enumerate(OWNER):
        own = scale * float(video[b] @ sentences[s])
        other = scale * float(video[b] @ contradictions[s])
        total += -(own - math.log(math.exp(own) + math.exp(other)))
    return total / len(OWNER)


def test_matches_the_reference_on_seeded_data() -> None:
    video, sentences, contradictions = features()
    loss = NegationLoss()(
        video,
        sentences,
        contradictions,
        torch.tensor(6.0, dtype=torch.float64),
        torch.tensor(OWNER),
    )
    assert loss.item() == pytest.approx(reference_loss(video, sentences, contradictions, 6.0), rel=1e-9)  # fmt: skip


def test_a_study_aligned_with_its_sentences_scores_lower_than_with_their_contradictions() -> None:
    video, _, contradictions = features()
    owner = torch.tensor(OWNER)
    aligned = F.normalize(video[owner] + 0.1 * torch.randn(len(OWNER), 8, dtype=torch.float64), dim=1)  # fmt: skip
    scale = torch.tensor(10.0, dtype=torch.float64)
    good = NegationLoss()(video, aligned, contradictions, scale, owner)
    swapped = NegationLoss()(video, contradictions, aligned, scale, owner)
    assert good < math.log(2.0) < swapped


def test_mismatched_shapes_are_refused() -> None:
    video, sentences, contradictions = features()
    with pytest.raises(ValueError, match="exactly one contradiction"):
        NegationLoss()(
            video, sentences, contradictions[:-1], torch.tensor(1.0), torch.tensor(OWNER)
        )
    with pytest.raises(ValueError, match="same length"):
        NegationLoss()(
            video, sentences, contradictions, torch.tensor(1.0), torch.tensor(OWNER[:-1])
        )


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    """One rank: its studies and their (ragged) sentences; saves the loss and gradients."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        video, sentences, contradictions = features()
        owner = torch.tensor(OWNER)
        rows = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
        mine = (owner >= rows.start) & (owner < rows.stop)
        local_video = video[rows].clone().requires_grad_(True)
        local_sentences = sentences[mine].clone().requires_grad_(True)
        loss = NegationLoss(gather_with_grad=True)(
            local_video, local_sentences, contradictions[mine],
            torch.tensor(5.0, dtype=torch.float64), owner[mine] - rows.start,
        )  # fmt: skip
        loss.backward()
        torch.save(
            {"loss": loss.detach(), "video": local_video.grad, "text": local_sentences.grad},
            Path(out_dir) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def test_two_ranks_match_the_full_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    video, sentences, contradictions = features()
    video.requires_grad_(True)
    sentences.requires_grad_(True)
    scale = torch.tensor(5.0, dtype=torch.float64)
    full = NegationLoss()(video, sentences, contradictions, scale, torch.tensor(OWNER))
    full.backward()
    for result in results:  # every rank computes the global loss
        assert float(result["loss"]) == pytest.approx(full.item(), rel=1e-9)
    got_video = torch.cat([r["video"] for r in results])
    got_text = torch.cat([r["text"] for r in results])
    torch.testing.assert_close(got_video, video.grad * WORLD, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(got_text, sentences.grad * WORLD, rtol=1e-6, atol=1e-9)
