"""The README's command line stays true of the code: every command of its *Command line* block
parses as written, and every ``--flag`` the README or ARCHITECTURE names is an option of a
``python -m model`` command (or of the other tools they name: streamlit, torchrun, chroma)."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest

from model.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = (README, ROOT / "docs" / "ARCHITECTURE.md")
# Options of the other tools the docs name: ./run.sh passes --server.* to streamlit, torchrun
# takes --nproc_per_node and --standalone, `chroma run` takes --path/--host/--port, Slurm's sbatch
# --ntasks/--signal/--requeue; --help is every command's.
OTHER_TOOLS = {"--nproc_per_node", "--standalone", "--path", "--host", "--port", "--help"}
OTHER_TOOLS |= {"--ntasks", "--signal", "--requeue"}


def _block_commands() -> list[str]:
    """The ``python -m model`` lines of the README's *Command line* bash block, continuations
    joined and comments dropped."""
    section = README.read_text(encoding="utf-8").split("\n## Command line", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith("python -m model ")]


@pytest.mark.parametrize("line", _block_commands())
def test_each_command_of_the_readme_block_parses_as_written(line: str) -> None:
    argv = shlex.split(line.split("-m model ", 1)[1])
    parser, _ = build_parser(argv)
    parser.parse_args(argv)  # SystemExit (a test error) for an unknown or missing option


def _options() -> set[str]:
    """Every option string of every ``python -m model`` command."""
    options: set[str] = {"-v", "--verbose"}
    for command in COMMANDS:
        parser = argparse.ArgumentParser()
        importlib.import_module(command.module).add_arguments(parser)
        for action in parser._actions:  # argparse has no public listing
            options.update(action.option_strings)
    return options


def test_every_flag_the_docs_name_is_an_option() -> None:
    known = _options() | OTHER_TOOLS
    named: set[str] = set()
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        named.update(re.findall(r"(?<![\w-])--[a-z][a-z0-9_-]*(?![\w.])", text))
    assert {"--drop-others", "--val-labels", "--where"} <= named
    assert sorted(named - known) == []


def test_every_streamlit_option_the_docs_name_is_one() -> None:
    """``./run.sh --server.baseUrlPath cmrclip`` (the service recipe) and the other Streamlit
    options the README passes through ``./run.sh``: a misspelt one starts a dashboard without
    it (Streamlit ignores an unknown option with a warning), served at the wrong path."""
    from streamlit import config

    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"--((?:server|browser|client|theme)\.[A-Za-z]+)", text))
    assert {"server.baseUrlPath", "server.port", "server.allowedHosts"} <= named
    assert sorted(named - set(config.get_config_options())) == []
    unit = text.split("```ini", 1)[1].split("```", 1)[0]
    start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert start.split("=", 1)[1].split()[0].endswith("/run.sh")  # the Quick start command
