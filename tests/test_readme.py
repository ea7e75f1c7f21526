"""The README stays a user guide: at most 25 KB, and every `walkout` command shown in it, or
in the docs, still parses with today's command line (and the --help of each command shown
works)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from walkout.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_LIMIT = 25_000  # bytes: a newcomer reads it; detail belongs in docs/
OPERATORS = {"&&", "||", ";", "|", ">", ">>", "<", "&"}


def shown_commands(path: Path) -> list[tuple[int, list[str]]]:
    """``(line number, argv after 'walkout')`` of every walkout command in the code blocks
    of ``path``: continuation lines joined, comments dropped, and a chain of commands
    (``a && walkout run``) cut at its operators. In a block that shows a terminal (lines
    with a ``$`` prompt), only the prompted lines are commands; the rest is output. Usage
    synopses (with ``[optional]`` brackets or ``...``) are not commands and are left out."""
    lines = path.read_text(encoding="utf-8").splitlines()
    fences = [k for k, line in enumerate(lines) if line.lstrip().startswith("```")]
    transcript = {}  # line index inside a code block -> whether the block shows a terminal
    for a, b in zip(fences[::2], fences[1::2]):
        prompted = any(lines[k].lstrip().startswith("$ ") for k in range(a + 1, b))
        transcript.update({k: prompted for k in range(a + 1, b)})
    out, pending, start = [], "", 0
    for k, line in enumerate(lines):
        if k not in transcript:
            pending = ""
            continue
        text = line.strip()
        if not pending:
            start = k + 1
            if transcript[k]:
                if not text.startswith("$ "):
                    continue
                text = text[2:]
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text, pending = pending + text, ""
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        try:
            tokens = list(lexer)
        except ValueError:  # not shell (YAML, Python, output)
            continue
        segment: list[str] = []
        for tok in [*tokens, ";"]:
            if tok not in OPERATORS:
                segment.append(tok)
                continue
            if segment and Path(segment[0]).name == "walkout" and not any(
                    t.startswith("[") or t == "..." or t.endswith("...") for t in segment):
                out.append((start, segment[1:]))
            segment = []
    return out


README_COMMANDS = shown_commands(README)
DOC_COMMANDS = [(p.name, n, argv) for p in DOCS for n, argv in shown_commands(p)]


def test_readme_is_at_most_25_kb():
    size = len(README.read_bytes())
    assert size <= README_LIMIT, (
        f"README.md is {size} bytes, over {README_LIMIT}: move detail into docs/")


def test_readme_shows_every_use():
    """The three uses, each as a command a newcomer can type, and the two set-up commands
    CI runs."""
    shown = {argv[0] for _, argv in README_COMMANDS if argv}
    assert {"run", "live", "eval", "simulate", "validate", "batch"} <= shown
    text = README.read_text(encoding="utf-8")
    assert "<!-- ci:install -->" in text and "<!-- ci:test -->" in text


@pytest.mark.parametrize(("line", "argv"), README_COMMANDS,
                         ids=[f"README.md:{n}" for n, _ in README_COMMANDS])
def test_readme_command_parses(line, argv):
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"README.md:{line}: `walkout {' '.join(argv)}` no longer parses "
                    f"(exit {exc.code})")


@pytest.mark.parametrize(("doc", "line", "argv"), DOC_COMMANDS,
                         ids=[f"{d}:{n}" for d, n, _ in DOC_COMMANDS])
def test_docs_command_parses(doc, line, argv):
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"docs/{doc}:{line}: `walkout {' '.join(argv)}` no longer parses "
                    f"(exit {exc.code})")


@pytest.mark.parametrize("command", sorted({argv[0] for _, argv in README_COMMANDS if argv}))
def test_help_of_each_command_shown(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: walkout {command}")


def test_a_command_that_no_longer_parses_is_caught(tmp_path):
    """The check itself can fail: an option that does not exist is reported."""
    page = tmp_path / "page.md"
    page.write_text("```bash\n$ walkout run clip --out o && walkout run --no-such-flag\n```\n")
    (_, good), (_, bad) = shown_commands(page)
    assert good == ["run", "clip", "--out", "o"]
    build_parser().parse_args(good)
    with pytest.raises(SystemExit):
        build_parser().parse_args(bad)
