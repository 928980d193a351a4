"""``segments check``: audit the built warehouse before it is published.

First it reads what the warehouse records about the build that made it (segments.audit):
unless the latest ``dbt build`` ran every node, every node passed and the raw data is still
the one that build read, it refuses (exit 2) without running anything. Then it runs the
Great Expectations suites (segments.gx_checks) on the same read-only snapshot, prints the
segments that moved (segments.drift_report) and writes the audit stamp
``<warehouse>.audit.json`` naming that build's invocation id and raw data identity; a
failed critical expectation makes it exit 1. ``--drift-only`` prints only the segments
that moved (``make build`` runs it when ``dbt build`` fails) and writes no stamp.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from segments.errors import CommandError
from segments.warehouse import add_database_argument, resolve_database

if TYPE_CHECKING:  # heavy: imported by run() only, so ``segments --help`` stays light
    from segments.gx_checks import CheckReport

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SUITES_DIR = PROJECT_ROOT / "gx" / "expectations"
DEFAULT_CONTEXT_DIR = PROJECT_ROOT / "gx" / "uncommitted" / "context"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_argument(parser)
    parser.add_argument("--suites", type=Path, default=SUITES_DIR, help="folder of suite JSON files")
    parser.add_argument(
        "--context-dir",
        type=Path,
        default=DEFAULT_CONTEXT_DIR,
        help="where the GX context and its Data Docs site are written",
    )
    parser.add_argument(
        "--drift-only",
        action="store_true",
        help="only print the segments that moved on the latest as-of date; no suites, no stamp",
    )


def print_report(report: CheckReport) -> None:
    from segments.gx_checks import SEVERITIES

    for suite_name in dict.fromkeys(outcome.suite for outcome in report.outcomes):
        outcomes = [outcome for outcome in report.outcomes if outcome.suite == suite_name]
        failed = {
            severity: sum(1 for o in outcomes if not o.success and o.severity == severity) for severity in SEVERITIES
        }
        print(
            f"suite {suite_name}: {len(outcomes)} expectations, "
            f"{failed['critical']} critical failed, {failed['warning']} warning failed"
        )
    for outcome in report.warnings:
        print(
            f"  warning: {outcome.batch}: {outcome.expectation_type}({outcome.column or ''}) "
            f"observed {outcome.observed}"
        )
    for outcome in report.gate_failures:
        reason = f"raised {outcome.raised}" if outcome.raised else f"observed {outcome.observed}"
        print(
            f"  CRITICAL: {outcome.batch}: {outcome.expectation_type}({outcome.column or ''}) {reason}", file=sys.stderr
        )


def run(args: argparse.Namespace) -> int:
    import duckdb

    from segments.audit import audit_stamp_path, one_line, open_read_only, vouching_build, write_audit_stamp
    from segments.drift_report import print_moved_segments
    from segments.gx_checks import load_suites, run_checks

    database = resolve_database(args.database)
    if args.drift_only:
        if database.exists():
            print_moved_segments(database)
        return 0
    suites = load_suites(args.suites)
    connection = open_read_only(database)
    try:
        build, refusal = vouching_build(connection)
        if refusal or build is None:
            raise CommandError(f"{database} is not vouched for by a dbt build: {refusal}")
        report = run_checks(database, suites, args.context_dir, connection)
        print_report(report)
        print_moved_segments(database)
    except (duckdb.Error, OSError) as error:
        raise CommandError(f"checking {database} failed: {one_line(error)}") from error
    finally:
        connection.close()
    stamp = write_audit_stamp(database, build, len(report.gate_failures))
    print(
        f"audit stamp: {audit_stamp_path(database)} ({'passed' if stamp['passed'] else 'failed'}) "
        f"for dbt build {build.invocation_id}"
    )
    docs = args.context_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    print(f"Data Docs: {docs}")
    if report.gate_failures:
        print(f"segments check: {len(report.gate_failures)} critical expectation(s) failed", file=sys.stderr)
        return 1
    return 0
