"""Pieces shared by the subcommands: consoles and common options."""

from __future__ import annotations

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
