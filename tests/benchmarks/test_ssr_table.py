"""The pure logic of benchmarks/ssr_table.py: cells, caching, planning, aggregation, rendering.

Nothing here trains a model: runs are replaced by functions that write cell records.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from rich.console import Console
from sklearn.linear_model import LogisticRegression
from tests.benchmarks.helpers import MACHINE, OLD_CODE
from tests.cli.faults import held_elsewhere

from benchmarks import ssr_table
from rationalizer._environment import code_text
from rationalizer.data import Dataset, Document, Example
from rationalizer.errors import RationalizerError
from rationalizer.provenance import code_provenance
from rationalizer.training.discovery import unsupervised_config
from rationalizer.training.shortcuts import PhraseStats, ShortcutReport


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "cache", tmp_path / "cells"


def quiet() -> Console:
    return Console(file=io.StringIO())


def write_record(
    cell, cache: Path, cells: Path, accuracy: float, token_f1: float, **fields
) -> Path:
    """A cell record as run_cell stores it, with hand-chosen numbers, made by the code of now
    unless ``fields`` say otherwise."""
    record = {
        "config": ssr_table.config_json(ssr_table.cell_config(cell, cache)),
        "report": {
            "classification_scores.accuracy": accuracy,
            "token_prf.instance_micro.f1": token_f1,
        },
        "validation": {"token_f1": token_f1},
        "training": {"examples_per_second": 30.0},
        "wall_seconds": {"total": 120.0, "resumed": False},
        "machine": MACHINE,
        "command": "python -m benchmarks.ssr_table --seeds 0",
        "finished": "2026-11-28T04:38:58+00:00",
        "provenance": ssr_table.provenance(),
        "trained_by": {"run": code_provenance()},
    }
    ssr_table.write_json(cell.record_path(cells), record | fields)
    return cell.record_path(cells)


# ---------------------------------------------------------------------------------- cells
def test_cell_names_and_paths():
    cell = ssr_table.Cell("movies", "ssr-unif", 2, "semantic")
    assert cell.name == "ssr-unif+semantic"
    assert cell.run_dir(Path("cache")) == Path("cache/movies/ssr-unif+semantic/seed2")
    assert cell.record_path(Path("cells")) == Path("cells/movies/ssr-unif+semantic/seed2.json")
    assert str(cell) == "movies/ssr-unif+semantic/seed2"
    assert ssr_table.Cell("fever", "rnp", 0).name == "rnp"


def test_ssr_cells_share_a_discovery_run_like_the_fr_cell_of_their_seed(dirs):
    cache, _ = dirs
    ssr = ssr_table.cell_config(ssr_table.Cell("movies", "ssr-virt", 1, "mixed"), cache)
    fr = ssr_table.cell_config(ssr_table.Cell("movies", "fr", 1), cache)
    assert ssr.shortcut_run == cache / "movies" / "shortcut-discovery" / "seed1"
    assert ssr.shortcut_run == ssr_table.discovery_run_dir("movies", 1, cache)
    # Discovery reuses a run only if it is exactly the unsupervised run SSR would train: the
    # FR cell's settings, selecting with top-k
    assert unsupervised_config(ssr) == fr.model_copy(update={"selection": "topk"})
    assert (ssr.augment, ssr.seed, ssr.labeled_fraction) == ("mixed", 1, 0.25)


def test_supervised_cells_use_every_rationale(dirs):
    cache, _ = dirs
    config = ssr_table.cell_config(ssr_table.Cell("hatexplain", "supervised", 0), cache)
    assert config.labeled_fraction == 1.0
    assert config.shortcut_run is None


def test_cells_differ_between_datasets_only_in_their_training_budget(dirs):
    fever = ssr_table.cell_config(ssr_table.Cell("fever", "semi", 0), dirs[0])
    movies = ssr_table.cell_config(ssr_table.Cell("movies", "semi", 0), dirs[0])
    assert fever.max_train_examples == 5000
    assert movies.max_train_examples is None
    # every model setting is the package default: whole documents, no per-dataset length
    assert fever.max_length is None and movies.max_length is None
    ignore = {"dataset", "max_train_examples"}
    assert fever.model_dump(exclude=ignore) == movies.model_dump(exclude=ignore)


def test_minilm_cells_have_a_table_of_their_own_with_the_fine_tuning_budget(dirs):
    cache, cells = dirs
    cell = ssr_table.Cell("hatexplain", "ssr-unif", 1, encoder="minilm")
    assert str(cell) == "hatexplain/minilm/ssr-unif/seed1"
    assert cell.record_path(cells) == cells / "hatexplain" / "minilm" / "ssr-unif" / "seed1.json"
    config = ssr_table.cell_config(cell, cache)
    assert (config.encoder, config.epochs) == ("minilm", 3)
    # its discovery run is a MiniLM run too, apart from the BiGRU table's
    assert config.shortcut_run == cache / "hatexplain" / "minilm" / "shortcut-discovery" / "seed1"
    gru = ssr_table.cell_config(ssr_table.Cell("hatexplain", "ssr-unif", 1), cache)
    assert gru.encoder == "gru" and gru.shortcut_run != config.shortcut_run
    ignore = {"encoder", "epochs", "shortcut_run"}
    assert config.model_dump(exclude=ignore) == gru.model_dump(exclude=ignore)


def test_tables_run_minilm_only_where_the_protocol_has_it():
    assert ssr_table.tables(["movies", "hatexplain"], ["gru", "minilm"]) == [
        ("movies", "gru"),
        ("hatexplain", "gru"),
        ("hatexplain", "minilm"),
    ]
    assert ssr_table.tables(["movies"], ["minilm"]) == []
    plan = ssr_table.planned_cells("hatexplain", [0], ["semi"], lambda d, m: None, "minilm")
    assert [str(c) for c in plan] == ["hatexplain/minilm/semi/seed0"]


def test_the_report_has_a_minilm_table_beside_the_bigru_one(dirs):
    cache, cells = dirs
    write_record(ssr_table.Cell("hatexplain", "semi", 0), cache, cells, 0.7, 0.10)
    write_record(ssr_table.Cell("hatexplain", "semi", 0, encoder="minilm"), cache, cells, 0.8, 0.2)
    report = ssr_table.build_report(cells, cache, "python -m benchmarks.ssr_table --report-only")
    gru, minilm = report["datasets"]["hatexplain"], report["datasets"]["hatexplain/minilm"]
    assert gru["rows"]["semi"]["metrics"]["accuracy"]["mean"] == pytest.approx(0.7)
    assert minilm["rows"]["semi"]["metrics"]["accuracy"]["mean"] == pytest.approx(0.8)
    assert "hatexplain/minilm/semi: seeds 1, 2" in ssr_table.group_missing(report["missing"])
    markdown = ssr_table.render_markdown(report)
    assert "## hatexplain/minilm" in markdown
    assert "| hatexplain/minilm | MiniLM (all-MiniLM-L6-v2, fine-tuned) | 3 | all |" in markdown


# ------------------------------------------------------------------------------- planning
def test_plan_brings_fr_and_the_augmentation_search_with_ssr():
    C = ssr_table.Cell
    plan = list(ssr_table.planned_cells("movies", [0, 1], ["ssr-unif"], lambda d, m: None))
    assert plan == [
        C("movies", "fr", 0),
        C("movies", "ssr-unif", 0),
        C("movies", "ssr-unif", 0, "random"),
        C("movies", "ssr-unif", 0, "semantic"),
        C("movies", "ssr-unif", 0, "mixed"),
        C("movies", "fr", 1),
        C("movies", "ssr-unif", 1),
    ]


def test_plan_runs_the_chosen_augmentation_for_the_other_seeds():
    C = ssr_table.Cell
    plan = list(ssr_table.planned_cells("fever", [1, 2], ["ssr-virt"], lambda d, m: "semantic"))
    # The search seed 0 is not requested: only its FR and search cells run.
    assert plan == [
        C("fever", "fr", 0),
        C("fever", "ssr-virt", 0, "random"),
        C("fever", "ssr-virt", 0, "semantic"),
        C("fever", "ssr-virt", 0, "mixed"),
        C("fever", "fr", 1),
        C("fever", "ssr-virt", 1),
        C("fever", "ssr-virt", 1, "semantic"),
        C("fever", "fr", 2),
        C("fever", "ssr-virt", 2),
        C("fever", "ssr-virt", 2, "semantic"),
    ]


def test_plan_runs_rnp_only_for_the_requested_seeds():
    C = ssr_table.Cell
    plan = list(ssr_table.planned_cells("movies", [1], ["rnp", "ssr-unif"], lambda d, m: "random"))
    # discovery uses the FR cell, so the search seed 0, not requested, runs no rnp cell
    assert plan == [
        C("movies", "fr", 0),
        C("movies", "ssr-unif", 0, "random"),
        C("movies", "ssr-unif", 0, "semantic"),
        C("movies", "ssr-unif", 0, "mixed"),
        C("movies", "rnp", 1),
        C("movies", "fr", 1),
        C("movies", "ssr-unif", 1),
        C("movies", "ssr-unif", 1, "random"),
    ]


def test_plan_of_baselines_only():
    C = ssr_table.Cell
    plan = list(ssr_table.planned_cells("movies", [0, 1], ["fr", "supervised"], lambda d, m: None))
    assert plan == [
        C("movies", "fr", 0),
        C("movies", "supervised", 0),
        C("movies", "fr", 1),
        C("movies", "supervised", 1),
    ]


def test_choose_augmentation_by_validation_score():
    assert (
        ssr_table.choose_augmentation({"random": 0.2, "semantic": 0.3, "mixed": 0.1}) == "semantic"
    )
    assert ssr_table.choose_augmentation({"random": 0.3, "semantic": 0.3, "mixed": 0.1}) == "random"
    assert ssr_table.choose_augmentation({"random": 0.3, "semantic": 0.4, "mixed": None}) is None


def test_search_scores_read_the_seed0_search_cells(dirs):
    cache, cells = dirs
    write_record(ssr_table.Cell("movies", "ssr-unif", 0, "random"), cache, cells, 0.8, 0.21)
    write_record(ssr_table.Cell("movies", "ssr-unif", 0, "mixed"), cache, cells, 0.8, 0.25)
    scores = ssr_table.search_scores(ssr_table.search_records("movies", "ssr-unif", cells, cache))
    assert scores == {"random": 0.21, "semantic": None, "mixed": 0.25}
    write_record(ssr_table.Cell("movies", "ssr-unif", 0, "semantic"), cache, cells, 0.8, 0.23)
    scores = ssr_table.search_scores(ssr_table.search_records("movies", "ssr-unif", cells, cache))
    assert ssr_table.choose_augmentation(scores) == "mixed"


# -------------------------------------------------------------------------------- caching
class FakeClock:
    def __init__(self, times: list[float]):
        self.times = iter(times)

    def __call__(self) -> float:
        return next(self.times)


def test_run_cells_skips_finished_cells_and_starts_none_after_the_deadline(dirs):
    cache, cells = dirs
    done, changed, late = (ssr_table.Cell("movies", m, 0) for m in ("rnp", "fr", "semi"))
    write_record(done, cache, cells, 0.8, 0.1)
    other_settings = ssr_table.cell_config(ssr_table.Cell("movies", "fr", 5), cache)
    ssr_table.write_json(
        changed.record_path(cells), {"config": ssr_table.config_json(other_settings)}
    )
    assert ssr_table.cell_state(changed, ssr_table.cell_config(changed, cache), cells) == "changed"
    ran = []

    def run(cell, config):
        ran.append(cell)
        write_record(cell, cache, cells, 0.7, 0.1)

    # constructed at 0 s with a one-minute budget; checked at 30 s (changed) and 61 s (late)
    deadline = ssr_table.Deadline(1.0, clock=FakeClock([0.0, 30.0, 61.0]))
    outcome = ssr_table.run_cells(
        [done, changed, late],
        configure=lambda cell: ssr_table.cell_config(cell, cache),
        run=run,
        cells_dir=cells,
        deadline=deadline,
        console=quiet(),
    )
    assert ran == [changed]
    assert (outcome.skipped, outcome.ran, outcome.not_started) == (
        [str(done)],
        [str(changed)],
        [str(late)],
    )
    assert ssr_table.cell_state(changed, ssr_table.cell_config(changed, cache), cells) == "done"
    assert ssr_table.cell_state(late, ssr_table.cell_config(late, cache), cells) == "missing"


def run_all(cells_list, cache: Path, cells: Path, reuse_stale: bool):
    """run_cells without a deadline; returns the outcome and the cells it ran."""
    ran = []

    def run(cell, config):
        ran.append(cell)
        write_record(cell, cache, cells, 0.7, 0.1)

    outcome = ssr_table.run_cells(
        cells_list,
        configure=lambda cell: ssr_table.cell_config(cell, cache),
        run=run,
        cells_dir=cells,
        deadline=ssr_table.Deadline(None),
        console=quiet(),
        reuse_stale=reuse_stale,
    )
    return outcome, ran


@pytest.mark.parametrize(
    "made_by",
    [
        {"provenance": OLD_CODE},  # the package changed since
        {"provenance": None},  # written before provenance was recorded
        {"trained_by": {"run": OLD_CODE}},  # scored now, from a run the old code trained
    ],
)
def test_a_cell_made_by_other_code_is_run_again(dirs, made_by):
    cache, cells = dirs
    cell = ssr_table.Cell("hatexplain", "semi", 1)
    config = ssr_table.cell_config(cell, cache)
    write_record(cell, cache, cells, 0.8, 0.3, **made_by)
    assert ssr_table.cell_state(cell, config, cells) == "stale"
    assert ssr_table.finished_record(cell, config, cells) is None  # counts as missing
    assert ssr_table.finished_record(cell, config, cells, stale_ok=True)["validation"] == {
        "token_f1": 0.3
    }
    outcome, ran = run_all([cell], cache, cells, reuse_stale=False)
    assert ran == [cell] and outcome.ran == [str(cell)]
    assert ssr_table.cell_state(cell, config, cells) == "done"  # rerun by the code of now


def test_a_stale_cell_is_reused_with_reuse_stale_and_marked_in_the_report(dirs):
    cache, cells = dirs
    stale = ssr_table.Cell("hatexplain", "rnp", 0)
    old = {"provenance": OLD_CODE, "trained_by": {"run": OLD_CODE}}
    write_record(stale, cache, cells, 0.7, 0.10, **old)
    outcome, ran = run_all([stale], cache, cells, reuse_stale=True)
    assert ran == [] and outcome.skipped == [str(stale)]
    write_record(ssr_table.Cell("hatexplain", "rnp", 1), cache, cells, 0.9, 0.20)
    report = ssr_table.build_report(cells, cache, "python -m benchmarks.ssr_table --report-only")
    json.dumps(report)
    row = report["datasets"]["hatexplain"]["rows"]["rnp"]
    assert row["seeds"] == [0, 1] and row["stale_seeds"] == [0]
    assert row["metrics"]["accuracy"]["mean"] == pytest.approx(0.8)  # shown, not dropped
    assert report["stale"] == {
        "hatexplain/rnp/seed0": {
            "made_by": "commit 1234567, rationalizer 0.0.9, code 000000000000",
            "finished": "2026-11-28T04:38:58+00:00",
        }
    }
    markdown = ssr_table.render_markdown(report)
    assert "| RNP (unsupervised) | 2/3 † | 0.800 ± 0.141 |" in markdown
    stale_section = markdown.split("## Stale cells")[1]
    assert "- Code: commit 1234567, rationalizer 0.0.9, code 000000000000, finished 2026-11-28" in (
        stale_section
    )
    assert "  - hatexplain/rnp: seeds 0" in stale_section
    assert "Cells marked † were made by other code" in markdown


def test_a_cell_made_by_the_code_of_now_is_reused_unmarked(dirs):
    cache, cells = dirs
    cell = ssr_table.Cell("fever", "fr", 2)
    write_record(cell, cache, cells, 0.64, 0.0)
    outcome, ran = run_all([cell], cache, cells, reuse_stale=False)
    assert ran == [] and outcome.skipped == [str(cell)]
    report = ssr_table.build_report(cells, cache, "python -m benchmarks.ssr_table --report-only")
    assert report["datasets"]["fever"]["rows"]["fr"]["stale_seeds"] == []
    assert report["stale"] == {}
    markdown = ssr_table.render_markdown(report)
    assert "| FR (unsupervised) | 1/3 | 0.640 |" in markdown
    assert "†" not in markdown  # no mark, and no legend for one
    assert "None: every cell was made by the code of this report." in markdown
    assert f"Code: {code_text(ssr_table.provenance())}." in markdown
    assert ssr_table.SCRIPT.name in ssr_table.provenance()["scripts"]


def test_a_cached_run_trained_by_other_code_is_not_reused_unless_asked(dirs):
    cache, _ = dirs
    cell = ssr_table.Cell("hatexplain", "ssr-unif", 0)
    config = ssr_table.cell_config(cell, cache)
    runs = ssr_table.cell_runs(config, cell.run_dir(cache))
    assert runs == {"run": cell.run_dir(cache), "discovery": config.shortcut_run}
    ssr_table.check_runs(runs, config, reuse_stale=False)  # nothing trained yet
    discovery = runs["discovery"]
    discovery.mkdir(parents=True)
    (discovery / "summary.json").write_text(json.dumps({"provenance": OLD_CODE}))
    with pytest.raises(RationalizerError, match=r"trained by other code.*--reuse-stale"):
        ssr_table.check_runs(runs, config, reuse_stale=False)
    ssr_table.check_runs(runs, config, reuse_stale=True)
    # the record names the code of each run it was made from: it is stale
    summary = {
        "effective_config": {"shortcut_weight": 0.0},
        "overrides": [
            {"setting": "shortcut_weight", "requested": 0.1, "used": 0.0, "reason": "none found"}
        ],
    }
    made = ssr_table.made_from(runs, summary)
    assert made == {
        "trained_by": {"run": None, "discovery": OLD_CODE},
        "effective_config": {"shortcut_weight": 0.0},
        "overrides": summary["overrides"],
    }
    assert not ssr_table.is_current({"provenance": ssr_table.provenance(), **made})
    assert "discovery trained by commit 1234567" in ssr_table.made_by(
        {"provenance": ssr_table.provenance(), **made}
    )


def test_settings_the_code_switched_at_run_time_are_listed(dirs):
    cache, cells = dirs
    overrides = [
        {"setting": "selection_rate", "requested": None, "used": 0.08, "reason": "not set"},
        {
            "setting": "shortcut_weight",
            "requested": 0.1,
            "used": 0.0,
            "reason": "no annotated example has a shortcut word",
        },
    ]
    cell = ssr_table.Cell("fever", "ssr-virt", 1)
    write_record(cell, cache, cells, 0.55, 0.4, overrides=overrides)
    report = ssr_table.build_report(cells, cache, "python -m benchmarks.ssr_table --report-only")
    row = report["datasets"]["fever"]["rows"]["ssr-virt"]
    assert row["switched"] == [{"seed": 1} | overrides[1]]  # a default filled in is not listed
    markdown = ssr_table.render_markdown(report)
    assert (
        "- `shortcut_weight` 0.1 → 0.0 (no annotated example has a shortcut word): "
        "SSR_virt (seed 1)" in markdown
    )


def test_a_setting_added_later_at_its_default_keeps_a_cell_finished(dirs):
    config = ssr_table.cell_config(ssr_table.Cell("movies", "semi", 0), dirs[0])
    older = ssr_table.config_json(config)
    del older["gumbel_tau"]  # a record written before this setting existed
    assert ssr_table.same_settings(older, config)
    assert not ssr_table.same_settings(older | {"epochs": 3}, config)
    assert not ssr_table.same_settings(older | {"no_such_setting": 1}, config)


def test_a_failing_cell_does_not_stop_the_others(dirs):
    cache, cells = dirs
    first, second = ssr_table.Cell("hatexplain", "rnp", 0), ssr_table.Cell("hatexplain", "fr", 0)
    ran = []

    def run(cell, config):
        if cell == first:
            raise RuntimeError("boom")
        ran.append(cell)

    outcome = ssr_table.run_cells(
        [first, second],
        configure=lambda cell: ssr_table.cell_config(cell, cache),
        run=run,
        cells_dir=cells,
        deadline=ssr_table.Deadline(None),
        console=quiet(),
    )
    assert outcome.failed == [str(first)]
    assert ran == [second]


# ---------------------------------------------------------------------------- aggregation
def test_summarize_uses_the_sample_standard_deviation():
    # mean 0.7; squared deviations 0.04, 0, 0.04 → variance 0.08 / (3 − 1) = 0.04 → std 0.2
    summary = ssr_table.summarize([0.5, 0.7, 0.9])
    assert summary.mean == pytest.approx(0.7)
    assert summary.std == pytest.approx(0.2)
    assert summary.n == 3
    assert ssr_table.summarize([0.4]).std is None
    assert ssr_table.summarize([]) is None


def test_test_metrics_prefer_the_annotated_only_rationale_section():
    flat = {
        "classification_scores.accuracy": 0.9,
        "token_prf.instance_micro.f1": 0.2,
        "annotated_only.token_prf.instance_micro.f1": 0.4,
        "selection_rate.micro": 0.1,
        "annotated_only.selection_rate.micro": 0.3,
    }
    assert ssr_table.test_metrics(flat) == {
        "accuracy": 0.9,
        "token_f1": 0.4,
        "selection_rate": 0.3,
    }
    without = {k: v for k, v in flat.items() if not k.startswith("annotated_only.")}
    assert ssr_table.test_metrics(without)["token_f1"] == 0.2


def test_format_summary():
    fraction, minutes = ssr_table.TEST_METRICS["accuracy"], ssr_table.COST_METRICS["wall_minutes"]
    assert (
        ssr_table.format_summary({"mean": 0.7, "std": 0.2, "n": 3}, fraction, 3) == "0.700 ± 0.200"
    )
    assert ssr_table.format_summary({"mean": 0.7, "std": None, "n": 1}, fraction, 1) == "0.700"
    # a seed without this number (wall time of a reused run) is shown as a smaller n
    assert ssr_table.format_summary({"mean": 7.25, "std": 0.5, "n": 2}, minutes, 3) == (
        "7.2 ± 0.5 (n=2)"
    )
    assert ssr_table.format_summary(None, fraction, 3) == "missing"


def test_group_missing_merges_the_seeds_of_a_cell():
    missing = [
        "movies/rnp/seed1",
        "movies/rnp/seed2",
        "movies/ssr-unif+best: augmentation not chosen yet (search cells missing: x)",
        "fever/fr/seed0",
        "throughput/gru",
    ]
    assert ssr_table.group_missing(missing) == [
        "movies/rnp: seeds 1, 2",
        "movies/ssr-unif+best: augmentation not chosen yet (search cells missing: x)",
        "fever/fr: seeds 0",
        "throughput/gru",
    ]


def test_dataset_report_aggregates_finished_seeds_and_lists_the_missing(dirs):
    cache, cells = dirs
    write_record(ssr_table.Cell("movies", "rnp", 0), cache, cells, 0.7, 0.10)
    write_record(ssr_table.Cell("movies", "rnp", 1), cache, cells, 0.9, 0.20)
    report = ssr_table.dataset_report("movies", (0, 1, 2), cells, cache)
    accuracy = report["rows"]["rnp"]["metrics"]["accuracy"]
    # mean of 0.7 and 0.9; std sqrt((0.1² + 0.1²) / 1) = 0.1414
    assert accuracy["mean"] == pytest.approx(0.8)
    assert accuracy["std"] == pytest.approx(math.sqrt(0.02))
    assert accuracy["n"] == 2
    assert report["rows"]["rnp"]["metrics"]["wall_minutes"]["mean"] == pytest.approx(2.0)
    assert report["rows"]["rnp"]["seeds"] == [0, 1]
    assert report["rows"]["fr"]["metrics"] == {}
    assert "movies/rnp/seed2" in report["missing"]
    assert "movies/fr/seed0" in report["missing"]
    assert any(
        m.startswith("movies/ssr-unif+best: augmentation not chosen") for m in report["missing"]
    )
    assert all(t["status"] == "pending" for t in report["targets"])


def test_markdown_shows_means_and_never_fills_missing_cells(dirs):
    cache, cells = dirs
    write_record(ssr_table.Cell("movies", "rnp", 0), cache, cells, 0.7, 0.10)
    write_record(ssr_table.Cell("movies", "rnp", 1), cache, cells, 0.9, 0.20)
    report = ssr_table.build_report(cells, cache, "python -m benchmarks.ssr_table --report-only")
    json.dumps(report)  # the report is stored as JSON
    markdown = ssr_table.render_markdown(report)
    assert "| RNP (unsupervised) | 2/3 | 0.800 ± 0.141 |" in markdown
    fr_row = next(line for line in markdown.splitlines() if line.startswith("| FR "))
    assert fr_row.count("missing") == len(ssr_table.TEST_METRICS) + len(ssr_table.COST_METRICS)
    assert "- movies/rnp: seeds 2" in markdown
    assert "- throughput/minilm" in markdown
    assert "`python -m benchmarks.ssr_table --seeds 0`" in markdown  # the cells' command
    assert "torch 2.x with 1 thread(s)" in markdown


def test_machines_that_differ_only_in_library_versions_are_listed_once(dirs):
    """The references record also notes scikit-learn and numpy; the machine is the same."""
    cache, cells = dirs
    write_record(ssr_table.Cell("movies", "rnp", 0), cache, cells, 0.7, 0.10)
    record_path = ssr_table.Cell("movies", "rnp", 1).record_path(cells)
    write_record(ssr_table.Cell("movies", "rnp", 1), cache, cells, 0.9, 0.20)
    record = json.loads(record_path.read_text())
    record["machine"] = {**MACHINE, "scikit-learn": "1.x"}
    ssr_table.write_json(record_path, record)
    report = ssr_table.build_report(cells, cache, "python -m benchmarks.ssr_table --report-only")
    assert len(report["cell_machines"]) == 2
    markdown = ssr_table.render_markdown(report)
    machines = markdown.split("Machines that ran the cells:")[1].split("## Protocol")[0]
    assert machines.count("torch 2.x with 1 thread(s)") == 1


def shortcut_report(selected: int, shortcut: int, phrases: tuple[str, ...]) -> ShortcutReport:
    stats = tuple(
        PhraseStats(
            phrase=p,
            count=3,
            occurrences=4,
            label_counts={"pos": 3},
            skew_label="pos",
            skew_share=1.0,
            log_odds=0.5,
            contexts=(),
        )
        for p in phrases
    )
    return ShortcutReport(
        labels=("neg", "pos"),
        label_counts={"neg": 5, "pos": 5},
        annotated_examples=10,
        examples_with_shortcuts=4 if shortcut else 0,
        shortcut_words=shortcut,
        selected_words=selected,
        distinct_phrases=len(phrases),
        distinct_unigrams=len(phrases),
        top=None,
        min_count=1,
        window=3,
        phrases=stats,
    )


def test_discovery_is_summarised_per_seed(dirs, tmp_path):
    cache, cells = dirs
    assert ssr_table.discovery_summary(tmp_path) is None  # not an SSR run
    phrases = ("at the odeon", "on a tuesday", "i", "so", "but", "even")
    shortcut_report(40, 25, phrases).save_json(tmp_path / "shortcuts.json")
    found = ssr_table.discovery_summary(tmp_path)
    assert found == {
        "annotated_examples": 10,
        "examples_with_shortcuts": 4,
        "selected_words": 40,
        "shortcut_words": 25,
        "top_phrases": list(phrases[: ssr_table.DISCOVERY_TOP_PHRASES]),
    }
    for seed in (0, 1):
        cell = ssr_table.Cell("movies", "ssr-unif", seed)
        write_record(cell, cache, cells, 0.8, 0.2)
        record = json.loads(cell.record_path(cells).read_text(encoding="utf-8"))
        record["discovery"] = found
        ssr_table.write_json(cell.record_path(cells), record)
    report = ssr_table.dataset_report("movies", (0, 1, 2), cells, cache)
    assert report["discovery"] == {0: found, 1: found}
    markdown = "\n".join(ssr_table._discovery_markdown(json.loads(json.dumps(report["discovery"]))))
    assert (
        "| 0 | 10 | 4 | 2.5 | 0.62 | `at the odeon`, `on a tuesday`, `i`, `so`, `but` |" in markdown
    )
    assert "every SSR run trains exactly like" not in markdown


def test_a_discovery_that_selects_nothing_is_called_out():
    nothing = {
        "annotated_examples": 10,
        "examples_with_shortcuts": 0,
        "selected_words": 0,
        "shortcut_words": 0,
        "top_phrases": [],
    }
    markdown = "\n".join(ssr_table._discovery_markdown({"0": nothing}))
    assert "| 0 | 10 | 0 | 0.0 | — (none selected) | — |" in markdown
    assert "every SSR run trains exactly like semi-supervised RNP" in markdown
    assert ssr_table._discovery_markdown({}) == [
        "Shortcut discovery: not recorded yet (no finished SSR_unif cell holds it)."
    ]


def test_missing_discoveries_are_recorded_once(dirs, tmp_path):
    cache, cells = dirs
    seen = []

    def discover(config, out, console):
        seen.append((config.seed, config.shortcut_run, out))
        out.mkdir(parents=True)
        shortcut_report(12, 5, ("i", "so")).save_json(out / "shortcuts.json")

    for seed in (0, 1):
        write_record(ssr_table.Cell("movies", "ssr-unif", seed), cache, cells, 0.8, 0.2)
    kwargs = {"cache_dir": cache, "cells_dir": cells, "console": quiet(), "discover": discover}
    assert ssr_table.record_missing_discoveries("movies", (0, 1, 2), **kwargs) == [0, 1]
    discovery_run = ssr_table.discovery_run_dir("movies", 1, cache)
    assert seen[1] == (1, discovery_run, cache / "movies" / "discovery" / "seed1")
    stored = ssr_table.read_json(ssr_table.Cell("movies", "ssr-unif", 1).record_path(cells))
    assert stored["discovery"]["shortcut_words"] == 5
    assert stored["discovery"]["top_phrases"] == ["i", "so"]
    assert ssr_table.record_missing_discoveries("movies", (0, 1, 2), **kwargs) == []  # not again
    assert len(seen) == 2


# -------------------------------------------------------------------------------- targets
def rows_with(
    token_f1: dict[str, tuple[float, int]], accuracy: float = 0.83, full_text: float = 0.84
) -> dict:
    rows = {"full-text": {"label": "full-text", "metrics": {}}}
    rows["full-text"]["metrics"]["accuracy"] = {"mean": full_text, "std": 0.0, "n": 3}
    for key in ("semi", "ssr-unif", "ssr-unif+best", "ssr-virt", "ssr-virt+best"):
        mean, n = token_f1.get(key, (0.0, 0))
        metrics = {}
        if n:
            metrics = {
                "token_f1": {"mean": mean, "std": 0.0, "n": n},
                "accuracy": {"mean": accuracy, "std": 0.0, "n": n},
            }
        rows[key] = {"label": key, "metrics": metrics}
    return rows


def test_targets_compare_ssr_with_semi_and_the_full_text_model():
    rows = rows_with({"semi": (0.20, 3), "ssr-unif": (0.24, 3), "ssr-virt": (0.21, 3)})
    references = {"bag_of_words": {"test": {"accuracy": 0.85}}}
    movies = [t for t in ssr_table.evaluate_targets("movies", rows, references, 3)]
    unif = {t["target"]: t for t in movies if t["row"] == "ssr-unif"}
    token = unif["ssr-unif: test token F1 ≥ semi-supervised RNP + 0.02"]
    assert token["status"] == "met" and token["difference"] == pytest.approx(0.04)
    gap = unif["ssr-unif: test accuracy ≥ full-text accuracy (same encoder) − 0.02"]
    assert gap["status"] == "met" and gap["difference"] == pytest.approx(-0.01)  # 0.83 vs 0.84
    assert unif["ssr-unif: test accuracy ≥ 0.90"]["status"] == "not met"
    assert unif["ssr-unif: test token F1 ≥ 0.37"]["status"] == "not met"  # 0.24
    virt = {t["target"]: t["status"] for t in movies if t["row"] == "ssr-virt"}
    assert virt["ssr-virt: test token F1 ≥ semi-supervised RNP + 0.02"] == "not met"  # +0.01
    # semi has no gain target of its own; rows without every seed stay pending
    assert not any("semi-supervised RNP +" in t["target"] for t in movies if t["row"] == "semi")
    assert all(t["status"] == "pending" for t in movies if t["row"] == "ssr-unif+best")
    # FEVER compares accuracy with bag-of-words, HateXplain has no absolute floors
    fever = {
        t["target"]: t["status"] for t in ssr_table.evaluate_targets("fever", rows, references, 3)
    }
    assert fever["semi: test accuracy ≥ bag-of-words full-text accuracy"] == "not met"  # 0.83
    hatexplain = ssr_table.evaluate_targets("hatexplain", rows, references, 3)
    assert {t["target"].split(": ", 1)[1] for t in hatexplain if t["row"] == "semi"} == {
        "test accuracy ≥ full-text accuracy (same encoder) − 0.02"
    }
    far = ssr_table.evaluate_targets("movies", rows_with({"semi": (0.4, 3)}, 0.80), references, 3)
    assert (
        next(t["status"] for t in far if t["row"] == "semi" and "full-text" in t["target"])
        == "not met"
    )  # 0.80 < 0.84 − 0.02


# ----------------------------------------------------------------------------- references
def test_word_scores_point_towards_the_asked_label():
    def example(i: int, words: str, label: str) -> Example:
        return Example(f"e{i}", (Document(f"d{i}", tuple(words.split())),), label)

    train = Dataset(
        "toy",
        "train",
        (
            example(0, "good fun", "pos"),
            example(1, "good film", "pos"),
            example(2, "bad dull", "neg"),
            example(3, "bad film", "neg"),
        ),
        ("neg", "pos"),
    )
    features = ssr_table.BagOfWords(train)
    model = LogisticRegression(C=10.0).fit(features.features(train), [ex.label for ex in train])
    towards_pos = features.word_scores(model, ["good", "bad", "unseen"], "pos")
    towards_neg = features.word_scores(model, ["good", "bad", "unseen"], "neg")
    assert towards_pos[0] > 0 > towards_pos[1]
    assert towards_pos[2] == 0.0
    assert towards_neg.tolist() == pytest.approx((-towards_pos).tolist())


@pytest.mark.slow  # starts another process
def test_the_report_has_one_writer_at_a_time(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ssr_table, "ROOT", tmp_path)  # main changes into it
    monkeypatch.setattr(ssr_table, "CELLS_DIR", tmp_path / "cells")
    monkeypatch.setattr(ssr_table, "CACHE_DIR", tmp_path / "cache")
    report = tmp_path / "results" / "ssr_table.json"
    monkeypatch.setattr(ssr_table, "REPORT_JSON", report)
    monkeypatch.setattr(ssr_table, "REPORT_MD", report.with_suffix(".md"))
    with held_elsewhere(report, tmp_path / "cache" / ssr_table.REPORT_LOCK) as other:
        assert ssr_table.main(["--report-only"]) == 2
    err = capsys.readouterr().err
    assert f"ssr_table.json is being written by another process (pid {other.pid}" in err
    assert "run --report-only once it is done" in err
    assert not report.parent.exists()


def test_a_switch_made_in_many_cells_is_one_line():
    auto = {"setting": "precision", "requested": "auto", "used": "fp32", "reason": "a GRU"}
    length = {"setting": "max_length", "requested": None, "used": 512, "reason": "the model's"}
    switched = {
        "semi": [auto | {"seed": 1}, auto | {"seed": 0}],
        "FR": [auto | {"seed": 2}, length | {"seed": 2}],
    }
    lines = ssr_table.switched_markdown(switched)
    assert lines[:3] == ["", "Settings the code switched at run time:", ""]
    assert lines[3:] == [
        "- `precision` auto → fp32 (a GRU): semi (seeds 0, 1); FR (seed 2)",
        "- `max_length` None → 512 (the model's): FR (seed 2)",
    ]
    assert ssr_table.switched_markdown({}) == []
