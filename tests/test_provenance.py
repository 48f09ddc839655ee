"""Which code made a result: git state, code digest, and how benchmarks compare them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import rationalizer
from rationalizer._environment import benchmark_provenance, same_code, trained_by
from rationalizer.errors import RationalizerError
from rationalizer.provenance import code_digest, code_provenance, describe, git_state

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(folder: Path, *args: str) -> None:
    identity = ("-c", "user.name=test", "-c", "user.email=test@example.org")
    subprocess.run(["git", *identity, *args], cwd=folder, check=True, capture_output=True)


def package(folder: Path) -> Path:
    """A tiny package: code, a template, and files that are not code."""
    (folder / "sub").mkdir(parents=True)
    (folder / "templates").mkdir()
    (folder / "__init__.py").write_text("VERSION = 1\n")
    (folder / "sub" / "mod.py").write_text("def f():\n    return 1\n")
    (folder / "templates" / "page.html").write_text("<p>hi</p>\n")
    (folder / "README.md").write_text("docs\n")
    return folder


def test_the_package_names_its_version_digest_and_commit():
    provenance = code_provenance()
    assert provenance["version"] == rationalizer.__version__
    assert len(provenance["code_digest"]) == 64
    if provenance["commit"] is None:  # e.g. installed from a wheel: it says why
        assert provenance["dirty"] is None and provenance["git"]
    else:
        assert len(provenance["commit"]) == 40 and isinstance(provenance["dirty"], bool)
    provenance["version"] = "changed by a caller"
    assert code_provenance()["version"] == rationalizer.__version__  # a copy each time


def test_the_digest_covers_code_and_templates_only(tmp_path):
    folder = package(tmp_path / "pkg")
    first = code_digest(folder)
    (folder / "README.md").write_text("other docs\n")
    (folder / "sub" / "__pycache__").mkdir()
    (folder / "sub" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    assert code_digest(folder) == first
    (folder / "templates" / "page.html").write_text("<p>hello</p>\n")
    changed_template = code_digest(folder)
    assert changed_template != first
    (folder / "sub" / "mod.py").write_text("def f():\n    return 2\n")
    assert code_digest(folder) not in (first, changed_template)


def test_a_file_moved_elsewhere_is_other_code(tmp_path):
    moved = package(tmp_path / "moved")
    (moved / "sub" / "mod.py").rename(moved / "mod.py")
    assert code_digest(moved) != code_digest(package(tmp_path / "pkg"))


def test_outside_a_git_checkout_the_commit_is_unknown_and_says_why(tmp_path):
    state = git_state(package(tmp_path / "pkg"))
    assert state["commit"] is None and state["dirty"] is None
    assert "not in a git checkout" in state["git"]


@needs_git
def test_the_commit_and_whether_tracked_files_changed(tmp_path):
    folder = package(tmp_path / "repo")
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "first")
    state = git_state(folder)
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (folder / "untracked.py").write_text("x = 1\n")
    assert git_state(folder)["dirty"] is False  # only tracked files count
    for prose_or_result in (folder / "NOTES.md", folder / "benchmarks" / "results" / "r.json"):
        prose_or_result.parent.mkdir(parents=True, exist_ok=True)
        prose_or_result.write_text("first\n")
        git(folder, "add", str(prose_or_result))
    git(folder, "commit", "-q", "-m", "notes and results")
    (folder / "NOTES.md").write_text("edited\n")
    (folder / "benchmarks" / "results" / "r.json").write_text("rewritten\n")
    assert git_state(folder)["dirty"] is False  # results and prose are not code
    (folder / "sub" / "mod.py").write_text("changed\n")
    assert git_state(folder)["dirty"] is True


@needs_git
def test_a_package_untracked_by_the_enclosing_checkout_has_no_commit(tmp_path):
    """A package installed into a virtual environment inside someone's checkout."""
    git(tmp_path, "init", "-q")
    (tmp_path / "tracked.txt").write_text("x\n")
    git(tmp_path, "add", "tracked.txt")
    git(tmp_path, "commit", "-q", "-m", "first")
    state = git_state(package(tmp_path / "venv" / "site-packages" / "pkg"))
    assert state["commit"] is None and "does not track it" in state["git"]


def test_describe_names_the_commit_for_people():
    provenance = {
        "commit": "abc1234" + "0" * 33,
        "dirty": True,
        "git": "checkout",
        "version": "0.1.0",
        "code_digest": "f" * 64,
    }
    assert describe(provenance) == "commit abc1234 (dirty), rationalizer 0.1.0, code ffffffffffff"
    wheel = provenance | {"commit": None, "dirty": None, "git": "not in a git checkout"}
    assert describe(wheel).startswith("no commit (not in a git checkout), rationalizer 0.1.0")
    assert describe(None) == "not recorded"


def test_same_code_means_the_same_package_and_scripts(tmp_path):
    script = tmp_path / "bench.py"
    script.write_text("A = 1\n")
    other = tmp_path / "other.py"
    other.write_text("B = 1\n")
    current = benchmark_provenance(script, other)
    assert current["scripts"].keys() == {"bench.py", "other.py"}
    assert same_code(benchmark_provenance(script), current)  # a script it does not name
    assert same_code(code_provenance(), current)  # a training run names no script
    assert not same_code(None, current)
    assert not same_code(current | {"code_digest": "0" * 64}, current)
    # other commits, dirty or not, with the same code are the same code
    assert same_code(current | {"commit": "1" * 40, "dirty": True}, current)
    stored = benchmark_provenance(script)
    script.write_text("A = 2\n")
    assert not same_code(stored, benchmark_provenance(script, other))
    assert not same_code(current | {"scripts": {"gone.py": "0"}}, current)


def test_a_run_trained_by_other_code_is_refused_unless_stale_runs_are_reused(tmp_path):
    assert trained_by(tmp_path, reuse_stale=False) is None  # no finished run
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"provenance": code_provenance()}))
    assert trained_by(tmp_path, reuse_stale=False) == code_provenance()
    old = code_provenance() | {"code_digest": "0" * 64, "commit": "1234567" + "0" * 33}
    summary.write_text(json.dumps({"provenance": old}))
    with pytest.raises(RationalizerError, match=r"trained by other code \(commit 1234567.*delete"):
        trained_by(tmp_path, reuse_stale=False)
    assert trained_by(tmp_path, reuse_stale=True) == old
    summary.write_text(json.dumps({"best_epoch": 1}))  # written before provenance was recorded
    with pytest.raises(RationalizerError, match=r"other code \(not recorded"):
        trained_by(tmp_path, reuse_stale=False)
    assert trained_by(tmp_path, reuse_stale=True) is None
