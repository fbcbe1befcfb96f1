"""Our WordPiece tokenizer (``model.nn.wordpiece``) against ``transformers``' ``BertTokenizerFast``
on the shipped MiniLM folder: the same ids, attention masks, lengths, character offsets and
unknown pieces, on the shipped prompts, tiny-dataset reports and texts chosen to differ (long,
empty, other scripts, accents, control characters); and building the text tower imports no
``transformers``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from model.errors import UserError
from model.nn.minilm import text_model_dir
from model.nn.wordpiece import WordPieceTokenizer
from model.prompts import DEFAULT_PROMPTS, PARAPHRASE_PROMPTS, PromptSet
from tests.tiny_dataset import make_tiny_dataset

REPO = Path(__file__).resolve().parent.parent
ODD = [
    "",
    "   ",
    "Normal.",
    "Dilated LV, Größe normal; no LGE.",
    "左心室扩大 (LV) — ÉCHO normal, naïve café",
    "Tab\tand\nnew line,\x00 a NUL and \x7f DEL; zero\u200bwidth",
    "LVEF 35% (EDV 210 mL/m²), 3–4 mm effusion!!",
    "ventricle " * 200,  # past MiniLM's 512 pieces
    "dilated left ventricle with severely reduced systolic function " * 12,
    "Mr. O'Neill-Smith's scan: Grey. emoji 🫀 and ﬁ ligature",
]


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    data = make_tiny_dataset(tmp_path_factory.mktemp("data"), n=24, seed=1)
    reports = pd.read_parquet(data / "studies.parquet")["impression"].dropna().tolist()
    prompts = [t for path in (DEFAULT_PROMPTS, PARAPHRASE_PROMPTS) for t in _prompts(path)]
    return [*reports, *prompts, *ODD]


def _prompts(path: Path) -> list[str]:
    return PromptSet.load(path).all_texts()


@pytest.fixture(scope="module")
def ours() -> WordPieceTokenizer:
    return WordPieceTokenizer(text_model_dir())


@pytest.fixture(scope="module")
def reference():
    from transformers import BertTokenizerFast

    return BertTokenizerFast.from_pretrained(text_model_dir(), local_files_only=True)


@pytest.mark.parametrize("max_length", [4, 16, 77, 512])
def test_batches_match_transformers(ours, reference, texts: list[str], max_length: int) -> None:
    input_ids, attention_mask = ours.batch(texts, max_length)
    expected = reference(
        texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    assert input_ids.dtype == attention_mask.dtype == torch.long
    assert torch.equal(input_ids, expected["input_ids"])
    assert torch.equal(attention_mask, expected["attention_mask"])
    offsets = ours.offsets(texts, max_length)
    expected_offsets = reference(
        texts, truncation=True, max_length=max_length, return_offsets_mapping=True
    )["offset_mapping"]
    assert offsets == [[tuple(span) for span in row] for row in expected_offsets]


def test_lengths_pieces_and_tokens_match_transformers(ours, reference, texts: list[str]) -> None:
    assert ours.lengths(texts) == [len(ids) for ids in reference(texts)["input_ids"]]
    assert max(ours.lengths(texts)) > ours.model_max_length == reference.model_max_length
    for text in texts:
        plain = reference(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, spans = [list(x) for x in zip(*ours.pieces(text), strict=True)] or ([], [])
        assert ids == plain["input_ids"]
        assert [tuple(s) for s in spans] == [tuple(s) for s in plain["offset_mapping"]]
        assert ours.tokens(ids) == reference.convert_ids_to_tokens(ids)
    assert ours.unk_token_id == reference.unk_token_id
    assert ours.pad_token_id == reference.pad_token_id


def test_a_call_leaves_the_next_one_as_it_was(ours: WordPieceTokenizer) -> None:
    """Nothing is set per call (threads share the tokenizer): a short cut, then no cut."""
    long = "heart " * 20  # one piece a word
    assert ours.batch([long], 8)[0].shape == (1, 8)
    assert ours.batch([long], 64)[0].shape == (1, 22)
    assert ours.lengths([long]) == [22]


def test_building_the_text_tower_imports_no_transformers() -> None:
    code = (
        "import sys\n"
        "from model.nn.config import TextTowerConfig\n"
        "from model.nn.text_tower import TextTower\n"
        "tower = TextTower(TextTowerConfig(), 16)\n"
        "tower.tokenize(['Dilated LV.'])\n"
        "print('transformers' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def _rename_unk(folder: Path) -> None:
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps(config | {"unk_token": "[NONE]"}))


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda f: (f / "tokenizer.json").unlink(), "cannot read the text model's tokenizer "),
        (lambda f: (f / "tokenizer.json").write_text("{"), "cannot read the text model's tok"),
        (lambda f: (f / "tokenizer_config.json").write_bytes(b"\xff"), "tokenizer config"),
        (lambda f: (f / "tokenizer_config.json").write_text("[]"), "is not a JSON object"),
        (_rename_unk, r"has no \[NONE\]"),
    ],
)
def test_an_unusable_tokenizer_is_one_clear_message(tmp_path: Path, damage, words: str) -> None:
    folder = Path(shutil.copytree(text_model_dir(), tmp_path / "model"))
    damage(folder)
    with pytest.raises(UserError, match=words):
        WordPieceTokenizer(folder)
