"""Records the benchmark tests share: a machine and the code of an older package version."""

from __future__ import annotations

#: The machine a hand-written record names.
MACHINE = {
    "platform": "Linux-test",
    "cpu_count": 2,
    "usable_cpus": 2,
    "python": "3.11",
    "torch": "2.x",
    "torch_threads": 1,
}

#: The code of an older version of the package, with another code digest.
OLD_CODE = {
    "commit": "1234567" + "0" * 33,
    "dirty": False,
    "git": "checkout",
    "version": "0.0.9",
    "code_digest": "0" * 64,
}
