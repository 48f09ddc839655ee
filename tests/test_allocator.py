"""rationalizer.allocator: glibc keeps freed memory for reuse, once, unless the user says no."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from rationalizer import allocator

on_glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc")


@pytest.fixture
def fresh(monkeypatch):
    """keep_freed_memory as if this process had not called it yet, with mallopt recorded."""
    calls: list[tuple[int, int]] = []

    def mallopt(parameter: int, value: int) -> int:
        calls.append((parameter, value))
        return 1

    allocator.keep_freed_memory.cache_clear()
    monkeypatch.setattr(allocator, "_mallopt", lambda: mallopt)
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("glibc", "2.36"))
    yield calls
    allocator.keep_freed_memory.cache_clear()


def test_the_thresholds_are_raised_once_per_process(fresh, monkeypatch):
    monkeypatch.delenv(allocator.ENV_VARIABLE, raising=False)
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True
    assert fresh == [(-3, 1 << 30), (-1, (1 << 31) - 1)]  # mmap, then trim threshold


def test_the_environment_can_leave_the_allocator_alone(fresh, monkeypatch):
    monkeypatch.setenv(allocator.ENV_VARIABLE, "0")
    assert allocator.keep_freed_memory() is False
    assert fresh == []


def test_a_refused_threshold_falls_back_to_glibcs_own_maximum(monkeypatch):
    calls = []

    def mallopt(parameter: int, value: int) -> int:
        calls.append((parameter, value))
        return int(parameter != -3 or value <= 1 << 25)  # a build whose maximum is 32 MiB

    allocator.keep_freed_memory.cache_clear()
    monkeypatch.setattr(allocator, "_mallopt", lambda: mallopt)
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("glibc", "2.17"))
    monkeypatch.delenv(allocator.ENV_VARIABLE, raising=False)
    try:
        assert allocator.keep_freed_memory() is True
    finally:
        allocator.keep_freed_memory.cache_clear()
    assert calls[:2] == [(-3, 1 << 30), (-3, 1 << 25)]


def test_other_c_libraries_are_left_alone(monkeypatch):
    allocator.keep_freed_memory.cache_clear()
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    monkeypatch.setattr(allocator, "_mallopt", lambda: pytest.fail("mallopt called"))
    try:
        assert allocator.keep_freed_memory() is False
    finally:
        allocator.keep_freed_memory.cache_clear()


@on_glibc
def test_the_real_c_library_accepts_the_thresholds():
    """In a fresh interpreter: glibc's own mallopt takes the settings."""
    check = "from rationalizer.allocator import keep_freed_memory as k; print(k())"
    env = {key: value for key, value in os.environ.items() if key != allocator.ENV_VARIABLE}
    shown = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, env=env
    )
    assert shown.stdout.strip() == "True"
