"""The machine a number was measured on, for benchmark and report outputs."""

from __future__ import annotations

import os
import platform
from importlib import metadata

_PACKAGES = ("numpy", "scipy", "scikit-learn", "torch")


def machine_info() -> dict[str, object]:
    """Platform, CPU counts and the versions of the numeric libraries (not imported here)."""
    info: dict[str, object] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
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
