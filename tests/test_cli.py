"""Every ``python -m model`` command builds its parser, and the demo's defaults are usable."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from tiny_dataset import shared_tiny_checkpoint

from model.cli import COMMANDS, build_parser, main
from model.demo import DemoLayout, DemoOptions, _train_argv
from model.workers import usable_cpus

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_each_command_prints_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser, chosen = build_parser([command, "--help"])
    assert chosen is not None and chosen.name == command
    with pytest.raises(SystemExit) as stop:
        parser.parse_args([command, "--help"])
    assert stop.value.code == 0
    assert f"usage: python -m model {command}" in capsys.readouterr().out


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    parser, _ = build_parser([command, "--help"])
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["embed", "--checkpoint", "c.pt", "--data", "d", "--out", "e.npz"], False),
        (["-v", "embed", "--checkpoint", "c.pt", "--data", "d", "--out", "e.npz"], True),
        (["embed", "--checkpoint", "c.pt", "--data", "d", "--out", "e.npz", "-v"], True),
        (["search", "dilated LV", "--verbose", "--checkpoint", "c.pt"], True),
    ],
)
def test_verbose_is_taken_before_or_after_the_command(argv: list[str], verbose: bool) -> None:
    parser, _ = build_parser(argv)
    assert parser.parse_args(argv).verbose is verbose


def test_verbose_shows_our_debug_lines_not_matplotlibs_font_search() -> None:
    """``evaluate -v`` printed some 200 matplotlib ``findfont: score(...)`` lines per run."""
    from model.progress import configure_logging

    names = ("", "matplotlib", "httpx", "model", "model.evaluation")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    try:
        loggers[0].setLevel(logging.DEBUG)  # as basicConfig sets it in a command's process
        for ours in loggers[3:]:  # as in a command's process (other tests may have set them)
            ours.setLevel(logging.NOTSET)
        configure_logging(logging.DEBUG)
        assert logging.getLogger("model.evaluation").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("matplotlib.font_manager").isEnabledFor(logging.DEBUG)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def test_index_takes_several_datasets_as_evaluate_takes_several_external_ones() -> None:
    """``--data A B`` as ``evaluate --external A B`` takes them, and ``--data A --data B``."""
    for argv in (
        ["index", "--checkpoint", "c.pt", "--data", "a", "b", "--labels", "x.csv", "y.csv"],
        ["index", "--checkpoint", "c.pt", "--data", "a", "--labels", "x.csv", "--data", "b"]
        + ["--labels", "y.csv"],
    ):
        parser, _ = build_parser(argv)
        args = parser.parse_args(argv)
        assert args.data == [Path("a"), Path("b")] and args.labels == [Path("x.csv"), Path("y.csv")]


def test_a_commands_help_gives_each_options_default_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ingest = _help("ingest", capsys)
    assert "frames per view (T) (default: 16)" in ingest
    assert "site name stored with each study (default: internal)" in ingest
    assert "--reports REPORTS CSV accession_number,report --labels" in ingest  # no default: None
    evaluate = _help("evaluate", capsys)
    assert (
        "--seed SEED default: 0" in evaluate
        and "--device {auto,cpu,cuda} default: auto" in evaluate
    )
    assert "(they embed those too) --seed" in evaluate  # a flag has no default to give
    assert "-v, --verbose debug logging" in evaluate
    search = _help("search", capsys)
    assert "(default 10)" in search and "(default: 10)" not in search
    index = _help("index", capsys)  # a default of None says what it stands for
    assert "studies per upsert (default: as many as the Chroma client takes" in index


def test_demo_uses_every_usable_cpu_by_default(tmp_path: Path) -> None:
    parser, _ = build_parser(["demo"])
    args = parser.parse_args(["demo", "--root", str(tmp_path)])
    assert args.workers == usable_cpus() >= 1
    assert DemoOptions(root=tmp_path).workers == usable_cpus()


def test_the_demo_run_logs_val_auc_with_the_generated_labels(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path)
    argv = _train_argv(DemoOptions(root=tmp_path), layout)
    labels = argv[argv.index("--val-labels") + 1]
    assert labels == str(tmp_path / "demo" / "raw" / "internal" / "labels.csv")
    assert "--resume" not in argv
    layout.run.mkdir(parents=True)
    (layout.run / "last.pt").write_bytes(b"checkpoint")
    assert _train_argv(DemoOptions(root=tmp_path), layout)[-1] == "--resume"


def _blocked_outputs(tmp: Path) -> list[tuple[list[str], str]]:
    """Commands whose output path has a file (or a folder) in the way, and the message expected."""
    data, checkpoint = shared_tiny_checkpoint()
    afile = tmp / "afile"
    afile.write_text("not a folder")
    (tmp / "folder.npz").mkdir()
    (tmp / "folder.csv").mkdir()
    read = ["--checkpoint", str(checkpoint), "--data", str(data)]
    under = f"{afile} is a file"
    return [
        (["train", "--data", str(data), "--out", str(afile / "run")], under),
        ([*["embed", *read], "--out", str(tmp / "folder.npz")], "is a folder"),
        ([*["embed", *read], "--out", str(afile / "e.npz")], under),
        ([*["zeroshot", *read], "--out", str(tmp / "folder.csv")], "is a folder"),
        ([*["fewshot", *read, "--examples", str(afile)], "--out", str(afile / "f.csv")], under),
        (
            [*["evaluate", *read], "--labels", str(data / "labels.csv"), "--out", str(afile)],
            "a file",
        ),
        (["ingest", str(tmp), "--out", str(afile)], "a file"),
        (["generate", "--out", str(afile / "raw"), "--studies", "1"], under),
        (["demo", "--root", str(afile)], "a file"),
        (["index", *read, "--chroma-path", str(afile)], "a file"),
    ]


def test_an_output_path_in_the_way_is_one_line_before_any_work(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for argv, message in _blocked_outputs(tmp_path):
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert main(argv) == 2, argv
        assert message in caplog.text, (argv, caplog.text)
        assert "Traceback" not in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder.csv", "folder.npz"]
    assert not list((tmp_path / "folder.npz").iterdir())


def test_zeroshot_will_not_write_over_its_labels_or_into_the_dataset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``--out`` naming the labels file it reads replaced a hospital's labels with the scores."""
    data, checkpoint = shared_tiny_checkpoint()
    labels = tmp_path / "labels.csv"
    labels.write_bytes((data / "labels.csv").read_bytes())
    read = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(data)]
    cases = [
        ([*read, "--labels", str(labels), "--out", str(labels)], "is a file the command reads"),
        ([*read, "--out", str(data / "labels.csv")], "is a file the command reads"),
        ([*read, "--out", str(data / "linkage.csv")], "is inside the dataset folder"),
    ]
    before = {path: path.read_bytes() for path in (labels, *data.glob("*.csv"))}
    for argv, message in cases:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert main(argv) == 2, argv
        assert message in caplog.text, (argv, caplog.text)
    assert {path: path.read_bytes() for path in before} == before


def test_an_input_of_the_wrong_kind_is_named_as_such(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A folder given for an input file, or a file for the dataset folder, is named as what it is,
    not as missing."""
    data, checkpoint = shared_tiny_checkpoint()
    read = ["--checkpoint", str(checkpoint), "--data", str(data)]
    out = ["--out", str(tmp_path / "z.csv")]
    cases = [
        (
            ["zeroshot", *read, *out, "--prompts", str(tmp_path)],
            f"prompt set {tmp_path} is a folder",
        ),
        (
            ["zeroshot", *read, *out, "--labels", str(tmp_path)],
            f"labels file {tmp_path} is a folder",
        ),
        (
            [
                "zeroshot",
                "--checkpoint",
                str(checkpoint),
                "--data",
                str(data / "linkage.csv"),
                *out,
            ],
            f"dataset folder {data / 'linkage.csv'} is a file, not a folder",
        ),
        (
            ["ingest", str(tmp_path), "--out", str(tmp_path / "ds"), "--reports", str(tmp_path)],
            f"reports file {tmp_path} is a folder",
        ),
    ]
    for argv, message in cases:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert main(argv) == 2, argv
        assert message in caplog.text, (argv, caplog.text)


def test_ctrl_c_while_a_command_loads_is_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ctrl-C in the seconds a command imports torch printed an import traceback."""
    import model.cli

    def interrupted_import(name: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(model.cli.importlib, "import_module", interrupted_import)
    with caplog.at_level(logging.ERROR, logger="model"):
        assert main(["embed", "--checkpoint", "x.pt", "--data", "ds", "--out", "e.npz"]) == 130
    assert [r.getMessage() for r in caplog.records] == [
        "interrupted before the command started; nothing was done"
    ]


def test_a_log_line_on_a_terminal_is_written_above_the_progress_bar(tmp_path: Path) -> None:
    """An epoch's log line was written onto the training bar's line, after the bar's text."""
    import subprocess
    import sys

    (tmp_path / "bar_command.py").write_text(
        "import logging\n"
        "from model.progress import Progress\n"
        "def add_arguments(parser):\n"
        "    pass\n"
        "def run(args):\n"
        "    with Progress('train', total=2) as bar:\n"
        "        bar.update(1)\n"
        "        logging.getLogger('model.training').info('epoch 1 done')\n"
        "        bar.update(1)\n",
        encoding="utf-8",
    )
    script = (
        "import sys\n"
        "import model.cli as cli\n"
        "cli.COMMANDS = (cli.Command('bars', 'bar_command', 'a bar and a log line'),)\n"
        "sys.exit(cli.main(['bars']))\n"
    )
    env = {**os.environ, "CMR_FORCE_TQDM": "1", "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    line = next(text for text in done.stderr.split("\n") if "epoch 1 done" in text)
    assert "train:" not in line.rsplit("\r", 1)[-1], repr(line)  # what the terminal shows


def test_zeroshot_names_a_prompt_finding_without_labels_and_its_likely_column(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A finding key typo'd in the prompt YAML (``lv_dilaton``) dropped ``lv_dilation`` from the
    metrics and exited 0 without a word."""
    from model.prompts import DEFAULT_PROMPTS

    data, checkpoint = shared_tiny_checkpoint()
    prompts = tmp_path / "typo.yaml"
    text = DEFAULT_PROMPTS.read_text(encoding="utf-8")
    prompts.write_text(text.replace("  lv_dilation:", "  lv_dilaton:"), encoding="utf-8")
    labels = tmp_path / "labels.csv"
    labels.write_bytes((data / "labels.csv").read_bytes())
    argv = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(data)]
    argv += ["--prompts", str(prompts), "--labels", str(labels), "--out", str(tmp_path / "z.csv")]
    with caplog.at_level(logging.WARNING):
        assert main(argv) == 0
    assert (
        f"prompt-set finding 'lv_dilaton' has no column in {labels}: probabilities only, "
        "no metrics (did you mean 'lv_dilation'?)"
    ) in caplog.text
    assert "prompt-set finding 'lv_dysfunction'" not in caplog.text


def test_train_help_says_which_preset_to_pick_and_what_the_run_folder_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from model.nn.presets import load_preset, preset_names

    parser, _ = build_parser(["train", "--help"])
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    text = capsys.readouterr().out
    for name, machine in (("cpu-small", "CPU"), ("gpu-base", "one GPU"), ("paper", "GPUs")):
        assert name in preset_names()
        line = next(line for line in text.splitlines() if line.startswith(f"  {name} "))
        train = load_preset(name).train
        assert machine in line and f"{train.frames} frames x {train.image_size} px" in line
    folder = " ".join(text.split())
    for name in ("best.pt", "last.pt", "config.json", "status.json", "metrics.jsonl", "train.log"):
        assert name in folder.split("the run folder (--out):")[1]


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_each_commands_help_ends_with_an_example_it_accepts(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every --help ends with command lines to copy; each parses as written (no stale flag)."""
    import shlex

    parser, _ = build_parser([command, "--help"])
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])
    tail = capsys.readouterr().out.split("\nexample")[-1]  # the "example(s):" paragraph
    examples = [line.strip() for line in tail.splitlines() if "-m model " in line]
    assert examples, tail
    for example in examples:
        argv = shlex.split(example.split("-m model ", 1)[1])
        assert argv[0] == command
        parser, _ = build_parser(argv)
        parser.parse_args(argv)  # SystemExit (a test error) for an unknown or missing option


def test_zeroshot_logs_a_single_sites_metrics_once() -> None:
    """With one site, every "all" row of the logged table repeated that site's row."""
    import pandas as pd

    from model.zeroshot_cli import evaluate_by_site, shown_metrics

    ids = ["a", "b", "c", "d"]
    probs = pd.DataFrame({"lge": [0.9, 0.2, 0.7, 0.4]}, index=ids)
    labels = pd.DataFrame({"lge": [1, 0, 1, 0]}, index=ids)
    one = evaluate_by_site(probs, labels, pd.Series(["internal"] * 4, index=ids), "m")
    assert shown_metrics(one)["site"].tolist() == ["internal"]
    two = pd.Series(["internal", "internal", "external", "external"], index=ids)
    assert shown_metrics(evaluate_by_site(probs, labels, two, "m"))["site"].tolist() == [
        "all",
        "external",
        "internal",
    ]
    assert len(one) == 2  # the CSV keeps both rows


@pytest.mark.parametrize(("world", "ignored"), [("2", True), ("1", False), ("", False)])
def test_a_refusing_process_of_a_multi_process_run_keeps_its_status_through_the_launchers_stop(
    world: str, ignored: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a refusing process takes seconds to exit after its line, and the launcher,
    seeing its peer end first, sent it SIGTERM: the run read "killed by SIGTERM", not the
    refusal. Once it has refused it ignores that stop (alone, it keeps Ctrl-C and SIGTERM)."""
    import signal

    monkeypatch.setenv("WORLD_SIZE", world)
    saved = {stop: signal.getsignal(stop) for stop in (signal.SIGTERM, signal.SIGUSR1)}
    try:
        missing = tmp_path / "missing.pt"
        argv = ["embed", "--checkpoint", str(missing), "--data", str(tmp_path), "--out", "e.npz"]
        assert main(argv, process_entry=True) == 2
        for stop, before in saved.items():
            now = signal.getsignal(stop)
            assert (now == signal.SIG_IGN) if ignored else (now == before), (stop, now)
    finally:
        for stop, before in saved.items():
            signal.signal(stop, before)
