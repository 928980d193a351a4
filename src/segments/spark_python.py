"""dbt Python models on Spark's session method, and ``segments dbt``, which runs dbt with it.

dbt-spark runs Python models only as Databricks jobs (submission methods ``all_purpose_cluster``
and ``job_cluster``). With the ``session`` connection method (a SparkSession in the dbt
process, the local ``spark`` target) there is nothing to submit to, so this module adds the
submission method ``session``: the compiled model runs in this process, on the SparkSession
dbt-spark opened, and writes its table the way dbt-spark's own materialization does. It is
the default method when the connection method is ``session``; any other connection keeps
dbt-spark's default.

dbt offers no hook for an adapter's submission methods, so ``segments dbt ARGS`` installs it
and runs dbt in process (``dbt ARGS``, the same options and exit codes). A plain ``dbt`` on the
spark target builds every SQL model and stops at the first Python model with dbt-spark's
"Submission method ... is not supported".
"""

from __future__ import annotations

import argparse
from typing import Any

SESSION_METHOD = "session"


class SessionPythonJobHelper:
    """Runs a compiled Python model in this process (dbt's PythonJobHelper interface)."""

    def __init__(self, parsed_model: dict[str, Any], credentials: Any) -> None:
        self.path = str(parsed_model.get("original_file_path") or parsed_model.get("alias") or "python model")

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        namespace: dict[str, Any] = {"spark": SparkSession.builder.getOrCreate(), "__name__": "__dbt_model__"}
        exec(compile(compiled_code, self.path, "exec"), namespace)


def install() -> None:
    """Adds submission method session to dbt-spark's adapter (once; idempotent)."""
    from dbt.adapters.spark.impl import SparkAdapter

    if getattr(SparkAdapter, "_segments_session_python", False):
        return
    helpers = SparkAdapter.python_submission_helpers
    default = SparkAdapter.default_python_submission_method

    def submission_helpers(self: Any) -> dict[str, Any]:
        return {**helpers.fget(self), SESSION_METHOD: SessionPythonJobHelper}  # type: ignore[attr-defined]

    def default_method(self: Any) -> str:
        if str(getattr(self.config.credentials, "method", "")) == SESSION_METHOD:
            return SESSION_METHOD
        return str(default.fget(self))  # type: ignore[attr-defined]

    SparkAdapter.python_submission_helpers = property(submission_helpers)  # type: ignore[method-assign,assignment]
    SparkAdapter.default_python_submission_method = property(default_method)  # type: ignore[method-assign,assignment]
    SparkAdapter._segments_session_python = True  # type: ignore[attr-defined]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's own command and options (dbt --help)")


def run(args: argparse.Namespace) -> int:
    """dbt ARGS in process, with Python models on Spark sessions; dbt's exit code."""
    from dbt.cli.main import dbtRunner

    install()
    result = dbtRunner().invoke(list(args.dbt_args))
    if result.success:
        return 0
    return 2 if result.exception is not None else 1
