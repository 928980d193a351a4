"""Run dbt against a throwaway DuckDB file, for tests that build the warehouse.

Each build gets its own database file and target directory, so tests can run in any order
and never touch the developer's ``warehouse.duckdb``. A new target directory starts from the
partial-parse state of an earlier run with the same ``--vars`` (kept under
``$SEGMENTS_TEST_PARSE_CACHE``, set by conftest.py for the session), so dbt parses the project
once per set of vars, not once per test; dbt still checks every file's checksum and every
environment variable a file reads, and parses again whatever changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RAW = PROJECT_ROOT / "sample_data" / "raw"
BIN = Path(sys.executable).parent
PARSE_CACHE_VARIABLE = "SEGMENTS_TEST_PARSE_CACHE"
PARSE_STATE = "partial_parse.msgpack"
PARSE_KEY = "partial_parse.vars"


def parse_key(dbt_vars: Mapping[str, Any] | None) -> str:
    return hashlib.md5(json.dumps(dict(dbt_vars or {}), sort_keys=True).encode()).hexdigest()


def cached_parse(key: str) -> Path | None:
    root = os.environ.get(PARSE_CACHE_VARIABLE)
    return Path(root) / f"{key}.msgpack" if root else None


def reuse_parse(target: Path, dbt_vars: Mapping[str, Any] | None) -> None:
    """Give target the session's parse state for these vars, unless it already has it."""
    key = parse_key(dbt_vars)
    cached = cached_parse(key)
    marker = target / PARSE_KEY
    if cached is None or not cached.exists() or (marker.exists() and marker.read_text() == key):
        return
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, target / PARSE_STATE)
    marker.write_text(key)


def keep_parse(target: Path, dbt_vars: Mapping[str, Any] | None) -> None:
    """Record target's parse state as the session's for these vars (the first one wins)."""
    key = parse_key(dbt_vars)
    cached = cached_parse(key)
    state = target / PARSE_STATE
    if not state.exists():
        return
    (target / PARSE_KEY).write_text(key)
    if cached is None or cached.exists():
        return
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
    shutil.copyfile(state, partial)
    os.replace(partial, cached)  # atomic: another worker never reads half a file


def dbt_environment(database: Path, work_dir: Path) -> dict[str, str]:
    """Environment for a dbt run whose warehouse and artefacts live under work_dir."""
    environment = dict(os.environ)
    environment.update(
        {
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            "SEGMENTS_DUCKDB_PATH": str(database),
            "DBT_TARGET_PATH": str(work_dir / "target"),
            "DBT_LOG_PATH": str(work_dir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    return environment


def run_dbt(
    arguments: Sequence[str],
    database: Path,
    work_dir: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt <arguments>`` in the project; raise with dbt's output when check fails."""
    command = [str(BIN / "dbt"), *arguments]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    reuse_parse(work_dir / "target", dbt_vars)
    result = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=dbt_environment(database, work_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    keep_parse(work_dir / "target", dbt_vars)
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(arguments)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        )
    return result


def run_segments(arguments: Sequence[str], database: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``segments`` console script; return the completed process (never raises).

    dbt runs it starts (segments backfill) get a target directory of their own, never the
    project's, which tests on other workers would share."""
    root = os.environ.get(PARSE_CACHE_VARIABLE)
    work_dir = Path(tempfile.mkdtemp(prefix="segments-", dir=Path(root).parent if root else None))
    environment = dict(os.environ)
    environment.update({"DBT_TARGET_PATH": str(work_dir / "target"), "DBT_LOG_PATH": str(work_dir / "logs")})
    if database is not None:
        environment["SEGMENTS_DUCKDB_PATH"] = str(database)
    reuse_parse(work_dir / "target", None)  # segments backfill parses without --vars
    result = subprocess.run(
        [str(BIN / "segments"), *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    keep_parse(work_dir / "target", None)
    return result


# Unit tests check SQL on fixed rows, whatever the warehouse holds: the session's sample
# build (conftest.py) runs them; a test's own build of other data skips them.
DATA_ONLY = ("--exclude-resource-type", "unit_test")


def build_warehouse(
    raw_folder: Path,
    work_dir: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    unit_tests: bool = False,
    select: str | None = None,
) -> Path:
    """Load raw_folder into a new DuckDB file under work_dir and run ``dbt build`` (every
    model, seed and data test, or only those of ``--select select``; unit tests too when
    unit_tests, which a build needs for the audit to count it as passed)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    database = work_dir / "warehouse.duckdb"
    loaded = run_segments(["load", "--from", str(raw_folder), "--database", str(database)])
    if loaded.returncode != 0:
        raise AssertionError(f"segments load failed:\n{loaded.stdout}\n{loaded.stderr}")
    selection = ["--select", select, "--indirect-selection", "cautious"] if select else []
    run_dbt(["build", *selection, *([] if unit_tests else DATA_ONLY)], database, work_dir, dbt_vars)
    return database


def key_salt(database: Path) -> str:
    """What the warehouse's keys are salted with: SEGMENTS_CUSTOMER_KEY_SALT when set (not
    empty), else the warehouse's own secret (restricted.customer_key_secret)."""
    salt = os.environ.get("SEGMENTS_CUSTOMER_KEY_SALT", "")
    if salt:
        return salt
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        row = connection.execute("select secret from restricted.customer_key_secret").fetchone()
    assert row is not None, f"{database} has no customer key secret"
    return str(row[0])


def customer_key(database: Path, identifier_type: str, value: str) -> str:
    """The key of a normalised identifier, computed in Python: md5(salt + "type:value")."""
    return hashlib.md5(f"{key_salt(database)}{identifier_type}:{value}".encode()).hexdigest()
