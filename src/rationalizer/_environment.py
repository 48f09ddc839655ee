"""The machine and the code a number was measured with, for benchmark and report outputs.

A benchmark's code is the package (its ``code_digest``) plus its own script files: a cached
result is reused only when both are the same as now (:func:`same_code`), or when the user
asks for stale results to be reused (``--reuse-stale``), which the benchmarks then mark.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from rationalizer.errors import RationalizerError
from rationalizer.files import read_json
from rationalizer.provenance import code_provenance, describe, file_digest

_PACKAGES = ("numpy", "scipy", "scikit-learn", "torch")
#: Marks, in a benchmark's Markdown, a number made by other code than the report's.
STALE_MARK = "†"


#: Instruction sets for which torch and numpy pick other numeric kernels: two machines that
#: differ in them give other floating-point results (so training diverges) and other speeds.
NUMERIC_CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "sve", "asimd")


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str | None, list[str]]:
    """The CPU's model name (with x86's family and model numbers, which tell apart the
    generations a virtual machine names alike) and which of :data:`NUMERIC_CPU_FEATURES` it
    has, read from the first processor of ``/proc/cpuinfo`` (Linux); ``(None, [])`` where that
    file is missing or unreadable."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None, []
    first: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() and first:
            break  # the next processor's block repeats the first one's
        key, _, value = line.partition(":")
        first.setdefault(key.strip(), value.strip())
    model = first.get("model name") or None
    if model and first.get("cpu family") and first.get("model"):
        model = f"{model}, family {first['cpu family']} model {first['model']}"
    flags = set(first.get("flags", first.get("Features", "")).split())  # x86 / ARM
    return model, [feature for feature in NUMERIC_CPU_FEATURES if feature in flags]


def machine_info() -> dict[str, object]:
    """Platform, CPU model, numeric instruction sets, CPU counts and the versions of the
    numeric libraries (not imported here): what a timing, or a run that must be repeated bit
    for bit, depends on."""
    cpu, features = cpu_description()
    info: dict[str, object] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu,
        "cpu_features": features,
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
    }
    for package in _PACKAGES:
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = None
    return info


def benchmark_provenance(*scripts: Path) -> dict[str, Any]:
    """:func:`~rationalizer.provenance.code_provenance` plus the sha256 of each script that
    makes the benchmark's results, by file name."""
    return code_provenance() | {"scripts": {path.name: file_digest(path) for path in scripts}}


def code_text(provenance: Mapping[str, Any] | None) -> str:
    """A benchmark result's code for Markdown: commit, version, code digest and the digest of
    each script."""
    if not provenance:
        return "not recorded (made before provenance was recorded)"
    scripts = ", ".join(f"{name} {digest[:12]}" for name, digest in provenance["scripts"].items())
    return f"{describe(provenance)}; {scripts}"


def same_code(stored: Mapping[str, Any] | None, current: Mapping[str, Any]) -> bool:
    """Whether ``stored`` provenance names the code of ``current``: the same package digest,
    and the same digest for every script it names (a script it does not name is not its
    concern: a table cell read by another benchmark). No provenance is other code."""
    if not stored or stored.get("code_digest") != current["code_digest"]:
        return False
    scripts = current.get("scripts", {})
    return all(scripts.get(name) == digest for name, digest in stored.get("scripts", {}).items())


def trained_by(run_dir: Path, reuse_stale: bool) -> dict[str, Any] | None:
    """The provenance in the summary of the finished run in ``run_dir`` (None without one).

    A finished run trained by other code is refused, since reusing it would make a result of
    the old code look new: delete the folder to train it again, or pass ``reuse_stale``.
    """
    from rationalizer.training.trainer import SUMMARY_FILE

    path = run_dir / SUMMARY_FILE
    if not path.is_file():
        return None
    provenance = read_json(path, "summary").get("provenance")
    if not reuse_stale and not same_code(provenance, code_provenance()):
        raise RationalizerError(
            f"{run_dir} holds a run trained by other code ({describe(provenance)}; now "
            f"{describe(code_provenance())}): delete that folder to train it again, or pass "
            "--reuse-stale to reuse it (its results are then marked stale)"
        )
    return provenance
