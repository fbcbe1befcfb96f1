"""Our BERT modules (``model.nn.bert``) against ``transformers``' ``BertModel`` on the shipped
MiniLM: same weight names, same outputs; and a text-model folder that cannot be read is one
clear message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from model.errors import UserError
from model.nn.bert import BertModel, load_bert_folder
from model.nn.minilm import load_tokenizer, text_model_dir

TEXTS = [
    "Severely dilated left ventricle with reduced systolic function.",
    "Normal.",
    "Subendocardial late gadolinium enhancement in the LAD territory, consistent with infarction.",
]


@pytest.fixture(scope="module")
def ours() -> BertModel:
    return load_bert_folder(text_model_dir())


def test_outputs_and_weight_names_match_transformers_bert(ours: BertModel) -> None:
    from transformers import BertModel as HFBertModel

    folder = text_model_dir()
    reference = HFBertModel.from_pretrained(folder, local_files_only=True).eval()
    assert not ours.training  # as from_pretrained leaves a model
    assert sorted(ours.state_dict()) == sorted(
        name for name in reference.state_dict() if not name.startswith("pooler.")
    )
    input_ids, attention_mask = load_tokenizer(folder).batch(TEXTS, max_length=512)
    with torch.no_grad():
        mine = ours(input_ids, attention_mask)
        theirs = reference(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    real = attention_mask.bool()
    torch.testing.assert_close(mine[real], theirs[real], atol=1e-5, rtol=1e-5)
    assert mine[~real].abs().sum() == 0


def test_dropout_is_on_only_in_training_mode(ours: BertModel) -> None:
    ids = torch.tensor([[101, 2187, 7905, 102]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        assert torch.equal(ours(ids, mask), ours(ids, mask))
        ours.train()
        try:
            assert not torch.equal(ours(ids, mask), ours(ids, mask))
        finally:
            ours.eval()


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(text_model_dir(), folder)
    return folder


def _edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | changes))


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda f: (f / "model.safetensors").unlink(), "cannot load the text model's weights"),
        (lambda f: (f / "model.safetensors").write_bytes(b"\0" * 64), "cannot load"),
        (lambda f: (f / "config.json").write_text("{"), "cannot read the text model's config"),
        (lambda f: _edit_config(f, model_type="roberta"), "model_type is 'roberta'"),
        (lambda f: _edit_config(f, hidden_act="relu"), "hidden_act is 'relu'"),
        (lambda f: _edit_config(f, num_hidden_layers=7), "does not hold the weights"),
        (lambda f: _edit_config(f, num_attention_heads=5), "not a multiple"),
    ],
)
def test_an_unusable_text_model_folder_is_one_clear_message(
    tmp_path: Path, damage, words: str
) -> None:
    folder = _copy(tmp_path)
    damage(folder)
    with pytest.raises(UserError, match=words):
        load_bert_folder(folder)
