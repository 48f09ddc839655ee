"""Is bfloat16 autocast faster than float32 on this machine? One training step, timed.

For each encoder (MiniLM, and the default BiGRU for comparison), sequence length and precision,
the script times the forward and backward pass of the package's own :class:`RationalizerModel`
(selector and predictor on a shared encoder, as ``semi`` trains it) on a batch of random token
ids, after one warm-up step: the median of ``--repeats`` steps. The package's ``precision =
"auto"`` default (bf16 for transformers on hardware with bfloat16 units, fp32 for GRUs) rests on
these numbers.

Usage (from the repository root)::

    python -m benchmarks.precision --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import RESULTS_DIR, command_line, module_command
from rationalizer._environment import benchmark_provenance, code_text, machine_info
from rationalizer.models import ModelConfig, RationalizerModel
from rationalizer.training.precision import autocast, bf16_is_fast

RESULTS_JSON = RESULTS_DIR / "precision.json"
RESULTS_MD = RESULTS_DIR / "precision.md"
BATCH = 8
LENGTHS = (64, 512)
GRU_VOCAB = 20_000


def build(encoder: str) -> RationalizerModel:
    torch.manual_seed(0)
    if encoder == "gru":
        config = ModelConfig(encoder="gru", num_labels=2, vocab_size=GRU_VOCAB)
        matrix = np.random.default_rng(0).normal(size=(GRU_VOCAB, 50)).astype(np.float32)
        return RationalizerModel.build(config, matrix)
    config = ModelConfig(encoder="transformer", num_labels=2, transformer_path=encoder)
    return RationalizerModel.build(config)


def batch_of(length: int, vocab: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, vocab, (BATCH, length), generator=generator)
    selectable = torch.ones(BATCH, length, dtype=torch.bool)
    selectable[:, 0] = False
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "token_type_ids": torch.zeros_like(ids),
        "selectable": selectable,
        "labels": torch.zeros(BATCH, dtype=torch.long),
    }


def step_seconds(model: RationalizerModel, batch, dtype, repeats: int) -> list[float]:
    model.train()
    times = []
    for _ in range(repeats + 1):  # the first step warms up and is not counted
        started = time.perf_counter()
        with autocast(dtype, "cpu"):
            out = model(batch, sample=True)
            loss = torch.nn.functional.cross_entropy(out.logits.float(), batch["labels"])
        loss.backward()
        model.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - started)
    return times[1:]


#: The attention-probability dropout MiniLM was trained with, which the package switches off.
PRETRAINING_ATTENTION_DROPOUT = 0.1


def attention_dropout_rows(repeats: int) -> list[dict]:
    """MiniLM at 512 positions with attention dropout switched back on: what it costs."""
    model = build("minilm")
    for module in model.encoder.model.modules():
        if type(module).__name__ == "BertSelfAttention":
            module.dropout.p = PRETRAINING_ATTENTION_DROPOUT
    batch = batch_of(512, model.encoder.model.config.vocab_size)
    rows = []
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        times = step_seconds(model, batch, dtype, repeats)
        rows.append(
            {
                "encoder": "minilm, attention dropout 0.1",
                "length": 512,
                "precision": name,
                "median_seconds": statistics.median(times),
                "seconds": times,
            }
        )
        print(rows[-1], flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for encoder in ("minilm", "gru"):
        model = build(encoder)
        vocab = GRU_VOCAB if encoder == "gru" else model.encoder.model.config.vocab_size
        for length in LENGTHS:
            batch = batch_of(length, vocab)
            for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
                times = step_seconds(model, batch, dtype, args.repeats)
                rows.append(
                    {
                        "encoder": encoder,
                        "length": length,
                        "precision": name,
                        "median_seconds": statistics.median(times),
                        "seconds": times,
                    }
                )
                print(rows[-1], flush=True)
    rows += attention_dropout_rows(args.repeats)
    record = {"rows": rows, "batch": BATCH} | run_facts(Path(__file__), argv, args.threads)
    RESULTS_JSON.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    RESULTS_MD.write_text(render(record), encoding="utf-8")
    return 0


def run_facts(script: Path, argv: Sequence[str] | None, threads: int) -> dict:
    """What a precision record states about its run: command, code, machine, bf16 units."""
    return {
        "threads": threads,
        "bf16_units": bf16_is_fast(torch.device("cpu")),
        "machine": machine_info() | {"torch_threads": torch.get_num_threads()},
        "provenance": benchmark_provenance(script),
        "command": command_line(script, argv),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def header_lines(title: str, record: dict) -> list[str]:
    """The title, command, code and machine lines of a precision report."""
    m = record["machine"]
    return [
        f"# {title}",
        "",
        f"Command: `{record['command']}` ({record['finished']}). Code: "
        f"{code_text(record['provenance'])}.",
        "",
        f"Machine: {m['platform']}, {m['usable_cpus']} usable CPUs, torch {m['torch']} with "
        f"{record['threads']} thread(s); CPU bfloat16 units (AVX512-BF16/AMX): "
        f"{'yes' if record['bf16_units'] else 'no'}.",
        "",
    ]


def render(record: dict) -> str:
    by_key = {(r["encoder"], r["length"], r["precision"]): r for r in record["rows"]}
    lines = [
        *header_lines("bfloat16 autocast against float32: one training step", record),
        f"Forward and backward pass of the package's model (shared-encoder selector and "
        f"predictor) on a batch of {record['batch']} random sequences; median of "
        f"{len(record['rows'][0]['seconds'])} steps after one warm-up step. No seed affects "
        "the timing; weights and inputs are seeded (0).",
        "",
        "`minilm` is the package's transformer encoder, whose attention-probability dropout is "
        "off; the row `minilm, attention dropout 0.1` switches it back on, as MiniLM was "
        "pretrained, to show what it costs.",
        "",
        "| encoder | positions | fp32 s/step | bf16 s/step | speed-up |",
        "|---|---|---|---|---|",
    ]
    measured = sorted({(r["encoder"], r["length"]) for r in record["rows"]}, key=str)
    for encoder, length in measured:
        fp32 = by_key[encoder, length, "fp32"]["median_seconds"]
        bf16 = by_key[encoder, length, "bf16"]["median_seconds"]
        lines.append(f"| {encoder} | {length} | {fp32:.3f} | {bf16:.3f} | {fp32 / bf16:.2f}× |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
