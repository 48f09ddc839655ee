"""Training configuration files, fuzzed: any .json or .toml file gives a valid TrainConfig or an
error naming the file (and the setting, where one is at fault)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.strategies import FUZZ, json_values, raw_bytes, valid_or_error, write_bytes

from rationalizer.training.config import TrainConfig

SETTINGS = tuple(TrainConfig.model_fields)

#: settings tables: known names (and now and then an unknown one) with values of any type
settings_tables = st.dictionaries(
    st.sampled_from(SETTINGS) | st.text(max_size=8), json_values, max_size=4
)

#: TOML values of every kind, a string of two lines and arrays nested deeper than Python recurses
TOML_VALUES = (
    *("1", "-3", "0.5", "nan", "inf", "true", '"x"', '"cuda:-1"', "[1, 2]", "{a = 1}", ""),
    *("1979-05-27T07:32:00Z", '"""two\nlines"""', "[" * 800 + "]" * 800),
)
#: TOML documents: a few ``name = value`` lines, or any text
toml_text = st.lists(
    st.tuples(st.sampled_from(SETTINGS) | st.text(max_size=8), st.sampled_from(TOML_VALUES)),
    max_size=4,
).map(lambda pairs: "".join(f"{name} = {value}\n" for name, value in pairs)) | st.text(max_size=80)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("config")


def _read(path: Path, files: dict[Path, int]) -> None:
    config = valid_or_error(lambda: TrainConfig.from_file(path), files)
    if config is not None:  # what was accepted is a run's configuration: stored, it reads back
        stored = path.with_name("stored.json")
        stored.write_text(config.to_json(), encoding="utf-8")
        assert TrainConfig.from_file(stored) == config


@FUZZ
@given(table=settings_tables)
def test_any_json_settings_are_valid_or_name_the_setting(folder, table):
    path = folder / "train.json"
    files = write_bytes(path, json.dumps(table).encode())
    _read(path, files)


@FUZZ
@given(content=raw_bytes | st.just(b"[" * 100_000), suffix=st.sampled_from([".json", ".toml"]))
def test_any_bytes_are_settings_or_an_error_naming_the_file(folder, content, suffix):
    path = folder / f"raw{suffix}"
    _read(path, write_bytes(path, content))


@FUZZ
@given(text=toml_text)
def test_any_toml_is_settings_or_an_error_naming_the_file(folder, text):
    path = folder / "train.toml"
    _read(path, write_bytes(path, text.encode("utf-8", "surrogatepass")))
