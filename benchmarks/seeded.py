"""What the seeded benchmarks on the synthetic dataset share (``shortcut_discovery`` and
``posthoc_shortcuts``): their options, how a report states its run, and how it is written.

Their records name this module in their provenance, since its footer and options shape them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from benchmarks.common import RESULTS_DIR, command_line, module_command
from rationalizer._environment import benchmark_provenance, code_text, machine_info, same_code
from rationalizer.provenance import describe

MODULE = Path(__file__).resolve()


def seeded_parser(
    script: Path, seeds: str, cache_dir: Path, cached: str
) -> argparse.ArgumentParser:
    """The parser of the benchmark ``script`` over ``seeds`` (the default) whose ``cached`` runs
    are kept in ``cache_dir``: --seeds, --threads, --out-dir, --cache-dir, --reuse-stale."""
    parser = argparse.ArgumentParser(prog=module_command(script))
    parser.add_argument("--seeds", default=seeds, help="Comma-separated seeds.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads.")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--cache-dir", type=Path, default=cache_dir)
    parser.add_argument(
        "--reuse-stale",
        action="store_true",
        help=f"reuse cached {cached} trained by other code (the report names it).",
    )
    return parser


def seeds_and_threads(args: argparse.Namespace, console: Console) -> list[int] | None:
    """The seeds of ``--seeds`` (None, said on ``console``, when one is not an integer), with
    torch set to ``--threads``."""
    try:
        seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        console.print(f"[red]error:[/red] --seeds must be integers, got {args.seeds!r}")
        return None
    if args.threads:
        torch.set_num_threads(args.threads)
    return seeds


def run_facts(script: Path, argv: Sequence[str] | None) -> dict[str, Any]:
    """What a report states about its run: the command, when it finished, the code (``script``
    and this module) and the machine."""
    return {
        "command": command_line(script, argv),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "provenance": benchmark_provenance(script, MODULE),
        "machine": machine_info() | {"torch_threads": torch.get_num_threads()},
    }


def footer_lines(
    report: Mapping, trained: Mapping[int | str, Mapping | None], what: str
) -> list[str]:
    """The machine and the code of ``report``, then the seeds whose cached run (``trained``:
    the provenance of each seed's run) other code made, as ``what`` trained by other code."""
    machine = report["machine"]
    lines = [
        "",
        f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs "
        f"({machine['usable_cpus']} usable), Python {machine['python']}, torch "
        f"{machine['torch']} with {machine['torch_threads']} thread(s).",
        "",
        f"Code: {code_text(report.get('provenance'))}.",
        "",
    ]
    current = report.get("provenance")
    reused = [
        f"- seed {seed}: {describe(provenance)}"
        for seed, provenance in trained.items()
        if current and not same_code(provenance, current)
    ]
    if reused:
        lines += [f"{what} trained by other code (`--reuse-stale`):", "", *reused, ""]
    return lines


def write_report(
    out_dir: Path, name: str, report: Mapping, render: Callable[[Mapping], str], console: Console
) -> None:
    """``report`` as ``name.json`` and, rendered, as ``name.md`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (out_dir / f"{name}.md").write_text(render(report), encoding="utf-8")
    console.print(f"wrote {out_dir / f'{name}.md'}")
