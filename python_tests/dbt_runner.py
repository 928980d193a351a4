"""Run dbt against a throwaway DuckDB file, for tests that build the warehouse.

Each build gets its own database file and target directory, so tests can run in any order
and never touch the developer's ``warehouse.duckdb``. A new target directory starts from the
partial-parse state of an earlier run with the same ``--vars`` (kept under
``$SEGMENTS_TEST_PARSE_CACHE``, set by conftest.py for the session), so dbt parses the project
once per set of vars, not once per test; dbt still checks every file's checksum and every
environment variable a file reads, and parses again whatever changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RAW = PROJECT_ROOT / "sample_data" / "raw"
BIN = Path(sys.executable).parent
PARSE_CACHE_VARIABLE = "SEGMENTS_TEST_PARSE_CACHE"
PARSE_STATE = "partial_parse.msgpack"
PARSE_KEY = "partial_parse.vars"
SUBPROCESS_VARIABLE = "SEGMENTS_TEST_DBT_SUBPROCESS"
LOG_VARIABLE = "SEGMENTS_TEST_DBT_LOG"
LOG_FILE_VARIABLE = "SEGMENTS_TEST_DBT_LOG_FILE"


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


def dbt_log_file_level() -> str:
    """The level of dbt's log file in tests: warn, as dbt's debug log file costs a fifth of a
    build's CPU, unless $SEGMENTS_TEST_DBT_LOG_FILE says otherwise (debug keeps it)."""
    return os.environ.get(LOG_FILE_VARIABLE, "warn")


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


# the commands whose JSON artefacts a test may skip (parse and docs generate write them always)
WRITES_ARTEFACTS = frozenset({"build", "run", "seed", "test"})


def run_dbt(
    arguments: Sequence[str],
    database: Path,
    work_dir: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    check: bool = True,
    artefacts: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt <arguments>`` in the project; raise with dbt's output when check fails.

    dbt runs in this process (see in_process_dbt), unless SEGMENTS_TEST_DBT_SUBPROCESS is
    set, which runs the ``dbt`` command instead (the same results, slower). A build, run,
    seed or test writes no JSON artefacts (manifest.json, semantic_manifest.json,
    run_results.json: about 3 s of CPU an invocation) unless artefacts, for a test that
    reads them; the partial-parse state is written either way."""
    if not artefacts and arguments[:1] and arguments[0] in WRITES_ARTEFACTS:
        arguments = [*arguments, "--no-write-json"]
    in_process = not os.environ.get(SUBPROCESS_VARIABLE)
    parsed_with = parse_vars(arguments, dbt_vars) if in_process else dbt_vars
    reuse_parse(work_dir / "target", parsed_with)
    started, cpu = time.perf_counter(), time.process_time() + children_cpu()
    if in_process:
        result = in_process_dbt(arguments, database, work_dir, dbt_vars)
    else:
        result = subprocess_dbt(arguments, database, work_dir, dbt_vars)
    log_invocation(arguments, dbt_vars, result.returncode, time.perf_counter() - started, cpu)
    keep_parse(work_dir / "target", parsed_with)
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(arguments)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        )
    return result


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def log_invocation(
    arguments: Sequence[str], dbt_vars: Mapping[str, Any] | None, returncode: int, wall: float, cpu_before: float
) -> None:
    """One line per dbt invocation (test, seconds of wall and CPU, arguments) appended to
    $SEGMENTS_TEST_DBT_LOG when it is set: where the suite's time goes."""
    log = os.environ.get(LOG_VARIABLE)
    if not log:
        return
    cpu = time.process_time() + children_cpu() - cpu_before
    test = os.environ.get("PYTEST_CURRENT_TEST", "none")
    line = f"{wall:.1f}\t{cpu:.1f}\trc={returncode}\t{test}\t{' '.join(arguments)} {json.dumps(dict(dbt_vars or {}))}\n"
    with open(log, "a") as handle:
        handle.write(line)


def subprocess_dbt(
    arguments: Sequence[str], database: Path, work_dir: Path, dbt_vars: Mapping[str, Any] | None
) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "dbt"), *arguments, *vars_option(dbt_vars)]
    return subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=dbt_environment(database, work_dir),
        capture_output=True,
        text=True,
        check=False,
    )


@contextlib.contextmanager
def environment_of(environment: Mapping[str, str], cwd: Path | None = None) -> Iterator[None]:
    """Run the block with the process's environment (and working directory) set as a new
    process of the command would have them, then put back what was there; close what
    dbt-duckdb held open (see segments.backfill.release_warehouse)."""
    from segments.backfill import release_warehouse

    saved, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(environment)
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved)
        release_warehouse()


# Parsed manifests of this process, by what a parse depends on: the vars and the database's
# name (dbt-duckdb names the catalog after the file). The one environment variable models
# read, SEGMENTS_CUSTOMER_KEY_SALT, is read when a node compiles, at run time, so a manifest
# serves any value of it. A test never edits the project: a manifest stays true all session.
MANIFESTS: dict[tuple[str, str], Any] = {}

# Vars the project reads only when a node compiles (in model and test SQL, rendered again at
# each run), never in a config, a ref or a test's arguments that dbt fixes at parse time, with
# a value other than the default for each: a manifest parsed without them serves any value
# of them, as `segments backfill` relies on for as_of_date. test_project.py checks that a parse
# with these values decides every node as a parse without them. A new var set costs dbt a
# full parse (about 6 s of CPU): without these in the key, the suite's builds with other
# as-of dates and thresholds share the default manifest instead of parsing again.
RUNTIME_VARS: dict[str, Any] = {
    "as_of_date": "2026-03-31",
    "activation_holdout_share": 0.5,
    "activation_min_audience_size": 30,
    "drift_psi_fail": 0.5,
    "drift_psi_warn": 0.2,
    "drift_reference_psi_fail": 0.9,
    "high_spender_min_avg_order_value": 150,
    "identity_max_iterations": 3,
    "lifecycle_active_days": 30,
}


def parse_vars(arguments: Sequence[str], dbt_vars: Mapping[str, Any] | None) -> dict[str, Any]:
    """The vars in-process dbt parses with for this command: every var for `dbt parse` (the
    parse is what such a test checks), else all but RUNTIME_VARS."""
    if arguments[:1] == ["parse"]:
        return dict(dbt_vars or {})
    return {name: value for name, value in (dbt_vars or {}).items() if name not in RUNTIME_VARS}


def in_process_dbt(
    arguments: Sequence[str], database: Path, work_dir: Path, dbt_vars: Mapping[str, Any] | None
) -> subprocess.CompletedProcess[str]:
    """Run dbt with its Python API in this process, as the CLI would in a new one: the same
    environment (database, target and log folders), exit code (0 passed, 1 a node failed, 2
    dbt could not run) and messages. What it saves is dbt's start-up: importing dbt (about 4 s
    of CPU) and loading the parse state (about 3 s), paid once per process and set of vars,
    not per invocation. ``dbt parse`` itself always parses."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.logger import PRINT_EVENT_NAMES

    from segments.backfill import dbt_log_line

    lines: list[str] = []
    # what the CLI prints: info and above, or with --quiet errors and printed results only
    quiet = "-q" in arguments or "--quiet" in arguments

    def collect(event: Any) -> None:
        if not quiet:
            line = dbt_log_line(event)
        elif event.info.level == "error" or event.info.name in PRINT_EVENT_NAMES:
            line = str(event.info.msg)
        else:
            line = None
        if line is not None:
            lines.append(line)

    file_level = dbt_log_file_level()
    options = ["--log-level", "none", "--log-level-file", file_level, "--project-dir", str(PROJECT_ROOT)]
    command = [*arguments, *options, *vars_option(dbt_vars)]
    parsed_vars = parse_vars(arguments, dbt_vars)
    key = (parse_key(parsed_vars), database.stem)
    parsing = arguments[:1] == ["parse"]  # a parse parses, whatever is cached: it is what is tested
    with environment_of(dbt_environment(database, work_dir)):
        manifest = None if parsing else MANIFESTS.get(key)
        if manifest is None and not parsing:
            parsed = dbtRunner(callbacks=[collect]).invoke(["parse", *options, *vars_option(parsed_vars)])
            if not parsed.success:
                return completed(arguments, 2, lines, parsed.exception)
            manifest = MANIFESTS[key] = parsed.result
            lines.clear()
        result = dbtRunner(manifest=manifest, callbacks=[collect]).invoke(command)
        if parsing and result.success:
            MANIFESTS[key] = result.result
    returncode = 0 if result.success else (1 if result.exception is None else 2)
    return completed(arguments, returncode, lines, result.exception)


def vars_option(dbt_vars: Mapping[str, Any] | None) -> list[str]:
    return ["--vars", json.dumps(dict(dbt_vars))] if dbt_vars else []


def completed(
    arguments: Sequence[str], returncode: int, lines: list[str], exception: BaseException | None
) -> subprocess.CompletedProcess[str]:
    stdout = "\n".join([*lines, *([str(exception)] if exception is not None else [])])
    return subprocess.CompletedProcess(["dbt", *arguments], returncode, stdout, "")


def run_segments(
    arguments: Sequence[str], database: Path | None = None, in_process: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``segments <arguments>``; return the completed process (never raises).

    It runs in this process (``segments.cli.main`` with stdout and stderr captured, the exit
    code it returns or exits with, a traceback on stderr and code 1 for an uncaught error,
    as the console script would), unless in_process is False or SEGMENTS_TEST_DBT_SUBPROCESS
    is set, which run the console script. dbt runs it starts (segments backfill) get a
    target directory of their own, never the project's, which tests on other workers share."""
    root = os.environ.get(PARSE_CACHE_VARIABLE)
    work_dir = Path(tempfile.mkdtemp(prefix="segments-", dir=Path(root).parent if root else None))
    environment = dict(os.environ)
    environment.update(
        {
            "DBT_TARGET_PATH": str(work_dir / "target"),
            "DBT_LOG_PATH": str(work_dir / "logs"),
            # the dbt runs segments starts (backfill) skip the debug log file too, as run_dbt's do
            "DBT_LOG_LEVEL_FILE": dbt_log_file_level(),
        }
    )
    if database is not None:
        environment["SEGMENTS_DUCKDB_PATH"] = str(database)
    reuse_parse(work_dir / "target", None)  # segments backfill parses without --vars
    started, cpu = time.perf_counter(), time.process_time() + children_cpu()
    if in_process and not os.environ.get(SUBPROCESS_VARIABLE):
        result = in_process_segments(arguments, environment)
    else:
        result = subprocess.run(
            [str(BIN / "segments"), *arguments],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    log_invocation(["segments", *arguments], None, result.returncode, time.perf_counter() - started, cpu)
    keep_parse(work_dir / "target", None)
    return result


def in_process_segments(arguments: Sequence[str], environment: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    import io
    import traceback

    from segments.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        environment_of(environment, PROJECT_ROOT),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            returncode = main(list(arguments))
        except SystemExit as exit_:
            code = exit_.code
            returncode = code if isinstance(code, int) else (0 if code is None else 1)
            if code is not None and not isinstance(code, int):
                print(code, file=sys.stderr)
        except Exception:  # noqa: BLE001 - the console script would print the traceback, exit 1
            traceback.print_exc()
            returncode = 1
    return subprocess.CompletedProcess(["segments", *arguments], returncode, stdout.getvalue(), stderr.getvalue())


# Unit tests check SQL on fixed rows, whatever the warehouse holds: the session's sample
# build (conftest.py) runs them; a test's own build of other data skips them.
DATA_ONLY = ("--exclude-resource-type", "unit_test")


def build_warehouse(
    raw_folder: Path,
    work_dir: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    unit_tests: bool = False,
    select: str | None = None,
    artefacts: bool = False,
) -> Path:
    """Load raw_folder into a new DuckDB file under work_dir and run ``dbt build`` (every
    model, seed and data test, or only those of ``--select select``; unit tests too when
    unit_tests, which a build needs for the audit to count it as passed; dbt's JSON artefacts
    in work_dir/target when artefacts)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    database = work_dir / "warehouse.duckdb"
    loaded = run_segments(["load", "--from", str(raw_folder), "--database", str(database)])
    if loaded.returncode != 0:
        raise AssertionError(f"segments load failed:\n{loaded.stdout}\n{loaded.stderr}")
    selection = ["--select", select, "--indirect-selection", "cautious"] if select else []
    run_dbt(
        ["build", *selection, *([] if unit_tests else DATA_ONLY)], database, work_dir, dbt_vars, artefacts=artefacts
    )
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
