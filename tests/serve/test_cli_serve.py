"""``rationalizer serve``: options reach the server, and a public address is warned about."""

from __future__ import annotations

import pytest
import torch
import typer
from typer.testing import CliRunner

import rationalizer.serve.app
from rationalizer.cli.serve import is_loopback, serve_command
from rationalizer.errors import RationalizerError
from rationalizer.serve import ServeLimits, WorkerSettings

runner = CliRunner()


@pytest.fixture
def started(monkeypatch) -> list[dict]:
    """The arguments each `serve` call got; the server itself is not started."""
    calls: list[dict] = []
    monkeypatch.setattr(
        rationalizer.serve.app,
        "serve",
        lambda *args, **kwargs: calls.append({"args": args, **kwargs}),
    )
    return calls


def run_cli(*args: str):
    app = typer.Typer()
    app.command()(serve_command)
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


def test_defaults_serve_on_loopback_with_the_default_limits(started, tmp_path):
    result = run_cli("--run", str(tmp_path))
    assert result.exit_code == 0, result.output
    [call] = started
    assert call["args"] == (tmp_path, None)
    assert (call["host"], call["port"], call["limits"]) == ("127.0.0.1", 8000, ServeLimits())
    assert call["workers"] == WorkerSettings()
    assert "http://127.0.0.1:8000/" in result.output
    assert "warning" not in result.output


def test_options_set_the_model_address_and_limits(started, tmp_path):
    result = run_cli(
        "-r", str(tmp_path), "-m", "hf:models/sst2", "--host", "::1", "--port", "9001",
        "--max-words", "50", "--max-body-bytes", "4096", "--timeout", "2.5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [call] = started
    assert call["args"] == (tmp_path, "hf:models/sst2")
    assert (call["host"], call["port"]) == ("::1", 9001)
    assert call["limits"] == ServeLimits(max_body_bytes=4096, max_words=50, timeout_seconds=2.5)
    assert "http://[::1]:9001/" in result.output


def test_options_set_the_workers_batching_device_and_precision(started, tmp_path):
    result = run_cli(
        "-r", str(tmp_path), "--workers", "3", "--max-batch-size", "16",
        "--batch-timeout-ms", "2.5", "--device", "cpu", "--precision", "bf16", "--threads", "4",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [call] = started
    assert call["workers"] == WorkerSettings(
        workers=3, max_batch_size=16, batch_timeout_ms=2.5, device="cpu", precision="bf16",
        threads=4,
    )  # fmt: skip


@pytest.mark.skipif(torch.cuda.device_count() > 7, reason="the machine has a GPU cuda:7")
def test_a_device_the_machine_lacks_is_refused_naming_the_flag(started, tmp_path):
    with pytest.raises(RationalizerError, match="--device"):
        run_cli("-r", str(tmp_path), "--device", "cuda:7")
    assert started == []


def test_a_public_address_is_served_with_a_warning(started, tmp_path):
    result = run_cli("-r", str(tmp_path), "--host", "0.0.0.0")
    assert result.exit_code == 0
    assert "warning: listening on 0.0.0.0" in result.output
    assert started


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--max-words", "0", "max_words must be ≥ 1"),
        ("--workers", "-1", "workers must be ≥ 0"),
        ("--max-batch-size", "0", "max_batch_size must be ≥ 1"),
        ("--precision", "fp8", "precision 'fp8' is not one of"),
    ],
)
def test_bad_settings_are_refused_before_anything_loads(started, tmp_path, option, value, reason):
    with pytest.raises(RationalizerError, match=reason):
        run_cli("-r", str(tmp_path), option, value)
    assert started == []


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.20", False), ("example.org", False)],
)  # fmt: skip
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback
