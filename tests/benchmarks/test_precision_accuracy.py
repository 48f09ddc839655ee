"""benchmarks/precision_accuracy.py: the two runs differ in precision only; the report."""

from __future__ import annotations

from benchmarks import precision_accuracy


def test_the_runs_of_a_seed_differ_in_precision_only():
    args = precision_accuracy.parse_args(
        ["--seeds", "3", "--train-examples", "500", "--method", "semi"]
    )
    fp32, bf16 = (precision_accuracy.run_config(args, p, 3) for p in precision_accuracy.PRECISIONS)
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert fp32.model_dump(exclude={"precision"}) == bf16.model_dump(exclude={"precision"})
    assert (fp32.encoder, fp32.method, fp32.max_train_examples, fp32.seed) == (
        "minilm",
        "semi",
        500,
        3,
    )


def test_the_report_lists_every_run_with_its_validation_scores():
    row = {
        "seed": 0,
        "validation": {"accuracy": 0.7512, "macro_f1": 0.74},
        "train_examples_per_second": 3.456,
        "wall_seconds": 612.4,
    }
    record = {
        "rows": [row | {"precision": "fp32"}, row | {"precision": "bf16", "wall_seconds": 300.0}],
        "settings": {"dataset": "hatexplain", "method": "full-text", "train_examples": 2000,
                     "epochs": 1},
        "threads": 1,
        "bf16_units": True,
        "machine": {"platform": "Linux", "usable_cpus": 2, "torch": "2.x"},
        "provenance": {},
        "command": "python -m benchmarks.precision_accuracy",
        "finished": "2026-12-05T23:00:00+00:00",
    }  # fmt: skip
    markdown = precision_accuracy.render(record)
    assert "| 0 | fp32 | 0.751 | 0.740 | — | — | 3.46 | 612 |" in markdown
    assert "| 0 | bf16 | 0.751 | 0.740 | — | — | 3.46 | 300 |" in markdown
    assert "**validation** split" in markdown
