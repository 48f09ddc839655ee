"""The file envelope, fuzzed: any file read as any kind gives a payload without the envelope's
fields, or an error naming the file (and the line or field where one is at fault)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.strategies import FUZZ, mutated, raw_bytes, valid_or_error, write_bytes

from rationalizer.files import ENVELOPE_FIELDS, KINDS, format_name, read_json

kinds = st.sampled_from(sorted(KINDS))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("files")


def _read(path: Path, kind: str, files: dict[Path, int]) -> None:
    payload = valid_or_error(lambda: read_json(path, kind), files)
    if payload is not None:
        assert isinstance(payload, dict)
        assert ENVELOPE_FIELDS.isdisjoint(payload)


@FUZZ
@given(kind=kinds, content=raw_bytes | st.just(b"[" * 100_000))
def test_any_bytes_are_a_payload_or_an_error_naming_the_file(folder, kind, content):
    path = folder / "raw.json"
    _read(path, kind, write_bytes(path, content))


@FUZZ
@given(data=st.data(), kind=kinds, written=kinds)
def test_changed_envelopes_are_a_payload_or_an_error_naming_the_file(folder, data, kind, written):
    version = KINDS[written].version
    envelope = {"format": format_name(written), "version": version, "report": {"labels": []}}
    content = data.draw(mutated(envelope))
    path = folder / "changed.json"
    _read(path, kind, write_bytes(path, json.dumps(content).encode()))
