"""benchmarks/train_speed.py at its smallest size: every row runs and the record says what it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import common, train_speed
from rationalizer.provenance import file_digest


@pytest.mark.slow
def test_smallest_size_times_every_row_against_the_plain_step(tmp_path):
    arguments = ["--batch-sizes", "2", "--length", "12", "--rounds", "1", "--minilm-batch", "2"]
    arguments += ["--minilm-length", "12", "--threads", "1", "--results-dir", str(tmp_path)]
    assert train_speed.main(arguments) == 0
    record = json.loads((tmp_path / "train_speed.json").read_text())
    rows = [(row["encoder"], row["row"]) for row in record["rows"]]
    gru = [("gru", name) for name in (*train_speed.GRU_METHODS, train_speed.REFERENCE)]
    assert rows == [*gru, ("minilm", "semi")]
    for row in record["rows"]:
        assert row["examples_per_second"] > 0 and len(row["seconds"]) == 1
        assert row["positions"] <= 12 and row["batch_size"] == 2
    assert record["rows"][-2]["vs_reference"] == 1.0 and record["rows"][-1]["vs_reference"] is None
    assert record["target"] == {"batch_size": 32, "measured": False}
    assert record["provenance"]["scripts"] == {
        "train_speed.py": file_digest(Path(train_speed.__file__))
    }
    markdown = (tmp_path / "train_speed.md").read_text()
    assert isinstance(record["keeps_freed_memory"], bool)
    other = record["other_busy_cpus"]
    assert other is None or other >= 0
    sentence = common.load_sentence(other, record["machine"]["usable_cpus"])
    assert "Not measured" in markdown and sentence in markdown
    assert "| gru | plain FR step | 2 | " in markdown


def test_the_target_verdict_says_by_how_much_it_falls_short():
    rows = [{"row": "fr", "batch_size": 32, "vs_reference": 1.2}]
    assert train_speed.target(rows) == pytest.approx(
        {
            "batch_size": 32,
            "measured": True,
            "ratio": 1.2,
            "met": False,
            "stretch_met": False,
            "short_by": 0.3,
        }
    )
