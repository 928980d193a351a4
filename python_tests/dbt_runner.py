"""Run dbt against a throwaway DuckDB file, for tests that build the warehouse.

Each build gets its own database file and target directory, so tests can run in any order
and never touch the developer's ``warehouse.duckdb``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RAW = PROJECT_ROOT / "sample_data" / "raw"
BIN = Path(sys.executable).parent


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
    result = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=dbt_environment(database, work_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(arguments)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        )
    return result


def run_segments(arguments: Sequence[str], database: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``segments`` console script; return the completed process (never raises)."""
    environment = dict(os.environ)
    if database is not None:
        environment["SEGMENTS_DUCKDB_PATH"] = str(database)
    return subprocess.run(
        [str(BIN / "segments"), *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def build_warehouse(
    raw_folder: Path,
    work_dir: Path,
    dbt_vars: Mapping[str, Any] | None = None,
) -> Path:
    """Load raw_folder into a new DuckDB file under work_dir and run ``dbt build``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    database = work_dir / "warehouse.duckdb"
    loaded = run_segments(["load", "--from", str(raw_folder), "--database", str(database)])
    if loaded.returncode != 0:
        raise AssertionError(f"segments load failed:\n{loaded.stdout}\n{loaded.stderr}")
    run_dbt(["build"], database, work_dir, dbt_vars)
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
