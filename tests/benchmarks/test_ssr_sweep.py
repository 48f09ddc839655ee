"""benchmarks/ssr_sweep.py: variants of the table's SSR cell, validation only, and its report.

Nothing here trains a model: training is replaced by a function that writes summary.json.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from rich.console import Console
from tests.benchmarks.helpers import MACHINE, OLD_CODE

from benchmarks import ssr_sweep, ssr_table
from rationalizer._environment import code_text
from rationalizer.errors import RationalizerError
from rationalizer.provenance import code_provenance
from rationalizer.training.discovery import unsupervised_config


@pytest.fixture()
def sweep(tmp_path, monkeypatch):
    """The script as a module, with the table's folders moved under tmp_path."""
    monkeypatch.setattr(ssr_table, "CELLS_DIR", tmp_path / "table-cells")
    monkeypatch.setattr(ssr_table, "CACHE_DIR", tmp_path / "table-cache")
    return ssr_sweep


def validation(token_f1: float, accuracy: float = 0.8) -> dict[str, float]:
    return {
        "accuracy": accuracy,
        "token_f1": token_f1,
        "token_precision": token_f1,
        "token_recall": token_f1,
        "selection_rate": 0.1,
    }


def write_table_record(sweep, cell, token_f1: float, **fields) -> None:
    """A table cell record as ssr_table.py stores it, made by the code of now unless
    ``fields`` say otherwise; its test report must never be read."""
    table = sweep.table
    record = {
        "config": table.config_json(table.cell_config(cell, table.CACHE_DIR)),
        "report": {"token_prf.instance_micro.f1": 0.99},
        "validation": validation(token_f1),
        "machine": MACHINE,
        "provenance": table.provenance(),
        "trained_by": {"run": code_provenance()},
    }
    table.write_json(cell.record_path(table.CELLS_DIR), record | fields)


def write_variant_record(sweep, variant, cells: Path, token_f1: float, **fields) -> None:
    """A variant record as run_variant stores it, made by the code of now unless ``fields``
    say otherwise."""
    record = {
        "config": sweep.table.config_json(variant.config(sweep.table.CACHE_DIR)),
        "validation": validation(token_f1),
        "machine": MACHINE,
        "provenance": sweep.provenance(),
        "trained_by": {"run": code_provenance()},
    }
    sweep.table.write_json(variant.record_path(cells), record | fields)


def finish_search(sweep, dataset: str = "movies", method: str = "ssr-unif") -> None:
    for augment, score in (("random", 0.20), ("semantic", 0.25), ("mixed", 0.22)):
        write_table_record(sweep, sweep.table.Cell(dataset, method, 0, augment), score)


def test_variants_change_one_setting_of_the_tables_cell(sweep):
    table = sweep.table
    base = table.Cell("movies", "ssr-unif", 1, "semantic")
    table_config = table.cell_config(base, table.CACHE_DIR)
    assert sweep.Variant(base, sweep.TABLE_VARIANT).config(table.CACHE_DIR) == table_config
    for name, change in sweep.VARIANTS.items():
        config = sweep.Variant(base, name).config(table.CACHE_DIR)
        differing = {
            key
            for key, value in config.model_dump().items()
            if value != table_config.model_dump()[key]
        }
        changed = {key for key, value in change.items() if value != getattr(table_config, key)}
        # more epochs pin discovery to the table's epochs; nothing else changes with them
        assert differing == changed | ({"discovery_epochs"} if "epochs" in changed else set())
        # the variant reuses the table's discovery run of its seed, with its settings
        assert config.shortcut_run == table.discovery_run_dir("movies", 1, table.CACHE_DIR)
        assert unsupervised_config(config) == unsupervised_config(table_config)
    paths = {sweep.Variant(base, name).run_dir(Path("cache")) for name in sweep.VARIANTS}
    assert len(paths) == len(sweep.VARIANTS)


def test_a_longer_schedule_is_also_given_to_semi(sweep):
    table = sweep.table
    base = table.Cell("fever", "ssr-unif", 2, "random")
    ssr_run, semi_run = sweep.runs_of(base, "12 epochs")
    assert ssr_run == sweep.Variant(base, "12 epochs")
    semi_config = semi_run.config(table.CACHE_DIR)
    semi_table_config = table.cell_config(table.Cell("fever", "semi", 2), table.CACHE_DIR)
    assert semi_config == semi_table_config.model_copy(update={"epochs": 12})
    assert semi_run.run_dir(Path("cache")) != ssr_run.run_dir(Path("cache"))
    # variants of SSR's own terms have no semi counterpart
    assert sweep.runs_of(base, "λ = 1") == [sweep.Variant(base, "λ = 1")]


def test_the_console_shows_every_variant_name_whole(sweep):
    output = io.StringIO()
    console = Console(file=output, width=300)
    for name in sweep.VARIANTS:
        variant = sweep.Variant(sweep.table.Cell("movies", "ssr-unif", 0), name)
        console.print(variant.console_label)
        console.rule(variant.console_label)
        assert output.getvalue().count(f"movies/ssr-unif/seed0 [{name}]") == 2
        output.seek(0)
        output.truncate()


def test_a_variant_with_an_invalid_setting_is_refused(sweep, monkeypatch):
    base = sweep.table.Cell("movies", "ssr-unif", 0, "semantic")
    monkeypatch.setitem(sweep.VARIANTS, "misspelt", {"annotated_task_input": "rationale"})
    with pytest.raises(ValidationError, match="annotated_task_input"):
        sweep.Variant(base, "misspelt").config(sweep.table.CACHE_DIR)


def test_base_cell_takes_the_tables_chosen_augmentation(sweep):
    with pytest.raises(RationalizerError, match="augmentation search for movies/ssr-unif"):
        sweep.base_cell("movies", "ssr-unif", 0)
    finish_search(sweep)
    assert sweep.base_cell("movies", "ssr-unif", 2) == sweep.table.Cell(
        "movies", "ssr-unif", 2, "semantic"
    )


def test_run_variant_stores_validation_numbers_only(sweep, tmp_path, monkeypatch):
    finish_search(sweep)
    variant = sweep.Variant(sweep.base_cell("movies", "ssr-unif", 0), "λ = 1")
    trained = []

    overrides = [{"setting": "shortcut_weight", "requested": 1.0, "used": 0.0, "reason": "none"}]

    def fake_train(config, run_dir, console):
        """Writes the summaries train_run writes: the discovery run's and the variant's."""
        trained.append(config)
        config.shortcut_run.mkdir(parents=True)
        discovery = {"provenance": code_provenance()}
        (config.shortcut_run / "summary.json").write_text(json.dumps(discovery), encoding="utf-8")
        run_dir.mkdir(parents=True)
        summary = {
            "validation": validation(0.31),
            "best_epoch": 5,
            "epochs_run": 8,
            "provenance": code_provenance(),
            "effective_config": {"shortcut_weight": 0.0},
            "overrides": overrides,
        }
        (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")

    monkeypatch.setattr(sweep, "train_run", fake_train)
    monkeypatch.setattr(sweep.table, "machine", lambda: MACHINE)
    cells = tmp_path / "sweep-cells"
    record = sweep.run_variant(variant, tmp_path / "sweep-cache", cells, "cmd")
    assert trained[0].shortcut_weight == 1.0 and trained[0].augment == "semantic"
    assert record["validation"]["token_f1"] == 0.31
    assert "report" not in record  # no test numbers
    assert sweep.finished_variant(variant, cells, sweep.table.CACHE_DIR) == record
    assert sweep.stored_plan(cells) == {("movies", "ssr-unif+semantic"): [0]}
    # the code that made it, and what the run really used
    assert record["provenance"] == sweep.provenance()
    assert set(record["provenance"]["scripts"]) == {"ssr_sweep.py", "ssr_table.py"}
    assert record["trained_by"]["run"] == code_provenance()
    assert record["effective_config"] == {"shortcut_weight": 0.0}
    assert record["overrides"] == overrides


def test_report_rows_and_markdown(sweep, tmp_path):
    table = sweep.table
    finish_search(sweep)
    cells = tmp_path / "sweep-cells"
    for seed, semi_f1 in ((0, 0.24), (1, 0.26)):
        write_table_record(sweep, table.Cell("movies", "semi", seed), semi_f1)
    write_table_record(sweep, table.Cell("movies", "ssr-unif", 1, "semantic"), 0.27)
    stored = [
        (sweep.Variant(table.Cell("movies", "ssr-unif", seed, "semantic"), "λ = 0.01"), f1)
        for seed, f1 in ((0, 0.21), (1, 0.23))
    ]
    stored.append((sweep.Variant(table.Cell("movies", "semi", 0), "12 epochs"), 0.28))
    for variant, f1 in stored:
        write_variant_record(sweep, variant, cells, f1)
    report = sweep.build_report(sweep.stored_plan(cells), cells, "python -m benchmarks.ssr_sweep")
    (section,) = report["sections"]
    assert section["cell"] == "ssr-unif+semantic" and section["seeds"] == "0, 1"
    rows = {row["variant"]: row for row in section["rows"]}
    assert rows[sweep.SEMI_ROW]["validation"]["token_f1"]["mean"] == pytest.approx(0.25)
    # the table's own SSR row: seed 0 is the search cell (0.25), seed 1 the table cell (0.27)
    assert rows[sweep.TABLE_VARIANT]["validation"]["token_f1"]["mean"] == pytest.approx(0.26)
    assert rows["λ = 0.01"]["seeds"] == "2/2"
    assert rows["λ = 1"]["seeds"] == "0/2" and rows["λ = 1"]["validation"]["token_f1"] is None
    # semi's counterpart sits in SSR's section, just before the variant it is compared with
    semi_12 = sweep.SEMI_COUNTERPARTS["12 epochs"]
    assert rows[semi_12]["seeds"] == "1/2"
    assert rows[semi_12]["validation"]["token_f1"]["mean"] == pytest.approx(0.28)
    names = list(rows)
    assert names.index(semi_12) + 1 == names.index("12 epochs")
    markdown = sweep.render(report)
    assert "| λ = 0.01 | 2/2 | 0.800 ± 0.000 | 0.220 ± 0.014 |" in markdown
    assert "| λ = 1 | 0/2 | missing |" in markdown
    assert "0.990" not in markdown  # the test report is never read
    assert "Linux-test, 2 CPUs" in markdown
    assert report["stale"] == {} and " † |" not in markdown
    assert f"Code: {code_text(sweep.provenance())}." in markdown


def test_a_variant_made_by_other_code_runs_again_unless_stale_ones_are_reused(sweep, tmp_path):
    table = sweep.table
    finish_search(sweep)
    cells = tmp_path / "sweep-cells"
    variant = sweep.Variant(table.Cell("movies", "ssr-unif", 0, "semantic"), "λ = 1")
    write_variant_record(sweep, variant, cells, 0.3, provenance=OLD_CODE)
    assert sweep.finished_variant(variant, cells, table.CACHE_DIR) is None
    assert sweep.finished_variant(variant, cells, table.CACHE_DIR, stale_ok=True) is not None
    # a sweep record is also stale when only the table's script changed
    scripts = sweep.provenance()["scripts"] | {"ssr_table.py": "0" * 64}
    write_variant_record(
        sweep, variant, cells, 0.3, provenance=sweep.provenance() | {"scripts": scripts}
    )
    assert sweep.finished_variant(variant, cells, table.CACHE_DIR) is None
    write_variant_record(sweep, variant, cells, 0.3)
    assert sweep.finished_variant(variant, cells, table.CACHE_DIR) is not None


def test_the_report_shows_stale_records_marked(sweep, tmp_path):
    table = sweep.table
    finish_search(sweep)
    # the table's semi cell and the search cell predate provenance
    write_table_record(sweep, table.Cell("movies", "semi", 0), 0.24, provenance=None)
    write_table_record(
        sweep, table.Cell("movies", "ssr-unif", 0, "semantic"), 0.25, provenance=None
    )
    cells = tmp_path / "sweep-cells"
    variant = sweep.Variant(table.Cell("movies", "ssr-unif", 0, "semantic"), "λ = 0.01")
    write_variant_record(sweep, variant, cells, 0.21, provenance=OLD_CODE)
    with pytest.raises(RationalizerError, match=r"with the code of now \(--reuse-stale"):
        sweep.base_cell("movies", "ssr-unif", 0)
    report = sweep.build_report(sweep.stored_plan(cells), cells, "python -m benchmarks.ssr_sweep")
    rows = {row["variant"]: row for row in report["sections"][0]["rows"]}
    assert rows[sweep.SEMI_ROW]["stale_seeds"] == [0]
    assert rows[sweep.TABLE_VARIANT]["stale_seeds"] == [0]
    assert rows["λ = 0.01"]["stale_seeds"] == [0]
    assert rows["λ = 0.01"]["validation"]["token_f1"]["mean"] == pytest.approx(0.21)
    assert set(report["stale"]) == {
        "movies/semi/seed0",
        "movies/ssr-unif+semantic/seed0",
        "movies/ssr-unif+semantic/shortcut_weight=0.01/seed0",
    }
    markdown = sweep.render(report)
    assert "| λ = 0.01 | 1/1 † | 0.800 | 0.210 |" in markdown
    assert "- Code: not recorded" in markdown
    assert "- Code: commit 1234567, rationalizer 0.0.9" in markdown


def test_the_report_of_stored_variants_needs_no_finished_table_search(sweep, tmp_path):
    """Variants of two augmentations of one dataset each get their section, read from the
    stored records, although the table has not chosen an augmentation (search not run)."""
    table = sweep.table
    cells = tmp_path / "sweep-cells"
    for augment, f1 in (("random", 0.2), ("mixed", 0.3)):
        base = table.Cell("movies", "ssr-unif", 0, augment)
        write_variant_record(sweep, sweep.Variant(base, "λ = 1"), cells, f1)
    with pytest.raises(RationalizerError, match="augmentation search"):
        sweep.base_cell("movies", "ssr-unif", 0)
    plan = sweep.stored_plan(cells)
    assert plan == {("movies", "ssr-unif+mixed"): [0], ("movies", "ssr-unif+random"): [0]}
    report = sweep.build_report(plan, cells, "python -m benchmarks.ssr_sweep")
    by_cell = {
        section["cell"]: {row["variant"]: row for row in section["rows"]}
        for section in report["sections"]
    }
    assert by_cell["ssr-unif+mixed"]["λ = 1"]["validation"]["token_f1"]["mean"] == 0.3
    assert by_cell["ssr-unif+random"]["λ = 1"]["validation"]["token_f1"]["mean"] == 0.2
    assert by_cell["ssr-unif+mixed"][sweep.TABLE_VARIANT]["seeds"] == "0/1"  # no table cell


def test_variants_are_chosen_by_the_settings_they_change(sweep):
    args = sweep.parse_args(["--variants", "epochs=12,annotated_task_input=gold"])
    assert args.variants == [
        "12 epochs",
        "predictor reads the gold rationale on annotated examples",
    ]
    assert sweep.TABLE_VARIANT not in sweep.parse_args([]).variants
    assert len(sweep.parse_args([]).variants) == len(sweep.VARIANTS) - 1
    with pytest.raises(SystemExit):
        sweep.parse_args(["--variants", "epochs=13"])
