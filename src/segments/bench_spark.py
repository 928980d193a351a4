"""``segments bench --engine spark``: the same tiers built on local Spark (the spark target).

For each tier: reuse (or generate) the raw folder as the DuckDB bench does, time
``SEGMENTS_TARGET=spark segments load`` into a fresh Spark warehouse under
``<work-dir>/runs/<tier>-spark/spark`` and ONE ``segments dbt build`` (every model, unit and
data test), and attribute the build's time to layers and models from dbt's run results. The
baselines and the daily step read a DuckDB file, so they are DuckDB's only. The report sets
each tier beside the DuckDB run of the same tier on this machine (``<work-dir>/runs/<tier>/``,
from ``segments bench`` without ``--engine``) when there is one, with the ratio of the two.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from segments.bench import (
    BIN,
    TIERS,
    Measured,
    TierResult,
    checked,
    ensure_tier,
    gib,
    layer_seconds,
    load_result,
    measure,
    progress,
    run_environment,
    save_result,
    slowest_models,
    tier_label,
    timed_build,
)
from segments.errors import CommandError

ENGINE = "spark"
# the DuckDB bench's layers, in the order the report shows them
SHOWN_LAYERS = ("seeds", "staging", "identity", "features", "segments", "quality", "activation", "tests")


def run_name(tier: str) -> str:
    return f"{tier}-{ENGINE}"


def run_dir(work_dir: Path, tier: str) -> Path:
    return work_dir / "runs" / run_name(tier)


def measured_tier(tier: str, work_dir: Path, report_only: bool) -> TierResult:
    """The tier measured now (and saved), or with report_only its last saved Spark run."""
    if report_only:
        return load_result(work_dir, tier, run_name(tier))
    result = bench_tier(tier, work_dir)
    save_result(work_dir, result, run_name(tier))
    return result


def spark_environment(folder: Path) -> dict[str, str]:
    """The spark target with its warehouse and metastore under folder/spark, dbt's artefacts
    and logs under folder (the driver memory and shuffle partitions come from the caller's
    SEGMENTS_SPARK_DRIVER_MEMORY and SEGMENTS_SPARK_SHUFFLE_PARTITIONS)."""
    environment = run_environment(folder)
    environment.update({"SEGMENTS_TARGET": ENGINE, "SEGMENTS_SPARK_DIR": str(folder / "spark")})
    environment.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return environment


def folder_row_counts(folder: Path) -> dict[str, int]:
    """Rows per raw table of a raw folder, from the Parquet footers (nothing is read)."""
    import pyarrow.parquet as pq

    return {path.stem: int(pq.ParquetFile(path).metadata.num_rows) for path in sorted(folder.glob("*.parquet"))}


def bench_tier(tier: str, work_dir: Path) -> TierResult:
    result = TierResult(tier, TIERS[tier])
    folder, result.generate = ensure_tier(tier, work_dir)
    directory = run_dir(work_dir, tier)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    environment = spark_environment(directory)
    result.raw_rows = folder_row_counts(folder)
    progress(f"[{tier}] spark: segments load --from {folder} ({sum(result.raw_rows.values()):,} raw rows)")
    log = directory / "load.log"
    result.load = checked(
        "segments load (spark)", measure([str(BIN / "segments"), "load", "--from", str(folder)], environment, log), log
    )
    progress(
        f"[{tier}] spark load: {result.load.seconds:.1f} s; segments dbt build (log {directory / 'dbt_build.log'})"
    )
    timed_build(result, [str(BIN / "segments"), "dbt", "build"], environment, directory)
    return result


def duckdb_twin(work_dir: Path, tier: str) -> TierResult | None:
    """The DuckDB run of the tier on this machine, if segments bench measured one."""
    try:
        return load_result(work_dir, tier)
    except CommandError:
        return None


Cells = tuple[str, str, str]  # Spark, DuckDB, Spark / DuckDB


def timed_cells(spark: float | None, duckdb: float | None) -> Cells:
    return (
        f"{spark:.1f} s" if spark is not None else "",
        f"{duckdb:.1f} s" if duckdb is not None else "",
        f"{spark / duckdb:.1f}x" if spark is not None and duckdb else "",
    )


def build_cells(spark: TierResult, duckdb: TierResult | None) -> Cells:
    """The build's wall time on both engines, with the exit code when a build failed (its
    figures then cover only the nodes that ran)."""
    cells = timed_cells(step_seconds(spark, "build"), step_seconds(duckdb, "build"))
    return (failed_mark(cells[0], spark), failed_mark(cells[1], duckdb), cells[2])


def failed_mark(cell: str, result: TierResult | None) -> str:
    build = result.build if result is not None else None
    return f"{cell} (exit {build.returncode})" if build is not None and build.returncode != 0 else cell


def step_seconds(result: TierResult | None, step: str) -> float | None:
    measured: Measured | None = getattr(result, step) if result is not None else None
    return measured.seconds if measured is not None else None


def slowest_cell(result: TierResult | None) -> str:
    return "<br>".join(f"{name} {seconds:.1f} s" for name, seconds in slowest_models(result)) if result else ""


def peak_cell(result: TierResult | None) -> str:
    return gib(result.build.peak_bytes) if result is not None and result.build is not None else ""


def pair_rows(spark: TierResult, duckdb: TierResult | None) -> list[tuple[str, Cells]]:
    """The report's rows for one tier: label and its Spark, DuckDB and ratio cells."""
    rows = [
        ("`segments load`", timed_cells(step_seconds(spark, "load"), step_seconds(duckdb, "load"))),
        ("`dbt build` wall time", build_cells(spark, duckdb)),
    ]
    rows += [
        (
            f"{layer} (sum of node times)",
            timed_cells(layer_seconds(spark, layer), layer_seconds(duckdb, layer) if duckdb else None),
        )
        for layer in SHOWN_LAYERS
    ]
    # Spark's JVM is not a waited-for child of the build's process: its peak is not measured
    # (its heap is SEGMENTS_SPARK_DRIVER_MEMORY); DuckDB's is the whole build's
    rows.append(("peak memory of the build (DuckDB)", ("", peak_cell(duckdb), "")))
    rows.append(("five slowest models", (slowest_cell(spark), slowest_cell(duckdb), "")))
    return rows


def comparison_table(results: list[TierResult], work_dir: Path) -> list[str]:
    """Markdown rows: per tier, Spark's figures, DuckDB's on the same tier, their ratio."""
    per_tier = [pair_rows(result, duckdb_twin(work_dir, result.tier)) for result in results]
    header = [
        f"{tier_label(result)}: {engine}" for result in results for engine in ("Spark", "DuckDB", "Spark / DuckDB")
    ]
    lines = ["| step | " + " | ".join(header) + " |", "| --- |" + " ---: |" * len(header)]
    for index, (label, _) in enumerate(per_tier[0] if per_tier else []):
        cells = [cell for rows in per_tier for cell in rows[index][1]]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def report(results: list[TierResult], info: dict[str, str], work_dir: Path) -> str:
    import time

    command = f"segments bench --engine spark --tiers {','.join(result.tier for result in results)}"
    settings = ", ".join(
        f"{name}={os.environ.get(name, default)}"
        for name, default in (("SEGMENTS_SPARK_DRIVER_MEMORY", "4g"), ("SEGMENTS_SPARK_SHUFFLE_PARTITIONS", "2"))
    )
    lines = [f"Measured {time.strftime('%Y-%m-%d')} by `{command}` (local[2], {settings}) on:", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    lines += ["", *comparison_table(results, work_dir), ""]
    missing = [result.tier for result in results if duckdb_twin(work_dir, result.tier) is None]
    if missing:
        lines += [f"No DuckDB run of {', '.join(missing)} in {work_dir}: run `segments bench --tiers ...` first.", ""]
    return "\n".join(lines)
