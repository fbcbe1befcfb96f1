"""Pages hold UI only: they call ``dashboard/``, which calls ``model/`` (docs/ARCHITECTURE.md).
A page that imports ``model`` itself keeps logic the dashboard's tests do not reach and that
another page cannot share, so every page and ``app.py`` is scanned for such an import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]


def model_imports(source: str) -> list[str]:
    """``line: module`` of each import of ``model`` or a module under it, at any depth of the
    file (a function's own import too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{node.lineno}: {n}" for n in names if n == "model" or n.startswith("model.")]
    return found


def test_the_scan_finds_every_form_of_a_model_import() -> None:
    source = "import model\nimport model.few_shot as f\ndef g():\n    from model.errors import X\n"
    assert model_imports(source) == ["1: model", "2: model.few_shot", "4: model.errors"]
    assert model_imports("from dashboard.model_view import x\nimport modelling\n") == []


def test_no_page_imports_model() -> None:
    assert len(FILES) > 2 and (ROOT / "pages" / "fewshot.py") in FILES
    found = {path.name: model_imports(path.read_text()) for path in FILES}
    assert not {name: lines for name, lines in found.items() if lines}
