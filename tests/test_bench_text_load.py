"""bench_text_load's harness: each way of loading runs in a fresh process per repeat and its
median CPU and wall time are printed with the ratio (the loaders themselves are replaced by
trivial code here: tests/test_bert.py checks what ``ours`` loads). No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_text_load  # noqa: E402


def test_every_loader_runs_in_a_child_and_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loaders = {
        "ours": "x = 1\n",
        "hf-tokenizer": "sum(range(100000))\n",
        "transformers": "sum(range(200000))\n",
        "torch": "pass\n",
    }
    monkeypatch.setattr(bench_text_load, "LOADERS", loaders)
    monkeypatch.setattr(sys, "argv", ["bench_text_load", "--repeats", "2"])
    bench_text_load.main()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0].strip() for line in lines[:4]] == list(loaders)
    assert all("(median of 2)" in line for line in lines[:4])
    assert lines[4].startswith("hf-tokenizer / ours: ") and lines[4].endswith("x CPU")
    assert lines[5].startswith("transformers / ours: ") and lines[5].endswith("x CPU")


def test_a_loader_that_fails_stops_the_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_text_load, "LOADERS", {"ours": "raise SystemExit(3)\n"})
    monkeypatch.setattr(sys, "argv", ["bench_text_load", "--repeats", "1"])
    with pytest.raises(Exception, match="exit status 3"):
        bench_text_load.main()
