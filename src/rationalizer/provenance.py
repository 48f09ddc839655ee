"""Which code made a result: git commit, dirty flag, package version and a digest of the code.

Run summaries and benchmark records carry :func:`code_provenance` so that every number names
the code that made it. Two results were made by the same code when their ``code_digest`` is
the same: a sha256 over the package's own files (every ``*.py`` and the templates), so that
commits that only touch documentation or results do not count as a change. The commit and the
dirty flag are for people: they say where to look, but a dirty tree or a docs-only commit does
not make a result "other code".

Nothing here reaches the network; without git, or for a package that is not in a git checkout
(installed from a wheel), the commit and the dirty flag are ``None`` and ``git`` says why.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
#: Folders whose every file is code (the HTML report's and the web app's templates).
_TEMPLATE_FOLDER = "templates"
_GIT_TIMEOUT_SECONDS = 10
#: What "dirty" looks at: every tracked file but results and prose, so that a benchmark writing
#: its results, or an edited README, does not make the next result of the same code "dirty".
_DIRTY_PATHS = (":/", ":(top,exclude)benchmarks/results", ":(top,exclude,glob)**/*.md")


def code_provenance() -> dict[str, Any]:
    """``commit``, ``dirty``, ``git`` (how the commit is known), ``version`` and ``code_digest``
    of the imported package; computed once per process."""
    return dict(_code_provenance())


@functools.cache
def _code_provenance() -> dict[str, Any]:
    return git_state(PACKAGE_DIR) | {
        "version": _version(),
        "code_digest": code_digest(PACKAGE_DIR),
    }


def code_digest(package_dir: Path) -> str:
    """sha256 over the relative path and content of each code file below ``package_dir``."""
    files = sorted(
        path
        for path in package_dir.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and (path.suffix == ".py" or _TEMPLATE_FOLDER in path.relative_to(package_dir).parts)
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of one file's bytes, read in chunks (archives can be large)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def git_state(directory: Path) -> dict[str, Any]:
    """HEAD's full sha and whether tracked files other than results and Markdown differ from it,
    for the git checkout that tracks ``directory``'s ``__init__.py``; ``None`` for both (and
    why, in ``git``) otherwise.

    A package installed into a virtual environment inside some other checkout is not tracked
    by it, so that checkout's commit is not mistaken for the package's.
    """
    commit = _git(directory, "rev-parse", "HEAD")
    if commit is None:
        return _no_commit("not in a git checkout, or git is not available")
    if _git(directory, "ls-files", "--error-unmatch", "--", "__init__.py") is None:
        return _no_commit("installed inside a git checkout that does not track it")
    changed = _git(
        directory, "--no-optional-locks", "status", "--porcelain", "-uno", "--", *_DIRTY_PATHS
    )
    if changed is None:
        return _no_commit("git could not read the checkout's status")
    return {"commit": commit.strip(), "dirty": bool(changed.strip()), "git": "checkout"}


def _no_commit(why: str) -> dict[str, Any]:
    return {"commit": None, "dirty": None, "git": why}


def _git(directory: Path, *args: str) -> str | None:
    """Output of a local git command, or None when git is missing or the command fails."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _version() -> str:
    try:
        return metadata.version("rationalizer")
    except metadata.PackageNotFoundError:  # imported from a source tree that is not installed
        from rationalizer import __version__

        return __version__


def describe(provenance: Mapping[str, Any] | None) -> str:
    """``commit abc1234 (dirty), rationalizer 0.1.0, code 1a2b3c4d5e6f`` for Markdown."""
    if not provenance:
        return "not recorded"
    commit = provenance.get("commit")
    if commit:
        where = f"commit {commit[:7]}" + (" (dirty)" if provenance.get("dirty") else "")
    else:
        where = f"no commit ({provenance.get('git') or 'not recorded'})"
    return (
        f"{where}, rationalizer {provenance.get('version')}, "
        f"code {str(provenance.get('code_digest'))[:12]}"
    )
