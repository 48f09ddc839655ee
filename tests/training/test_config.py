"""TrainConfig: defaults, validation, JSON/TOML files and command-line overrides."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.training.config import TrainConfig, learning_rate_for


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_follow_the_method_page() -> None:
    config = TrainConfig()
    assert config.method == "ssr-unif"
    assert config.labeled_fraction == 0.25
    # the authors' Movies coefficients and shortcut weight
    assert (config.sparsity_weight, config.continuity_weight, config.shortcut_weight) == (
        0.01,
        0.01,
        0.1,
    )
    assert config.selection_rate is None
    assert config.annotated_task_input == "full"
    assert config.encoder_kind == "gru"


def test_every_setting_is_documented() -> None:
    undocumented = [
        name for name, field in TrainConfig.model_fields.items() if not field.description
    ]
    assert undocumented == []


def test_learning_rate_depends_on_the_encoder_unless_given() -> None:
    assert learning_rate_for("gru") == 2e-3
    assert learning_rate_for("minilm") == 3e-5
    assert TrainConfig().learning_rate == 2e-3
    minilm = TrainConfig(encoder="minilm")
    assert minilm.encoder_kind == "transformer"
    assert minilm.learning_rate == 3e-5
    assert TrainConfig(encoder="minilm", lr=2e-5).learning_rate == 2e-5


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"method": "lstm"}, "method", "rnp: unsupervised rationalizer"),
        ({"labeled_fraction": 1.5}, "labeled_fraction", "less than or equal to 1"),
        ({"labeled_fraction": -0.1}, "labeled_fraction", "greater than or equal to 0"),
        ({"augment": "shuffle"}, "augment", "'semantic'"),
        ({"batch_size": 0}, "batch_size", "greater than or equal to 1"),
        ({"device": "gpu0"}, "device", "not a torch device"),
        ({"select_by": "recall"}, "select_by", "'token_f1'"),
        ({"balance_supervision": 1.5}, "balance_supervision", "less than or equal to 1"),
    ],
)
def test_invalid_values_name_the_setting(settings: dict, field: str, words: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        TrainConfig(**settings)
    error = caught.value.errors()[0]
    assert error["loc"] == (field,)
    assert words in error["msg"]


def test_balance_supervision_reads_the_booleans_of_earlier_versions() -> None:
    # runs and benchmark cells saved before γ became a number hold true (γ = 1) or false
    assert TrainConfig.model_validate({"balance_supervision": True}) == TrainConfig()
    assert TrainConfig.model_validate({"balance_supervision": False}).balance_supervision == 0.0


@pytest.mark.parametrize("method", ["rnp", "fr", "semi", "supervised"])
def test_augmentation_needs_a_shortcut_method(method: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="only the ssr-unif and ssr-virt"):
        TrainConfig(method=method, augment="random")
    assert TrainConfig(method=method).augment == "none"


def test_augmentation_is_allowed_for_ssr() -> None:
    assert TrainConfig(method="ssr-virt", augment="mixed", augment_copies=2).augment_copies == 2


def test_shortcut_settings_need_a_shortcut_method_and_annotations() -> None:
    with pytest.raises(pydantic.ValidationError, match="shortcut_run is only used by"):
        TrainConfig(method="semi", shortcut_run=Path("runs/rnp"))
    with pytest.raises(pydantic.ValidationError, match="discovery_epochs is only used by"):
        TrainConfig(method="fr", discovery_epochs=8)
    with pytest.raises(pydantic.ValidationError, match="labeled_fraction must be above 0"):
        TrainConfig(method="ssr-unif", labeled_fraction=0.0)
    assert TrainConfig(method="rnp", labeled_fraction=0.0).labeled_fraction == 0.0


def test_config_is_frozen() -> None:
    config = TrainConfig()
    with pytest.raises(pydantic.ValidationError):
        config.epochs = 3  # type: ignore[misc]


def test_toml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "run.toml",
        'dataset = "movies"\nmethod = "semi"\nepochs = 3\nlabeled_fraction = 0.5\n'
        'data_dir = "data"\nstraight_through = true\n',
    )
    config = TrainConfig.from_file(path)
    assert config.dataset == "movies"
    assert config.method == "semi"
    assert config.epochs == 3
    assert config.labeled_fraction == 0.5
    assert config.data_dir == Path("data")
    assert config.straight_through is True
    assert config.batch_size == 32  # untouched settings keep their defaults


def test_json_file_and_round_trip(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "run.json",
        '{"dataset": "hatexplain", "method": "ssr-virt", "augment": "semantic",'
        ' "shortcut_run": "runs/rnp", "selection_rate": 0.2}',
    )
    config = TrainConfig.from_file(path)
    assert config.method == "ssr-virt"
    assert config.shortcut_run == Path("runs/rnp")
    assert config.selection_rate == 0.2
    again = write(tmp_path, "again.json", config.to_json())
    assert TrainConfig.from_file(again) == config


def test_unknown_setting_in_a_file_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "run.toml", 'dataset = "movies"\nlearning_rate = 0.1\n')
    with pytest.raises(DataFormatError) as caught:
        TrainConfig.from_file(path)
    assert caught.value.path == str(path)
    assert caught.value.field == "learning_rate"
    assert "unknown setting" in str(caught.value)


def test_invalid_value_in_a_file_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "run.json", '{"labeled_fraction": 1.5}')
    with pytest.raises(DataFormatError, match=r"run\.json, field 'labeled_fraction'"):
        TrainConfig.from_file(path)
    path = write(tmp_path, "rnp.toml", 'method = "rnp"\naugment = "random"\n')
    with pytest.raises(DataFormatError, match="only the ssr-unif and ssr-virt"):
        TrainConfig.from_file(path)


def test_malformed_files(tmp_path: Path) -> None:
    broken_json = write(tmp_path, "run.json", '{\n  "epochs": 3,\n}')
    with pytest.raises(DataFormatError) as caught:
        TrainConfig.from_file(broken_json)
    assert caught.value.line == 3
    with pytest.raises(DataFormatError, match="invalid TOML"):
        TrainConfig.from_file(write(tmp_path, "run.toml", "epochs = = 3"))
    with pytest.raises(DataFormatError, match="table of settings"):
        TrainConfig.from_file(write(tmp_path, "list.json", "[1, 2]"))
    with pytest.raises(DataFormatError, match=r"\.json or \.toml"):
        TrainConfig.from_file(write(tmp_path, "run.yaml", "epochs: 3"))
    with pytest.raises(DataFormatError, match="cannot read"):
        TrainConfig.from_file(tmp_path / "missing.toml")


def test_overrides_replace_given_values_and_ignore_none(tmp_path: Path) -> None:
    base = TrainConfig(dataset="movies", epochs=5, seed=1)
    changed = base.with_overrides(epochs=2, seed=None, dataset=None, method="fr")
    assert (changed.dataset, changed.epochs, changed.seed, changed.method) == (
        "movies",
        2,
        1,
        "fr",
    )
    assert base.epochs == 5


def test_overrides_are_validated_together() -> None:
    base = TrainConfig(method="ssr-unif", augment="random")
    with pytest.raises(RationalizerError, match="only the ssr-unif and ssr-virt"):
        base.with_overrides(method="rnp")
    with pytest.raises(RationalizerError, match="setting 'colour': unknown setting"):
        base.with_overrides(colour="red")
    with pytest.raises(RationalizerError, match="setting 'epochs'"):
        base.with_overrides(epochs=0)


def _documented_default(name: str, default: object) -> str:
    """How docs/training.md's settings table writes a default."""
    if name == "discovery_epochs":
        return "`epochs`"
    return "–" if default is None else f"`{default!r}`"


def test_the_settings_table_of_the_docs_lists_every_setting_with_its_default() -> None:
    docs = Path(__file__).parents[2] / "docs" / "training.md"
    lines = docs.read_text(encoding="utf-8").splitlines()
    start = lines.index("| setting | default | meaning |") + 2
    rows = {}
    for line in lines[start:]:
        if not line.startswith("| `"):
            break
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells[1]
    expected = {
        name: _documented_default(name, field.default)
        for name, field in TrainConfig.model_fields.items()
    }
    assert rows == expected


def test_a_run_is_the_same_run_on_another_device() -> None:
    """Resuming on a GPU what started on a CPU is allowed; other settings make another run."""
    config = TrainConfig(method="semi")
    assert config.same_run(config.model_copy(update={"device": "cuda:1"}))
    assert not config.same_run(config.model_copy(update={"precision": "fp16"}))
