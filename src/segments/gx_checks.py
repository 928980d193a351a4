"""The Great Expectations runner behind ``segments check``.

Route: every batch is read from DuckDB opened READ-ONLY into a pandas DataFrame and
validated with a pandas datasource. (GX's SQL datasource through duckdb-engine loses
results when its pooled connection closes, and regex expectations are not supported on
the DuckDB dialect; pandas supports both.)

Suites are JSON files in gx/expectations/ that reviewers read in pull requests. Each
expectation names its batch in ``meta.table`` (a warehouse table, only the columns it
needs are read) or ``meta.query`` (SQL), and its gate in ``meta.severity``. GX treats
severity as a label, so the gate reads it here: a failed critical expectation, or any
expectation that raised instead of evaluating, is a gate failure; a failed warning is
reported only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from segments.errors import CommandError

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
            outcome
            for outcome in self.outcomes
            if outcome.raised or (not outcome.success and outcome.severity == "critical")
        ]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [
            outcome
            for outcome in self.outcomes
            if not outcome.success and not outcome.raised and outcome.severity == "warning"
        ]


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


@contextmanager
def pyspark_connect_import_guard() -> Iterator[None]:
    """Great Expectations imports pyspark.sql.connect when pyspark is installed (the spark
    target needs it), and that module exits the process (sys.exit(0), "Skipping doctests")
    when the main module has neither __spec__ nor __file__, as in an embedded interpreter or a
    pytest-xdist worker. Give such a main module a __file__ while Great Expectations is
    imported, and take it away afterwards: multiprocessing's spawn would run that file."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or hasattr(main, "__file__"):
        yield
        return
    main.__file__ = "<segments>"
    try:
        yield
    finally:
        del main.__file__


def run_checks(
    database: Path,
    suites: list[dict[str, Any]],
    context_dir: Path,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> CheckReport:
    """Validate every suite against the warehouse, read-only; build the Data Docs site.
    connection: a read-only connection to the warehouse the caller already holds (the
    batches are then read from the snapshot the caller audited); else one is opened."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # imported here: slow, and only this command needs them
    with pyspark_connect_import_guard():
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
    owned = connection is None
    if connection is None:
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
                columns = sorted(
                    {
                        expectation["kwargs"][argument]
                        for expectation in expectations
                        for argument in COLUMN_ARGUMENTS
                        if argument in expectation["kwargs"]
                    }
                )
                dataframe = connection.execute(batch_sql(meta, columns)).df()
                gx_suite = gx.ExpectationSuite(name=f"{suite['name']}.{batch_name}")
                for expectation in expectations:
                    kwargs = dict(expectation["kwargs"])
                    if "value_set_query" in expectation["meta"]:
                        kwargs["value_set"] = [
                            row[0] for row in connection.execute(expectation["meta"]["value_set_query"]).fetchall()
                        ]
                    gx_suite.add_expectation(
                        ExpectationConfiguration(
                            type=expectation["type"], kwargs=kwargs, meta=expectation["meta"]
                        ).to_domain_obj()
                    )
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
                    if configuration is None:  # GX returns the configuration it evaluated
                        raise CommandError(f"suite {suite['name']}: a result came back without its expectation")
                    raised = expectation_result.exception_info.get("raised_exception")
                    report.outcomes.append(
                        ExpectationOutcome(
                            suite=suite["name"],
                            batch=batch_name,
                            expectation_type=configuration.type,
                            column=configuration.kwargs.get("column"),
                            severity=configuration.meta["severity"],
                            success=bool(expectation_result.success),
                            raised=expectation_result.exception_info.get("exception_message") if raised else None,
                            observed=expectation_result.result.get(
                                "observed_value", expectation_result.result.get("unexpected_count")
                            ),
                        )
                    )
        context.build_data_docs()
    finally:
        if owned:
            connection.close()
    return report
