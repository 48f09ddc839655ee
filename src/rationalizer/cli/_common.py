"""Pieces shared by the subcommands: consoles and common options."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
console_err = Console(stderr=True, soft_wrap=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder holding the datasets (default: $RATIONALIZER_DATA, else "
        "~/.cache/rationalizer).",
        show_default=False,
    ),
]


def reflow(doc: str) -> str:
    """A docstring as ``--help`` text: the lines of each paragraph joined, so that the terminal
    wraps them instead of breaking them where the source did. Blank lines separate paragraphs."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def reflow_help(app: typer.Typer) -> None:
    """Give every command of ``app`` its reflowed docstring as help."""
    for command in app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = reflow(command.callback.__doc__)
