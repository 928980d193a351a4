"""Shared fixtures. Builders live in dbt_runner.py so test modules can import them too."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dbt_runner import PARSE_CACHE_VARIABLE, SAMPLE_RAW, build_warehouse, run_segments

PARSE_CACHE_FOLDER = "dbt_parse_cache"


@pytest.fixture(scope="session", autouse=True)
def dbt_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of dbt parse states for the whole run, shared by the xdist workers (their
    base temporary folders are siblings), so the project is parsed once per set of vars."""
    cache = shared_folder(tmp_path_factory) / PARSE_CACHE_FOLDER
    cache.mkdir(parents=True, exist_ok=True)
    os.environ[PARSE_CACHE_VARIABLE] = str(cache)
    return cache


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this run sees (their base temporary folders are siblings)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


SAMPLE_FOLDER = "sample_warehouse"
SAMPLE_LOCK = "sample_warehouse.lock"
SAMPLE_BUILT = "built"
SAMPLE_LOG = "sample_warehouse.build.log"


def sample_present() -> bool:
    return (SAMPLE_RAW / "orders.parquet").exists()


def build_sample_once(root: Path) -> Path:
    """Build the sample under root unless it is built; hold the lock meanwhile, so every
    process of the run waits for the one build."""
    folder = root / SAMPLE_FOLDER
    with (root / SAMPLE_LOCK).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / SAMPLE_BUILT).exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            build_warehouse(SAMPLE_RAW, folder, unit_tests=True, artefacts=True)
            (folder / SAMPLE_BUILT).touch()
    return folder / "warehouse.duckdb"


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample built once per test run with a complete ``dbt build`` (every unit
    and data test passes; the audit records the build as passed). Read it, never write it:
    every worker shares the one file (copy it to change it). `segments check` on it rewrites
    its audit stamp beside it, atomically and with the same content for the same build."""
    if not sample_present():
        pytest.fail(f"the bundled sample is missing at {SAMPLE_RAW}; run `make sample`")
    return build_sample_once(shared_folder(tmp_path_factory))


@pytest.fixture(scope="session")
def published_sample(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample warehouse published (--force: no segments check ran on it), once per
    worker. Read it only: copy it to change it."""
    published = tmp_path_factory.mktemp("published") / "published.duckdb"
    result = run_segments(["publish", "--database", str(sample_warehouse), "--published", str(published), "--force"])
    assert result.returncode == 0, result.stderr
    return published


# With xdist, the first worker starts the sample's build in a process of its own as soon as
# it has collected a test that needs it, so no worker's first tests wait for it: the first
# test to need it waits only for what is left of the build. The build holds the lock from
# before the tests start; if it fails, the fixture builds again and reports dbt's output.
BACKGROUND_BUILD = """
import sys
from pathlib import Path

sys.path.insert(0, {tests!r})
import conftest

conftest.build_sample_once(Path({root!r}))
"""


def start_sample_build(config: pytest.Config, items: list[pytest.Item]) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker != "gw0" or not sample_present() or not any("sample_warehouse" in item.fixturenames for item in items):
        return
    root = shared_folder(config._tmp_path_factory)  # type: ignore[attr-defined]
    lock = root / SAMPLE_LOCK
    if (root / SAMPLE_FOLDER / SAMPLE_BUILT).exists() or holds_lock(lock):
        return
    environment = {**os.environ, PARSE_CACHE_VARIABLE: str(root / PARSE_CACHE_FOLDER)}
    script = BACKGROUND_BUILD.format(tests=str(Path(__file__).parent), root=str(root))
    with (root / SAMPLE_LOG).open("w") as log:  # what a failed background build said
        process = subprocess.Popen([sys.executable, "-c", script], env=environment, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and not holds_lock(lock):
        time.sleep(0.1)
    config.stash[BACKGROUND_KEY] = process


def holds_lock(lock: Path) -> bool:
    """Whether another process holds the lock (we fail to take it without waiting)."""
    if not lock.exists():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


BACKGROUND_KEY = pytest.StashKey[subprocess.Popen[bytes]]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    process = session.config.stash.get(BACKGROUND_KEY, None)
    if process is not None:
        # every test that needed the sample waited for it: a build still running is unused
        # (the session stopped early), so it is stopped, not waited for
        if process.poll() is None:
            process.kill()
        process.wait()


# The test modules that cost the most, most expensive first (measured with --durations=0;
# the rest follow in collection order). With --no-loadscope-reorder (pyproject), xdist
# hands out work in this order: the long tests start first and the short
# ones fill in at the end, instead of one long module last.
HEAVIEST_MODULES = (
    "test_spark.py",  # one module fixture builds the sample on Spark (about 5 minutes): start it first
    "test_quality.py",
    "test_daily.py",  # one module fixture replays the whole feed twice: start it early
    "test_identity.py",  # second: it builds its own warehouses while the first builds the sample
    "test_diff.py",  # two diffs, each two builds of the sample (about 80 s)
    "test_audit_gate.py",
    "test_warehouse.py",
    "test_history.py",
    "test_export.py",
    "test_predictive_warehouse.py",
    "test_bi.py",
    "test_privacy.py",
    "test_segments.py",
    "test_project.py",
)
SHARED_SCOPES = ("module", "class", "package")


def shares_a_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a module-scoped (or wider, but not session) fixture."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(definition.scope in SHARED_SCOPES for chain in info.name2fixturedefs.values() for definition in chain)


# The modules whose tests share a module-scoped fixture (a warehouse built once for the
# module): their tests run on one worker together. Every other test goes to whichever worker
# is free, so a module of independent slow tests runs on both workers. (xdist's loadgroup
# does not work with pytest 9: it renames test ids, which pytest 9 no longer allows.)
MODULES_SHARING_FIXTURES = {
    "test_bi.py",
    "test_spark.py",
    "test_daily.py",
    "test_export.py",
    "test_generate.py",
    "test_identity.py",
    "test_online_retail.py",
    "test_predictive_warehouse.py",
    "test_privacy.py",
    "test_project.py",
    "test_segments.py",
}


def pytest_itemcollected(item: pytest.Item) -> None:
    """Keep MODULES_SHARING_FIXTURES true: a test module with a module-scoped fixture that
    is not in it would build that fixture on both workers."""
    if shares_a_fixture(item) and item.path.name not in MODULES_SHARING_FIXTURES:
        raise pytest.UsageError(f"{item.path.name} has a module-scoped fixture: add it to MODULES_SHARING_FIXTURES")


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown when xdist is not loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadscope":
        return None  # another --dist asked for: xdist's own scheduler
    from xdist.scheduler import LoadScopeScheduling

    class ModuleOrTestScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """A work unit is a module in MODULES_SHARING_FIXTURES, else a single test."""

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if Path(module).name in MODULES_SHARING_FIXTURES else nodeid

    return ModuleOrTestScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(HEAVIEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: keeps order within a module
    start_sample_build(config, items)
