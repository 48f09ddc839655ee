"""Adding a training method is one Method subclass: the configuration, the command line and the
benchmark that runs every method all read the method registry."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pydantic
import pytest
from tests.cli.cli_helpers import invoke

from rationalizer.training import methods
from rationalizer.training.config import TrainConfig

SSR_TABLE = Path(__file__).resolve().parents[2] / "benchmarks" / "ssr_table.py"
NAME = "throwaway"
DESCRIPTION = "SSR_unif under another name, registered by a test"


@pytest.fixture
def throwaway_method(monkeypatch: pytest.MonkeyPatch) -> str:
    """A method that trains on shortcuts, registered for one test: the class registers into a
    copy of the registry, which monkeypatch swaps back afterwards."""
    monkeypatch.setattr(methods, "_METHODS", dict(methods._METHODS))

    class Throwaway(methods.SSRUniform):
        name = NAME
        description = DESCRIPTION

    return Throwaway.name


@contextmanager
def loaded_ssr_table() -> Iterator[ModuleType]:
    """benchmarks/ssr_table.py loaded now, so that its lists see the registry as it is."""
    spec = importlib.util.spec_from_file_location("ssr_table_registry_check", SSR_TABLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_the_configuration_accepts_a_registered_method(throwaway_method: str) -> None:
    config = TrainConfig(method=throwaway_method, augment="random")
    assert config.uses_shortcuts
    assert config.filled_defaults()[-1].setting == "discovery_epochs"
    schema = TrainConfig.model_json_schema()["properties"]["method"]
    assert throwaway_method in schema["enum"]


def test_an_unknown_method_is_refused_with_every_registered_one(throwaway_method: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        TrainConfig(method="lasso")
    message = caught.value.errors()[0]["msg"]
    assert "'lasso' is not a training method" in message
    for name, description in methods.available_methods().items():
        assert f"{name}: {description}" in message
    assert f"{throwaway_method}: {DESCRIPTION}" in message


def test_shortcut_settings_name_the_registered_shortcut_methods(throwaway_method: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="only the ssr-unif, ssr-virt and throwaway"):
        TrainConfig(method="fr", augment="random")


def test_train_help_and_method_list_show_a_registered_method(throwaway_method: str) -> None:
    help_text = invoke("train", "--help")
    assert f"| {throwaway_method} (--list-methods" in help_text
    assert DESCRIPTION in invoke("train", "--list-methods")


def test_the_table_benchmark_runs_every_registered_method(throwaway_method: str) -> None:
    with loaded_ssr_table() as table:
        assert set(table.METHODS) == set(methods.available_methods())
        assert throwaway_method in table.SSR_METHODS
        assert throwaway_method not in table.BASELINES
        rows = {row.key: row for row in table.table_rows({throwaway_method: "random"})}
        assert rows[throwaway_method].label == throwaway_method
        assert rows[f"{throwaway_method}+best"].augment == "random"
        assert list(rows)[-2:] == ["supervised", "full-text"]
