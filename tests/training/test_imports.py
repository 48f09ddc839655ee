"""The training modules import on their own: an import cycle between them (discovery needs the
loaded Rationalizer, the training entry point needs discovery) fails here, whichever module a
caller happens to import first."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["inference", "run", "discovery", "hub"])
def test_a_training_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    name = f"rationalizer.training.{module}"
    result = subprocess.run(
        [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
