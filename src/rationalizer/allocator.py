"""Keep the memory that tensors free inside the process (Linux with glibc).

A training step allocates buffers of tens of megabytes (the GRU's saved gates and their
gradients, over every position of a batch) and frees them when it ends. glibc serves
allocations that large with fresh ``mmap`` calls and unmaps them on free, so every step faults
in, and zeroes, all of that memory again. At batch 32 over 512 words that was about a sixth of
a GRU pass (``benchmarks/results/train_speed.md``). Raising glibc's mmap and trim thresholds
keeps freed blocks in the heap for the next step to reuse, as PyTorch's caching allocator does
on a GPU. The cost: the process holds on to its peak memory until it exits.

Training and the command line turn this on; set ``RATIONALIZER_KEEP_FREED_MEMORY=0`` to leave
the C library's defaults alone.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
from collections.abc import Callable

#: The environment variable that, set to 0, leaves the allocator's defaults alone.
ENV_VARIABLE = "RATIONALIZER_KEEP_FREED_MEMORY"
#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Blocks up to this size come from the heap instead of their own mmap; glibc builds that
#: refuse a threshold this high get their own maximum on 64-bit systems, 32 MiB.
_MMAP_THRESHOLDS = (1 << 30, 1 << 25)
#: Free memory at the top of the heap is kept up to this size instead of being trimmed.
_TRIM_THRESHOLD = (1 << 31) - 1


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds, once per process; whether they were raised
    (False off glibc, where the C library refuses, or where the environment turns it off)."""
    if os.environ.get(ENV_VARIABLE, "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = _mallopt()
    if mallopt is None:
        return False
    if not any(mallopt(_M_MMAP_THRESHOLD, size) for size in _MMAP_THRESHOLDS):
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt(int, int) -> int``, or None where the library cannot be loaded."""
    try:
        function = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int)
    function.restype = ctypes.c_int
    return function
