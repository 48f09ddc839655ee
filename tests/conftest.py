"""Shared test setup: real data where this machine has it, no model hub, one thread per process.

Tests that read a real dataset (movies, HateXplain, FEVER) skip, with a reason naming the
dataset and how to get it, when its folder is absent from the data directory; everything else
runs on synthetic data and fixtures the tests write. Set ``RATIONALIZER_REQUIRE_DATA=1`` (CI
does) to turn such a skip into a failure, so a run can never pass by skipping the data tests.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.tiny_runs import TinyRuns
from tests.training_probe import training_probe

from rationalizer.errors import DatasetNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[1]
#: where the project's own checkouts keep the datasets, next to the repository
SIBLING_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()
REQUIRE_DATA_ENV = "RATIONALIZER_REQUIRE_DATA"
PROBE_FOLDER = Path(__file__).resolve().parent / "training_probe"
#: Fixtures that train a model: every test using one, directly or through another fixture, or
#: parametrized with its name (for ``request.getfixturevalue``), is marked slow at collection,
#: so the fast run deselects it and nobody can forget the marker.
TRAINING_FIXTURES = frozenset(
    {
        "tiny_run",
        "movies_run",
        "rationalizer_adapter",
        "hatexplain_classifier_dir",
        "hf_adapter",
        "discovered",
    }
)

# An explicit RATIONALIZER_DATA wins; else the sibling folder if this machine has it; else
# the package default (~/.cache/rationalizer, where `rationalizer data download` writes).
if "RATIONALIZER_DATA" not in os.environ and SIBLING_DATA.is_dir():
    os.environ["RATIONALIZER_DATA"] = str(SIBLING_DATA)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def data_required() -> bool:
    return os.environ.get(REQUIRE_DATA_ENV, "") not in ("", "0")


def missing_data(what: str, folder: Path, dataset: str | None = None) -> None:
    """Skip the current test for want of ``what`` (fail instead when data is required)."""
    fetch = f"rationalizer data download {dataset}" if dataset else "rationalizer data download all"
    reason = (
        f"needs {what}, not found at {folder}: run `{fetch}` or point RATIONALIZER_DATA "
        "at a folder that holds it"
    )
    if data_required():
        pytest.fail(f"{REQUIRE_DATA_ENV} is set but this test {reason}", pytrace=False)
    pytest.skip(reason)


@contextmanager
def skip_when_dataset_missing():
    """A registered dataset whose whole folder is absent skips the test (see module docstring).

    Only that case skips: a file missing *inside* a present folder, or any other error, still
    fails the test, so a broken loader cannot hide behind a skip.
    """
    try:
        yield
    except DatasetNotFoundError as error:
        if error.folder is None or error.folder.is_dir():
            raise
        what = f"dataset {error.dataset!r}" if error.dataset else f"folder {error.folder.name!r}"
        missing_data(what, error.folder, error.dataset)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Log every training epoch, of this process and of every process a test starts (see
    ``tests/training_probe``), so that :func:`slow_if_training` sees which test trains."""
    descriptor, log = tempfile.mkstemp(prefix="rationalizer-training-", suffix=".log")
    os.close(descriptor)
    os.environ[training_probe.LOG_ENV] = log
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROBE_FOLDER), os.environ.get("PYTHONPATH")])
    )
    training_probe.install()


def pytest_sessionfinish(session: pytest.Session) -> None:
    Path(os.environ.pop(training_probe.LOG_ENV)).unlink(missing_ok=True)


@contextmanager
def slow_if_training(item: pytest.Item, what: str):
    """Fail ``item`` when a model was trained inside the block and it is not marked slow."""
    log = Path(os.environ[training_probe.LOG_ENV])
    before = log.stat().st_size
    yield
    if log.stat().st_size > before and item.get_closest_marker("slow") is None:
        pytest.fail(f"{item.nodeid}: {what}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    fixture_trains = (
        "a fixture of this test trains a model: list the fixture in TRAINING_FIXTURES in "
        "tests/conftest.py (its tests are then marked slow), or mark the test "
        "@pytest.mark.slow"
    )
    with skip_when_dataset_missing(), slow_if_training(item, fixture_trains):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    test_trains = "this test trains a model: mark it @pytest.mark.slow"
    with skip_when_dataset_missing(), slow_if_training(item, test_trains):
        return (yield)


@pytest.fixture(autouse=True, scope="session")
def one_thread_per_process():
    """One torch and one BLAS thread per test process: the suite runs one process per core,
    and small models' many tiny operations (and small least-squares fits) get many times
    slower when two threads share a busy core."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding the real annotated datasets; tests using it skip when it is absent."""
    from rationalizer.data import resolve_data_dir

    path = resolve_data_dir()
    if not path.is_dir():  # skipped by the setup hook, so the summary groups these skips
        raise DatasetNotFoundError(f"no datasets folder at {path}", folder=path)
    return path


@pytest.fixture(scope="session")
def dataset_root(data_dir: Path) -> Callable[[str], Path]:
    """``dataset_root(name)``: the folder of a registered dataset; the test skips when absent."""
    from rationalizer.data.registry import get_loader

    return lambda name: get_loader(name, data_dir).root()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use a training fixture are slow (before ``-m`` deselects by marker)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        parameters = callspec.params.values() if callspec else ()
        used = {*getattr(item, "fixturenames", ()), *(p for p in parameters if isinstance(p, str))}
        if TRAINING_FIXTURES & used:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRuns:
    """``tiny_run(**settings)``: a run directory trained once per session per distinct settings
    (see ``tests/tiny_runs.py``); a test that changes the run must change a copy."""
    return TinyRuns(tmp_path_factory)
