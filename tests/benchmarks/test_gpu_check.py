"""benchmarks/gpu_check.py at --quick sizes on the CPU: the code path a GPU runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks import gpu_check
from rationalizer.errors import RationalizerError
from rationalizer.provenance import file_digest


@pytest.mark.slow
def test_quick_check_on_cpu_records_throughput_and_test_metrics(tmp_path, capsys):
    assert gpu_check.main(["--device", "cpu", "--quick", "--results-dir", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [row["cell"] for row in record["rows"]] == ["minilm-hatexplain", "gru-movies"]
    for row in record["rows"]:
        assert row["train"]["examples_per_second"] > 0 and row["test"]["examples"] == 24
        assert 0 <= row["test"]["accuracy"] <= 1
    assert record["device"]["device"] == "cpu" and record["quick"]
    assert record["provenance"]["scripts"] == {
        "gpu_check.py": file_digest(Path(gpu_check.__file__))
    }
    markdown = (tmp_path / "gpu_check.md").read_text()
    assert "| minilm-hatexplain |" in markdown and "measures nothing" in markdown
    assert "gru-movies: train" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_an_absent_gpu_stops_the_check_before_any_work(tmp_path):
    with pytest.raises(RationalizerError, match=r"--device cuda: .*available: cpu"):
        gpu_check.main(["--device", "cuda", "--results-dir", str(tmp_path)])
    assert not list(tmp_path.iterdir())
