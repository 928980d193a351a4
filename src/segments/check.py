"""``segments check``: run the Great Expectations suites on the built warehouse.

Route: every batch is read from DuckDB opened READ-ONLY into a pandas DataFrame and
validated with a pandas datasource. (GX's SQL datasource through duckdb-engine loses
results when its pooled connection closes, and regex expectations are not supported on
the DuckDB dialect; pandas supports both.) Run it after ``dbt build`` has finished:
a DuckDB file has one writer.

Suites are JSON files in gx/expectations/ that reviewers read in pull requests. Each
expectation names its batch in ``meta.table`` (a warehouse table, only the columns it
needs are read) or ``meta.query`` (SQL), and its gate in ``meta.severity``. GX treats
severity as a label, so the gate reads it here: a failed critical expectation, or any
expectation that raised instead of evaluating, makes the command exit 1; a failed warning
is reported only.

After a full check it writes the audit stamp ``<warehouse>.audit.json`` beside the
warehouse: the warehouse's identity (size and modification time of the file and of its WAL)
and whether every result of the last dbt run (``run_results.json`` in $DBT_TARGET_PATH,
else target/) passed and no critical expectation failed. ``segments publish`` refuses to
publish a warehouse without a matching, passing stamp. ``--drift-only`` prints only the
segments that moved (``make build`` runs it when ``dbt build`` fails) and writes no stamp.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from segments.errors import CommandError
from segments.warehouse import add_database_argument, resolve_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SUITES_DIR = PROJECT_ROOT / "gx" / "expectations"
DEFAULT_CONTEXT_DIR = PROJECT_ROOT / "gx" / "uncommitted" / "context"
SEVERITIES = ("critical", "warning")
COLUMN_ARGUMENTS = ("column", "column_A", "column_B")


@dataclass
class ExpectationOutcome:
    suite: str
    batch: str
    expectation_type: str
    column: str | None
    severity: str
    success: bool
    raised: str | None
    observed: Any = None


@dataclass
class CheckReport:
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def gate_failures(self) -> list[ExpectationOutcome]:
        return [
            outcome for outcome in self.outcomes
            if outcome.raised or (not outcome.success and outcome.severity == "critical")
        ]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [
            outcome for outcome in self.outcomes
            if not outcome.success and not outcome.raised and outcome.severity == "warning"
        ]


PASSING_DBT_STATUSES = ("success", "pass", "warn")
AUDIT_STAMP_SUFFIX = ".audit.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_argument(parser)
    parser.add_argument("--suites", type=Path, default=SUITES_DIR, help="folder of suite JSON files")
    parser.add_argument("--context-dir", type=Path, default=DEFAULT_CONTEXT_DIR,
                        help="where the GX context and its Data Docs site are written")
    parser.add_argument("--run-results", type=Path, default=None,
                        help="dbt run_results.json of the build (default $DBT_TARGET_PATH/run_results.json, "
                        "else target/run_results.json)")
    parser.add_argument("--drift-only", action="store_true",
                        help="only print the segments that moved on the latest as-of date; no suites, no stamp")


def audit_stamp_path(database: Path) -> Path:
    """The audit stamp written beside the warehouse."""
    return database.with_name(database.name + AUDIT_STAMP_SUFFIX)


def warehouse_identity(database: Path) -> dict[str, int | None]:
    """Size and modification time of the warehouse file and its WAL: any write changes them."""
    wal = database.with_name(database.name + ".wal")
    stat = database.stat()
    wal_stat = wal.stat() if wal.exists() else None
    return {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "wal_size": wal_stat.st_size if wal_stat else None,
        "wal_mtime_ns": wal_stat.st_mtime_ns if wal_stat else None,
    }


def resolve_run_results(run_results: Path | None) -> Path:
    if run_results is not None:
        return run_results
    target = os.environ.get("DBT_TARGET_PATH")
    return (Path(target) if target else PROJECT_ROOT / "target") / "run_results.json"


def dbt_failures(run_results: Path) -> list[str]:
    """Why the last dbt run does not vouch for the warehouse (empty when it does). The file
    names no database, and dbt-duckdb closes (writes) the warehouse after writing it, so
    modification times cannot tie the two: the caller passes the run of this warehouse."""
    if not run_results.exists():
        return [f"no dbt run results at {run_results}"]
    results = json.loads(run_results.read_text()).get("results", [])
    failures = [
        f"{result.get('unique_id')}: {result.get('status')}"
        for result in results if result.get("status") not in PASSING_DBT_STATUSES
    ]
    if not results:
        failures.append(f"{run_results} lists no results")
    return failures


def write_audit_stamp(database: Path, run_results: Path, report: CheckReport) -> dict[str, Any]:
    """Record whether the warehouse, as it is now, passed dbt and the critical expectations."""
    failures = dbt_failures(run_results)
    stamp = {
        "warehouse": str(database.resolve()),
        "identity": warehouse_identity(database),
        "run_results": str(run_results.resolve()),
        "dbt_failures": failures,
        "critical_expectation_failures": len(report.gate_failures),
        "passed": not failures and not report.gate_failures,
    }
    audit_stamp_path(database).write_text(json.dumps(stamp, indent=2) + "\n")
    return stamp


def audit_refusal(database: Path) -> str | None:
    """Why the warehouse may not be published (None when its stamp matches and passed)."""
    stamp_path = audit_stamp_path(database)
    if not stamp_path.exists():
        return f"no audit stamp {stamp_path}: run segments check after dbt build"
    try:
        stamp = json.loads(stamp_path.read_text())
    except json.JSONDecodeError:
        return f"audit stamp {stamp_path} is not valid JSON"
    if stamp.get("identity") != warehouse_identity(database):
        return f"{database} changed after segments check audited it: run dbt build and segments check again"
    if not stamp.get("passed"):
        reasons = list(stamp.get("dbt_failures", []))
        if stamp.get("critical_expectation_failures"):
            reasons.append(f"{stamp['critical_expectation_failures']} critical expectation(s) failed")
        return "the audit failed: " + "; ".join(reasons[:5])
    return None


def load_suites(folder: Path) -> list[dict[str, Any]]:
    suites = []
    for path in sorted(folder.glob("*.json")):
        suite = json.loads(path.read_text())
        for expectation in suite["expectations"]:
            meta = expectation.get("meta", {})
            if meta.get("severity") not in SEVERITIES:
                raise CommandError(f"{path.name}: {expectation['type']} needs meta.severity in {SEVERITIES}")
            if ("table" in meta) == ("query" in meta):
                raise CommandError(f"{path.name}: {expectation['type']} needs exactly one of meta.table, meta.query")
        suites.append(suite)
    if not suites:
        raise CommandError(f"no suite files in {folder}")
    return suites


def batch_sql(meta: dict[str, Any], columns: list[str]) -> str:
    if "query" in meta:
        return str(meta["query"])
    selected = ", ".join(f'"{column}"' for column in columns) or "1 as row_present"
    return f"select {selected} from {meta['table']}"


def run_checks(database: Path, suites: list[dict[str, Any]], context_dir: Path) -> CheckReport:
    """Validate every suite against the warehouse, read-only; build the Data Docs site."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # imported here: slow, and only this command needs them
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    if not database.exists():
        raise CommandError(f"warehouse {database} does not exist: run dbt build first")
    context_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(context_dir))
    # no "Calculating Metrics" progress bars in the build log
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    datasource = context.data_sources.add_or_update_pandas("warehouse")
    report = CheckReport()
    connection = duckdb.connect(str(database), read_only=True)
    try:
        for suite in suites:
            batches: dict[str, list[dict[str, Any]]] = {}
            for position, expectation in enumerate(suite["expectations"], start=1):
                meta = expectation["meta"]
                key = meta.get("table") or f"query_{position}"
                batches.setdefault(key, []).append(expectation)
            for batch_name, expectations in batches.items():
                meta = expectations[0]["meta"]
                columns = sorted({
                    expectation["kwargs"][argument]
                    for expectation in expectations for argument in COLUMN_ARGUMENTS
                    if argument in expectation["kwargs"]
                })
                dataframe = connection.execute(batch_sql(meta, columns)).df()
                gx_suite = gx.ExpectationSuite(name=f"{suite['name']}.{batch_name}")
                for expectation in expectations:
                    kwargs = dict(expectation["kwargs"])
                    if "value_set_query" in expectation["meta"]:
                        kwargs["value_set"] = [
                            row[0] for row in connection.execute(expectation["meta"]["value_set_query"]).fetchall()
                        ]
                    gx_suite.add_expectation(ExpectationConfiguration(
                        type=expectation["type"], kwargs=kwargs, meta=expectation["meta"]
                    ).to_domain_obj())
                gx_suite = context.suites.add_or_update(gx_suite)
                asset_name = batch_name.replace(".", "__")
                try:
                    asset = datasource.get_asset(asset_name)
                except LookupError:
                    asset = datasource.add_dataframe_asset(asset_name)
                batch_definition = asset.add_batch_definition_whole_dataframe(f"{asset_name}_{gx_suite.name}")
                validation = context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=gx_suite.name, data=batch_definition, suite=gx_suite)
                )
                result = validation.run(batch_parameters={"dataframe": dataframe})
                for expectation_result in result.results:
                    configuration = expectation_result.expectation_config
                    raised = expectation_result.exception_info.get("raised_exception")
                    report.outcomes.append(ExpectationOutcome(
                        suite=suite["name"], batch=batch_name, expectation_type=configuration.type,
                        column=configuration.kwargs.get("column"),
                        severity=configuration.meta["severity"], success=bool(expectation_result.success),
                        raised=expectation_result.exception_info.get("exception_message") if raised else None,
                        observed=expectation_result.result.get("observed_value",
                                                               expectation_result.result.get("unexpected_count")),
                    ))
        context.build_data_docs()
    finally:
        connection.close()
    return report


def moved_segments(database: Path) -> list[tuple[str, str, str, float | None, float | None]]:
    """Segments that moved (is_moved) in a family whose drift status is not ok, on the latest
    as-of date: (family, segment, status, share change in points, gating PSI). Empty when
    segment_drift does not exist yet."""
    with duckdb.connect(str(database), read_only=True) as connection:
        try:
            return connection.execute("""
                select segment_family, segment_name, drift_status, share_change_points,
                    greatest(psi, baseline_psi)
                from marts.segment_drift
                where drift_status != 'ok' and is_moved
                    and as_of_date = (select max(as_of_date) from marts.segment_drift)
                order by drift_status, segment_family, abs(share_change_points) desc, segment_name
            """).fetchall()
        except (duckdb.CatalogException, duckdb.BinderException):  # not built, or built before is_moved
            return []


def print_moved_segments(database: Path) -> None:
    for family, name, status, points, psi in moved_segments(database):
        points_text = "n/a" if points is None else f"{points:+.1f} points"
        print(f"  drift {status}: {family} segment '{name}' moved {points_text} (PSI {psi or 0:.3f})")


def run(args: argparse.Namespace) -> int:
    database = resolve_database(args.database)
    if args.drift_only:
        if database.exists():
            print_moved_segments(database)
        return 0
    report = run_checks(database, load_suites(args.suites), args.context_dir)
    for suite_name in dict.fromkeys(outcome.suite for outcome in report.outcomes):
        outcomes = [outcome for outcome in report.outcomes if outcome.suite == suite_name]
        failed = {severity: sum(1 for o in outcomes if not o.success and o.severity == severity) for severity in SEVERITIES}
        print(f"suite {suite_name}: {len(outcomes)} expectations, "
              f"{failed['critical']} critical failed, {failed['warning']} warning failed")
    for outcome in report.warnings:
        print(f"  warning: {outcome.batch}: {outcome.expectation_type}({outcome.column or ''}) "
              f"observed {outcome.observed}")
    for outcome in report.gate_failures:
        reason = f"raised {outcome.raised}" if outcome.raised else f"observed {outcome.observed}"
        print(f"  CRITICAL: {outcome.batch}: {outcome.expectation_type}({outcome.column or ''}) {reason}",
              file=sys.stderr)
    print_moved_segments(database)
    stamp = write_audit_stamp(database, resolve_run_results(args.run_results), report)
    if stamp["dbt_failures"]:
        print(f"  audit: the dbt run does not vouch for this warehouse: {'; '.join(stamp['dbt_failures'][:5])}",
              file=sys.stderr)
    print(f"audit stamp: {audit_stamp_path(database)} ({'passed' if stamp['passed'] else 'failed'})")
    docs = args.context_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    print(f"Data Docs: {docs}")
    if report.gate_failures:
        print(f"segments check: {len(report.gate_failures)} critical expectation(s) failed", file=sys.stderr)
        return 1
    return 0
