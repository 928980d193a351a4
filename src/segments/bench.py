"""``segments bench``: the speed and memory figures of the warehouse on this machine.

For each tier (the bundled sample, then generated data sets of 250k and 1M customers, 10M
with ``--with-10m``), in one run: generate the raw folder (or reuse it, cached by tier
under ``<work-dir>/tiers/<customers>``, generator seed 1), time ``segments load``, run ONE
``dbt build`` (dbt's start-up is paid once) and attribute its time to layers, models and
tests from ``target/run_results.json`` and the manifest, then time the two baselines on
the same raw tables: the one-query lower bound (benchmarks/baseline_one_query.sql) and
pandas (benchmarks/baseline_pandas.py). The daily step (unless ``--no-daily``): the tier is
split into its history and its last day (``segments split-deliveries``, cached), the load
and build above read the history, and then the last day is appended (``segments load
--append``) and built again, both timed. Prints the figures, each model's growth between
consecutive tiers, and writes the results table to docs/benchmarks.md between markers.
Nothing is asserted: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

from segments.bench_timeline import describe, node_span, wall_time
from segments.errors import CommandError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLE_RAW = PROJECT_ROOT / "sample_data" / "raw"
BENCHMARKS = PROJECT_ROOT / "benchmarks"
DEFAULT_DOCS = PROJECT_ROOT / "docs" / "benchmarks.md"
ENGINES = ("duckdb", "spark")
DEFAULT_DOCS_OF_ENGINE = {"duckdb": DEFAULT_DOCS, "spark": PROJECT_ROOT / "docs" / "spark.md"}
GENERATOR_SEED = 1
# tier name -> generated customers (None: the bundled sample, never generated)
TIERS: dict[str, int | None] = {"sample": None, "250k": 250_000, "1m": 1_000_000, "10m": 10_000_000}
DEFAULT_TIERS = ("sample", "250k", "1m")
# dbt layers, selected by their folder tag (tag:<layer>); a model without one of these
# tags is attributed by its folder instead (FOLDER_LAYERS, first match)
LAYERS = ("staging", "identity", "features", "segments", "quality", "activation")
FOLDER_LAYERS = (
    ("models/staging/", "staging"),
    ("models/intermediate/identity/", "identity"),
    ("models/marts/identity/", "identity"),
    ("models/intermediate/features/", "features"),
    ("models/marts/features/", "features"),
    ("models/intermediate/segments/", "segments"),
    ("models/marts/segments/", "segments"),
    ("models/marts/quality/", "quality"),
    ("models/intermediate/activation/", "activation"),
    ("models/marts/activation/", "activation"),
)
TEST_TYPES = ("test", "unit_test")
RAW_ORDERS_SOURCE = ("shop", "orders")  # (source_name, name) of the raw orders, whatever the project is called
RFM_SCORES, RFM_SEGMENTS = "int_rfm_scores", "customer_segments"  # where the RFM columns end
# Targets of issue 11, set for the 1M tier (checked on the largest tier measured): load plus
# dbt build wall time, the RFM path over the one-query bound, each model's growth between
# generated tiers (5x for 4x data: GROWTH_PER_DATA_GROWTH times the data's growth, for
# models taking at least GROWTH_MIN_SECONDS on the larger tier; below that, start-up noise
# dominates), and the peak memory of dbt build.
TARGET_TIER = "1m"
TARGET_LOAD_AND_BUILD_SECONDS = 60.0
TARGET_PATH_RATIO = 3.0
GROWTH_PER_DATA_GROWTH = 1.25
GROWTH_MIN_SECONDS = 1.0
TARGET_PEAK_BYTES = 6 * 1000**3
# the 10M tier: load plus build in at most this many times the 1M tier's
LARGE_TIER_TIME_FACTOR = 12.0
DOCS_START = "<!-- bench:start -->"
DOCS_END = "<!-- bench:end -->"


@dataclass
class Measured:
    """One timed subprocess: wall seconds, peak resident memory, exit code."""

    seconds: float
    peak_bytes: int
    returncode: int = 0


@dataclass
class NodeTiming:
    """One dbt node of the build, from run_results.json and the manifest."""

    unique_id: str
    name: str
    layer: str
    seconds: float
    status: str
    thread: str = ""  # dbt's thread_id
    started_at: float | None = None  # epoch seconds: the node's first timing step began
    completed_at: float | None = None  # and its last one ended (None: skipped, or saved before)


@dataclass
class TierResult:
    """Everything measured on one tier."""

    tier: str
    customers: int | None
    raw_rows: dict[str, int] = field(default_factory=dict)
    generate: Measured | None = None
    load: Measured | None = None
    build: Measured | None = None
    nodes: list[NodeTiming] = field(default_factory=list)
    rfm_path: list[str] = field(default_factory=list)
    baselines: dict[str, Measured] = field(default_factory=dict)
    daily_rows: int = 0
    daily_load: Measured | None = None
    daily_build: Measured | None = None
    daily_nodes: list[NodeTiming] = field(default_factory=list)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tiers",
        default=",".join(DEFAULT_TIERS),
        help="comma-separated tiers among sample, 250k, 1m, 10m (default: sample,250k,1m)",
    )
    parser.add_argument(
        "--with-10m", action="store_true", help="add the 10M-customer tier (needs far more memory and time)"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=PROJECT_ROOT / "benchmark_output",
        help="generated tiers (cached) and the per-tier warehouses",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=ENGINES[0],
        help="duckdb (default), or spark: the same tiers loaded and built on local Spark, set beside "
        "the tiers' last DuckDB runs (no baselines, no daily step)",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=None,
        help="markdown file whose bench section is replaced with the results "
        "(default docs/benchmarks.md; docs/spark.md with --engine spark)",
    )
    parser.add_argument("--no-docs", action="store_true", help="print only, write no docs")
    parser.add_argument(
        "--no-daily",
        action="store_true",
        help="skip the daily step (load and build the whole tier, append nothing)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: report the tiers' last measured results (<work-dir>/runs/<tier>/)",
    )


def parse_tiers(text: str, with_10m: bool) -> list[str]:
    """The tiers in the order given, smallest first, 10m added by the flag."""
    tiers: list[str] = []
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in TIERS:
            raise CommandError(f"unknown tier {part.strip()!r}: choose among {', '.join(TIERS)}")
        if name not in tiers:
            tiers.append(name)
    if with_10m and "10m" not in tiers:
        tiers.append("10m")
    if not tiers:
        raise CommandError("--tiers names no tier")
    return sorted(tiers, key=lambda name: TIERS[name] or 0)


def progress(message: str) -> None:
    print(f"segments bench: {message}", file=sys.stderr, flush=True)


def measure(command: list[str], environment: dict[str, str], log: Path) -> Measured:
    """Run command with its output in log; wall time and the peak RSS of its process tree."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("w") as output:
        try:
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
            )
        except OSError as error:
            raise CommandError(f"cannot run {command[0]}: {error}") from error
        # wait4 gives this child's own resource usage (its waited-for children included)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(time.monotonic() - started, usage.ru_maxrss * 1024, process.returncode)


def checked(step: str, result: Measured, log: Path) -> Measured:
    if result.returncode != 0:
        raise CommandError(f"{step} failed (exit {result.returncode}); see {log}")
    return result


def tier_folder(work_dir: Path, tier: str) -> Path:
    customers = TIERS[tier]
    return SAMPLE_RAW if customers is None else work_dir / "tiers" / str(customers)


def ensure_tier(tier: str, work_dir: Path) -> tuple[Path, Measured | None]:
    """The raw folder of a tier, generated unless a complete one is cached."""
    customers = TIERS[tier]
    folder = tier_folder(work_dir, tier)
    if customers is None:
        if not (folder / "orders.parquet").exists():
            raise CommandError(f"the bundled sample is missing at {folder}; run `make sample`")
        return folder, None
    stamp = folder / ".complete"
    wanted = {"customers": customers, "seed": GENERATOR_SEED}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        progress(f"[{tier}] reusing the generated folder {folder}")
        return folder, None
    shutil.rmtree(folder, ignore_errors=True)
    progress(f"[{tier}] generating {customers:,} customers (seed {GENERATOR_SEED}) into {folder}")
    log = work_dir / "logs" / f"generate_{tier}.log"
    result = checked(
        f"generating tier {tier}",
        measure(
            [
                str(BIN / "segments"),
                "generate",
                "--customers",
                str(customers),
                "--seed",
                str(GENERATOR_SEED),
                "--out",
                str(folder),
            ],
            dict(os.environ),
            log,
        ),
        log,
    )
    stamp.write_text(json.dumps(wanted))
    return folder, result


def split_tier(tier: str, folder: Path, work_dir: Path) -> tuple[Path, Path]:
    """The tier as its history and its last day's delivery (cached, like the tier)."""
    from segments.deliveries import latest_day_of

    out = work_dir / "deliveries" / tier
    stamp = out / ".complete"
    source = str(folder.resolve())
    if stamp.exists() and json.loads(stamp.read_text()).get("source") == source:
        days = delivery_folders(out)
        return days[0], days[-1]
    shutil.rmtree(out, ignore_errors=True)
    last_day = latest_day_of(folder)
    progress(f"[{tier}] splitting {folder} into its history and the delivery of {last_day}")
    # in its own process: a child's peak RSS (wait4's ru_maxrss) starts at its parent's
    # high-water mark, so a split run in this process would inflate every later figure
    log = work_dir / "deliveries" / f"{tier}.split.log"
    checked(
        "segments split-deliveries",
        measure(
            [
                str(BIN / "segments"),
                "split-deliveries",
                "--from",
                str(folder),
                "--out",
                str(out),
                "--since",
                last_day.isoformat(),
            ],
            dict(os.environ),
            log,
        ),
        log,
    )
    stamp.write_text(json.dumps({"source": source}))
    days = delivery_folders(out)
    return days[0], days[-1]


def delivery_folders(out: Path) -> list[Path]:
    """The day folders of a split (named by their date), oldest first."""
    days = []
    for path in out.iterdir():
        try:
            date.fromisoformat(path.name)
        except ValueError:
            continue
        if path.is_dir():
            days.append(path)
    if not days:
        raise CommandError(f"{out} holds no delivery folder; remove it and run the benchmark again")
    return sorted(days)


def bench_daily(tier: str, result: TierResult, day: Path, database: Path, run_dir: Path) -> None:
    """Append one day's delivery to the built warehouse and build again, both timed."""
    environment = dbt_environment(database, run_dir)
    log = run_dir / "daily_load.log"
    result.daily_load = checked(
        "segments load --append",
        measure(
            [str(BIN / "segments"), "load", "--append", "--from", str(day), "--database", str(database)],
            environment,
            log,
        ),
        log,
    )
    result.daily_rows = sum(raw_row_counts(database).values()) - sum(result.raw_rows.values())
    progress(f"[{tier}] daily load --append: {result.daily_load.seconds:.1f} s, {result.daily_rows:,} rows")
    log = run_dir / "daily_dbt_build.log"
    result.daily_build = measure([str(BIN / "dbt"), "build"], environment, log)
    target = run_dir / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    result.daily_nodes = node_timings(json.loads((target / "run_results.json").read_text()), manifest)
    progress(f"[{tier}] daily dbt build: {result.daily_build.seconds:.1f} s, exit {result.daily_build.returncode}")


def run_environment(run_dir: Path) -> dict[str, str]:
    """This process's environment with the project's profiles and dbt's artefacts and logs
    under run_dir (either engine's build)."""
    environment = dict(os.environ)
    environment.update(
        {
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            "DBT_TARGET_PATH": str(run_dir / "target"),
            "DBT_LOG_PATH": str(run_dir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    return environment


def dbt_environment(database: Path, run_dir: Path) -> dict[str, str]:
    environment = run_environment(run_dir)
    environment["SEGMENTS_DUCKDB_PATH"] = str(database)
    return environment


def layer_of(node: dict[str, Any]) -> str:
    """A node's layer: tests, seeds, its layer tag, else its folder, else other."""
    resource_type = str(node.get("resource_type", ""))
    if resource_type in TEST_TYPES:
        return "tests"
    if resource_type == "seed":
        return "seeds"
    tags = [str(tag) for tag in node.get("tags", [])]
    for layer in LAYERS:
        if layer in tags:
            return layer
    path = str(node.get("original_file_path", ""))
    for prefix, layer in FOLDER_LAYERS:
        if path.startswith(prefix):
            return layer
    return "other"


def manifest_nodes(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = {}
    for section in ("nodes", "unit_tests", "sources"):
        nodes.update(manifest.get(section, {}))
    return nodes


def node_timings(run_results: dict[str, Any], manifest: dict[str, Any]) -> list[NodeTiming]:
    nodes = manifest_nodes(manifest)
    timings: list[NodeTiming] = []
    for result in run_results["results"]:
        node = nodes.get(result["unique_id"], {})
        name = str(node.get("name") or result["unique_id"].rsplit(".", 1)[-1])
        started_at, completed_at = node_span(result)
        timings.append(
            NodeTiming(
                result["unique_id"],
                name,
                layer_of(node),
                float(result["execution_time"]),
                str(result["status"]),
                str(result.get("thread_id") or ""),
                started_at,
                completed_at,
            )
        )
    return timings


def rfm_path(manifest: dict[str, Any]) -> list[str]:
    """Models on the lineage from the raw orders to the RFM columns of customer_segments:
    the descendants of source shop.orders that int_rfm_scores needs, int_rfm_scores, and
    customer_segments itself (not its other parents: engagement and recency are not RFM)."""
    nodes = manifest_nodes(manifest)
    parents = {
        unique_id: [str(parent) for parent in node.get("depends_on", {}).get("nodes", [])]
        for unique_id, node in nodes.items()
    }
    models = {
        str(node.get("name")): unique_id for unique_id, node in nodes.items() if node.get("resource_type") == "model"
    }
    ancestors: set[str] = set()
    pending = [models[RFM_SCORES]] if RFM_SCORES in models else []
    while pending:
        current = pending.pop()
        if current not in ancestors:
            ancestors.add(current)
            pending.extend(parents.get(current, []))
    raw_orders = {
        unique_id
        for unique_id, node in nodes.items()
        if node.get("resource_type") == "source" and (node.get("source_name"), node.get("name")) == RAW_ORDERS_SOURCE
    }
    descends_from_orders: dict[str, bool] = {}

    def from_orders(unique_id: str) -> bool:
        if unique_id not in descends_from_orders:
            descends_from_orders[unique_id] = False  # guards against cycles
            descends_from_orders[unique_id] = unique_id in raw_orders or any(
                from_orders(parent) for parent in parents.get(unique_id, [])
            )
        return descends_from_orders[unique_id]

    path = {
        unique_id
        for unique_id in ancestors
        if nodes[unique_id].get("resource_type") == "model" and from_orders(unique_id)
    }
    if RFM_SEGMENTS in models:
        path.add(models[RFM_SEGMENTS])
    return sorted(path)


def raw_row_counts(database: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' order by table_name"
            ).fetchall()
        ]
        counts: dict[str, int] = {}
        for table in tables:
            row = connection.execute(f'select count(*) from raw."{table}"').fetchone()
            counts[table] = int(row[0]) if row is not None else 0
    return counts


def run_baseline(script: str, database: Path, log: Path) -> Measured:
    """Run a baseline script; its own timing (the JSON it prints) replaces the wall time. A
    baseline that fails (pandas out of memory at 10M, say) is recorded with its exit code,
    not fatal: the build's figures are already measured."""
    result = measure([sys.executable, str(BENCHMARKS / script), "--database", str(database)], dict(os.environ), log)
    if result.returncode != 0:
        return result
    reported = json.loads(log.read_text().strip().splitlines()[-1])
    return Measured(float(reported["seconds"]), result.peak_bytes)


def baseline_ok(result: TierResult, name: str) -> bool:
    return name in result.baselines and result.baselines[name].returncode == 0


def timed_build(result: TierResult, command: list[str], environment: dict[str, str], run_dir: Path) -> None:
    """Run the build command (dbt build, or segments dbt build on Spark) with its log in
    run_dir; its wall time and peak into result, and each node's time from its run results."""
    log = run_dir / "dbt_build.log"
    result.build = measure(command, environment, log)
    target = run_dir / "target"
    if not (target / "run_results.json").exists():
        raise CommandError(
            f"{' '.join(command[-2:])} wrote no run_results.json (exit {result.build.returncode}); see {log}"
        )
    manifest = json.loads((target / "manifest.json").read_text())
    result.nodes = node_timings(json.loads((target / "run_results.json").read_text()), manifest)
    result.rfm_path = rfm_path(manifest)
    failed = [node.name for node in result.nodes if node.status in ("error", "fail")]
    progress(
        f"[{result.tier}] {' '.join(command[-2:])}: {result.build.seconds:.1f} s, peak "
        f"{gib(result.build.peak_bytes)}, exit {result.build.returncode}"
        + (f", failed: {', '.join(failed)}" if failed else "")
    )


def bench_tier(tier: str, work_dir: Path, daily: bool = True) -> TierResult:
    result = TierResult(tier, TIERS[tier])
    folder, result.generate = ensure_tier(tier, work_dir)
    if result.generate is not None:
        progress(f"[{tier}] generate: {result.generate.seconds:.1f} s, peak {gib(result.generate.peak_bytes)}")
    day: Path | None = None
    if daily:
        folder, day = split_tier(tier, folder, work_dir)
    run_dir = work_dir / "runs" / tier
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    database = run_dir / "warehouse.duckdb"
    environment = dbt_environment(database, run_dir)
    progress(f"[{tier}] segments load --from {folder}")
    log = run_dir / "load.log"
    result.load = checked(
        "segments load",
        measure([str(BIN / "segments"), "load", "--from", str(folder), "--database", str(database)], environment, log),
        log,
    )
    result.raw_rows = raw_row_counts(database)
    progress(
        f"[{tier}] load: {result.load.seconds:.1f} s, {sum(result.raw_rows.values()):,} "
        f"raw rows; dbt build (log {run_dir / 'dbt_build.log'})"
    )
    try:
        timed_build(result, [str(BIN / "dbt"), "build"], environment, run_dir)
    finally:
        save_result(work_dir, result)  # a failed build is reported too (--report-only)
    built = {node.unique_id for node in result.nodes if node.status == "success"}
    if not set(result.rfm_path) <= built:
        # the report shows the build's exit code and what it reached; the baselines and the
        # daily step would compare with models that are not there
        progress(f"[{tier}] dbt build did not build every RFM model; see {run_dir / 'dbt_build.log'}")
        return result
    for name, script in (("one query", "baseline_one_query.py"), ("pandas", "baseline_pandas.py")):
        log = run_dir / f"baseline_{script.removesuffix('.py')}.log"
        result.baselines[name] = run_baseline(script, database, log)
        save_result(work_dir, result)
        progress(
            f"[{tier}] baseline {name}: {result.baselines[name].seconds:.2f} s"
            + (
                f", failed (exit {result.baselines[name].returncode}; see {log})"
                if not baseline_ok(result, name)
                else ""
            )
        )
    if day is not None:
        bench_daily(tier, result, day, database, run_dir)
    return result


# --- figures -----------------------------------------------------------------------------


def gib(size: int) -> str:
    return f"{size / 1024**3:.2f} GiB"


def layer_seconds(result: TierResult, layer: str) -> float:
    return sum(node.seconds for node in result.nodes if node.layer == layer)


def path_seconds(result: TierResult) -> float:
    path = set(result.rfm_path)
    return sum(node.seconds for node in result.nodes if node.unique_id in path)


def model_seconds(result: TierResult) -> dict[str, float]:
    return {node.name: node.seconds for node in result.nodes if node.layer not in ("tests", "seeds")}


def slowest_models(result: TierResult, count: int = 5) -> list[tuple[str, float]]:
    return sorted(model_seconds(result).items(), key=lambda item: -item[1])[:count]


def tests_summary(result: TierResult) -> str:
    tests = [node for node in result.nodes if node.layer == "tests"]
    statuses: dict[str, int] = {}
    for node in tests:
        statuses[node.status] = statuses.get(node.status, 0) + 1
    counts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    return f"{sum(node.seconds for node in tests):.1f} s ({len(tests)} tests: {counts})"


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}x" if denominator > 0 else "n/a"


def tier_label(result: TierResult) -> str:
    if result.customers is None:
        return "sample"
    return f"{result.customers:,}"


def results_table(results: list[TierResult]) -> list[str]:
    """Markdown rows: one line per step, one column per tier."""

    def row(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [
        row(
            "step",
            [
                f"{tier_label(result)} customers" if result.customers else "sample (`sample_data/raw`)"
                for result in results
            ],
        ),
        "| --- |" + " ---: |" * len(results),
    ]
    lines.append(
        row(
            "raw rows (orders)",
            [f"{sum(result.raw_rows.values()):,} ({result.raw_rows.get('orders', 0):,})" for result in results],
        )
    )
    lines.append(
        row(
            "generate",
            [
                "bundled"
                if result.customers is None
                else (
                    f"{result.generate.seconds:.1f} s, peak {gib(result.generate.peak_bytes)}"
                    if result.generate
                    else "cached"
                )
                for result in results
            ],
        )
    )
    lines.append(row("`segments load`", [f"{result.load.seconds:.1f} s" if result.load else "" for result in results]))
    for layer in ("seeds", *LAYERS):
        lines.append(
            row(f"{layer} (sum of model times)", [f"{layer_seconds(result, layer):.1f} s" for result in results])
        )
    lines.append(row("dbt tests (sum)", [tests_summary(result) for result in results]))
    lines.append(
        row(
            "`dbt build` wall time (2 threads)",
            [
                f"{result.build.seconds:.1f} s (exit {result.build.returncode})" if result.build else ""
                for result in results
            ],
        )
    )
    lines.append(
        row("peak memory of `dbt build`", [gib(result.build.peak_bytes) if result.build else "" for result in results])
    )
    lines.append(
        row(
            "raw orders to RFM segments (project path)",
            [f"{path_seconds(result):.1f} s ({len(result.rfm_path)} models)" for result in results],
        )
    )
    for name, measured in (("one query", "one-query lower bound"), ("pandas", "pandas")):
        lines.append(
            row(
                measured,
                [
                    f"{result.baselines[name].seconds:.2f} s, peak {gib(result.baselines[name].peak_bytes)}"
                    if baseline_ok(result, name)
                    else (
                        f"failed (exit {result.baselines[name].returncode}) after "
                        f"{result.baselines[name].seconds:.0f} s, peak {gib(result.baselines[name].peak_bytes)}"
                        if name in result.baselines
                        else ""
                    )
                    for result in results
                ],
            )
        )
    for name in ("one query", "pandas"):
        lines.append(
            row(
                f"project path / {name}",
                [
                    ratio(path_seconds(result), result.baselines[name].seconds) if baseline_ok(result, name) else ""
                    for result in results
                ],
            )
        )
    lines.append(
        row(
            "daily: `segments load --append` of the last day",
            [
                f"{result.daily_load.seconds:.1f} s ({result.daily_rows:,} rows)" if result.daily_load else ""
                for result in results
            ],
        )
    )
    lines.append(
        row(
            "daily: `dbt build` after it",
            [
                f"{result.daily_build.seconds:.1f} s (exit {result.daily_build.returncode})"
                if result.daily_build
                else ""
                for result in results
            ],
        )
    )
    lines.append(
        row(
            "daily build / full build",
            [
                f"{100 * result.daily_build.seconds / result.build.seconds:.0f}%"
                if result.daily_build and result.build and result.build.seconds > 0
                else ""
                for result in results
            ],
        )
    )
    lines.append(
        row(
            "daily: staging, identity, features, segments (sums)",
            [
                " / ".join(
                    f"{sum(node.seconds for node in result.daily_nodes if node.layer == layer):.1f} s"
                    for layer in ("staging", "identity", "features", "segments")
                )
                if result.daily_nodes
                else ""
                for result in results
            ],
        )
    )
    lines.append(
        row(
            "five slowest models",
            ["<br>".join(f"{name} {seconds:.1f} s" for name, seconds in slowest_models(result)) for result in results],
        )
    )
    return lines


def growth_table(results: list[TierResult]) -> list[str]:
    """Each model's seconds per tier and its growth between consecutive tiers."""
    if not results:
        return []
    per_tier = [model_seconds(result) for result in results]
    layers = {node.name: node.layer for result in results for node in result.nodes}
    header = ["model", "layer", *[f"{tier_label(result)} s" for result in results]]
    header += [f"{tier_label(before)} → {tier_label(after)}" for before, after in itertools.pairwise(results)]
    lines = ["| " + " | ".join(header) + " |", "| --- | --- |" + " ---: |" * (len(header) - 2)]
    names = sorted(per_tier[-1], key=lambda name: -per_tier[-1][name])
    for name in names:
        cells = [name, layers.get(name, "")]
        cells += [f"{seconds[name]:.2f}" if name in seconds else "" for seconds in per_tier]
        cells += [
            ratio(after[name], before[name]) if name in before and name in after else ""
            for before, after in itertools.pairwise(per_tier)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def model_growth(before: TierResult, after: TierResult, min_seconds: float = GROWTH_MIN_SECONDS) -> dict[str, float]:
    """Each model's seconds on after over its seconds on before, for the models measured on
    both that take at least min_seconds on after (and a positive time on before)."""
    first, second = model_seconds(before), model_seconds(after)
    return {
        name: seconds / first[name]
        for name, seconds in second.items()
        if name in first and first[name] > 0 and seconds >= min_seconds
    }


@dataclass
class TargetCheck:
    """One target of issue 11 on one tier: what was measured, the limit, whether it is met,
    and, for a missed one, where the time goes (from the same run's figures)."""

    target: str
    tier: str
    measured: str
    limit: str
    met: bool
    where: str = ""


def checked_tier(results: list[TierResult]) -> TierResult | None:
    """The tier the targets are checked on: TARGET_TIER when it was measured, else the
    largest tier measured."""
    measured = [result for result in results if result.build is not None]
    return next((result for result in measured if result.tier == TARGET_TIER), measured[-1] if measured else None)


def named_seconds(items: list[tuple[str, float]], count: int = 3) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in items[:count])


def most_time_added(before: TierResult, after: TierResult, names: list[str], count: int = 3) -> str:
    """The count models among names that added the most seconds from before to after (a model
    not measured before counts from 0), with both times."""
    first, second = model_seconds(before), model_seconds(after)
    added = sorted(names, key=lambda name: -(second[name] - first.get(name, 0.0)))
    return "most time added: " + ", ".join(
        f"{name} {first.get(name, 0.0):.1f} → {second[name]:.1f} s" for name in added[:count]
    )


def wall_time_where(result: TierResult) -> str:
    """Where the load plus build wall time goes: the load, then the build taken apart."""
    assert result.load is not None and result.build is not None
    wall = wall_time(result.nodes, result.build.seconds)
    built = f"`dbt build` {result.build.seconds:.1f} s" + (f": {describe(wall)}" if wall else "")
    return f"load {result.load.seconds:.1f} s; {built}"


def path_where(result: TierResult) -> str:
    path = set(result.rfm_path)
    slowest = sorted(
        ((node.name, node.seconds) for node in result.nodes if node.unique_id in path), key=lambda item: -item[1]
    )
    return f"slowest on the path: {named_seconds(slowest)} (of {path_seconds(result):.1f} s)"


def growth_check(before: TierResult, after: TierResult) -> TargetCheck:
    """Each model's growth between two generated tiers against GROWTH_PER_DATA_GROWTH
    times the data's growth."""
    data_growth = (after.customers or 0) / (before.customers or 1)
    limit = GROWTH_PER_DATA_GROWTH * data_growth
    growth = model_growth(before, after)
    over = sorted(((name, factor) for name, factor in growth.items() if factor > limit), key=lambda item: -item[1])
    worst = max(growth.items(), key=lambda item: item[1], default=None)
    text = (
        ", ".join(f"{name} {factor:.1f}x" for name, factor in over)
        if over
        else (f"largest {worst[0]} {worst[1]:.1f}x" if worst else "no model")
    )
    return TargetCheck(
        f"model growth {tier_label(before)} → {tier_label(after)} "
        f"({data_growth:.0f}x data; models of {GROWTH_MIN_SECONDS:.0f} s or more)",
        tier_label(after),
        text,
        f"{limit:.1f}x",
        not over,
        most_time_added(before, after, [name for name, _ in over]) if over else "",
    )


def large_tier_check(reference: TierResult, large: TierResult) -> TargetCheck:
    """The 10M tier's load plus build against LARGE_TIER_TIME_FACTOR times the 1M's."""
    assert reference.load and reference.build and large.load and large.build
    reference_seconds = reference.load.seconds + reference.build.seconds
    seconds = large.load.seconds + large.build.seconds
    factor = seconds / reference_seconds if reference_seconds > 0 else float("inf")
    finished = large.build.returncode == 0
    failed = ", ".join(node.name for node in large.nodes if node.status in ("error", "fail"))
    where = (
        ""
        if factor <= LARGE_TIER_TIME_FACTOR and finished
        else (
            ("" if finished else f"`dbt build` exit {large.build.returncode}{': ' + failed if failed else ''}; ")
            + f"load {reference.load.seconds:.1f} → {large.load.seconds:.1f} s, "
            + f"build {reference.build.seconds:.1f} → {large.build.seconds:.1f} s; "
            + most_time_added(reference, large, list(model_seconds(large)))
        )
    )
    return TargetCheck(
        f"`segments load` + `dbt build` against the {tier_label(reference)} tier's",
        tier_label(large),
        f"{seconds:.1f} s ({factor:.1f}x {reference_seconds:.1f} s)",
        f"{LARGE_TIER_TIME_FACTOR:.0f}x",
        finished and factor <= LARGE_TIER_TIME_FACTOR,
        where,
    )


def target_checks(results: list[TierResult]) -> list[TargetCheck]:
    """The targets on the checked tier (TARGET_TIER if measured, else the largest), the
    model growth between it and the generated tier before it, and, when a tier larger than
    TARGET_TIER was measured too, its time against the target tier's."""
    largest = checked_tier(results)
    if largest is None:
        return []
    label = tier_label(largest)
    checks: list[TargetCheck] = []
    if largest.load is not None and largest.build is not None:
        seconds = largest.load.seconds + largest.build.seconds
        met = seconds <= TARGET_LOAD_AND_BUILD_SECONDS
        checks.append(
            TargetCheck(
                "`segments load` + `dbt build` wall time",
                label,
                f"{seconds:.1f} s",
                f"{TARGET_LOAD_AND_BUILD_SECONDS:.0f} s",
                met,
                "" if met else wall_time_where(largest),
            )
        )
    if baseline_ok(largest, "one query") and largest.baselines["one query"].seconds > 0:
        path_ratio = path_seconds(largest) / largest.baselines["one query"].seconds
        met = path_ratio <= TARGET_PATH_RATIO
        checks.append(
            TargetCheck(
                "project path / one-query bound",
                label,
                f"{path_ratio:.1f}x",
                f"{TARGET_PATH_RATIO:.0f}x",
                met,
                "" if met else path_where(largest),
            )
        )
    elif largest.build is not None:
        baseline = largest.baselines.get("one query")
        checks.append(
            TargetCheck(
                "project path / one-query bound",
                label,
                "not measured",
                f"{TARGET_PATH_RATIO:.0f}x",
                False,
                f"the one-query baseline failed (exit {baseline.returncode})"
                if baseline
                else "the one-query baseline did not run (the build did not reach every RFM model)",
            )
        )
    generated = [result for result in results if result.customers and result.nodes]
    upto = [result for result in generated if (result.customers or 0) <= (largest.customers or 0)]
    if len(upto) >= 2:
        checks.append(growth_check(upto[-2], upto[-1]))
    if largest.build is not None:
        checks.append(
            TargetCheck(
                "peak memory of `dbt build`",
                label,
                gib(largest.build.peak_bytes),
                f"{TARGET_PEAK_BYTES / 1000**3:.0f} GB ({gib(TARGET_PEAK_BYTES)})",
                largest.build.peak_bytes <= TARGET_PEAK_BYTES,
            )
        )
    larger = [
        result
        for result in results
        if (result.customers or 0) > (largest.customers or 0) and result.load and result.build
    ]
    if larger and largest.load and largest.build and largest.tier == TARGET_TIER:
        checks.append(large_tier_check(largest, larger[-1]))
    return checks


def targets_table(results: list[TierResult]) -> list[str]:
    checks = target_checks(results)
    if not checks:
        return []
    lines = [
        f"Targets (issue 11, set for the {TARGET_TIER.upper()} tier; checked on it, or on the largest tier "
        "measured without it; where a target is missed, where the time goes, from the same run):",
        "",
        "| target | tier | measured | limit | met | where the time goes |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    lines += [
        f"| {check.target} | {check.tier} | {check.measured} | {check.limit} | "
        f"{'yes' if check.met else '**no**'} | {check.where} |"
        for check in checks
    ]
    return lines


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = platform.processor() or platform.machine()
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "CPU": f"{os.cpu_count()} logical CPUs, {model}",
        "RAM": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "DuckDB": metadata.version("duckdb"),
        "dbt-core": metadata.version("dbt-core"),
        "dbt-duckdb": metadata.version("dbt-duckdb"),
    }


def report(results: list[TierResult], info: dict[str, str], report_only: bool = False) -> str:
    command = f"segments bench --tiers {','.join(result.tier for result in results)}"
    how = f"Reported {time.strftime('%Y-%m-%d')} by `{command} --report-only` from each tier's last run"
    lines = [
        (how if report_only else f"Measured {time.strftime('%Y-%m-%d')} by `{command}`") + " on:",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    lines += [
        "",
        *results_table(results),
        "",
        *([*targets, ""] if (targets := targets_table(results)) else []),
        "Per model (seconds from dbt's run_results, "
        "slowest at the largest tier first) and growth between consecutive tiers:",
        "",
        *growth_table(results),
    ]
    if results:
        lines += [
            "",
            "Models counted in the project path (raw orders to RFM segments): "
            + ", ".join(f"`{uid.rsplit('.', 1)[-1]}`" for uid in results[-1].rfm_path)
            + ".",
        ]
    return "\n".join(lines) + "\n"


def replace_section(document: str, section: str) -> str:
    """document with the text between the bench markers replaced (appended if absent)."""
    block = f"{DOCS_START}\n{section}{DOCS_END}"
    start, end = document.find(DOCS_START), document.find(DOCS_END)
    if start == -1 or end == -1 or end < start:
        return document.rstrip("\n") + ("\n\n" if document.strip() else "") + block + "\n"
    return document[:start] + block + document[end + len(DOCS_END) :]


def write_docs(path: Path, section: str) -> None:
    try:
        document = path.read_text() if path.exists() else "# Benchmarks\n"
        path.write_text(replace_section(document, section))
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error}") from error


def result_file(work_dir: Path, tier: str) -> Path:
    return work_dir / "runs" / tier / "result.json"


def save_result(work_dir: Path, result: TierResult, run_name: str | None = None) -> None:
    result_file(work_dir, run_name or result.tier).write_text(
        json.dumps(result.__dict__, default=lambda value: value.__dict__, indent=1)
    )


def load_result(work_dir: Path, tier: str, run_name: str | None = None) -> TierResult:
    """A tier's last measured result, its RFM path recomputed from that build's manifest
    (run_name: the run's folder under <work-dir>/runs, when it is not the tier's name)."""
    path = result_file(work_dir, run_name or tier)
    try:
        item = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CommandError(f"no measured result for tier {tier} ({path}: {error})") from error
    result = TierResult(str(item["tier"]), item["customers"], dict(item["raw_rows"]))
    result.generate, result.load, result.build = (
        Measured(**item[step]) if item[step] else None for step in ("generate", "load", "build")
    )
    result.nodes = [NodeTiming(**node) for node in item["nodes"]]
    result.baselines = {name: Measured(**value) for name, value in item["baselines"].items()}
    result.daily_rows = int(item.get("daily_rows", 0))
    result.daily_load, result.daily_build = (
        Measured(**item[step]) if item.get(step) else None for step in ("daily_load", "daily_build")
    )
    result.daily_nodes = [NodeTiming(**node) for node in item.get("daily_nodes", [])]
    manifest = path.parent / "target" / "manifest.json"
    result.rfm_path = rfm_path(json.loads(manifest.read_text())) if manifest.exists() else item["rfm_path"]
    return result


def run(args: argparse.Namespace) -> int:
    work_dir: Path = args.work_dir.resolve()
    tiers = parse_tiers(args.tiers, args.with_10m)
    if args.engine == "spark":
        section = run_spark(tiers, work_dir, args.report_only)
    else:
        results: list[TierResult] = []
        for tier in tiers:
            if args.report_only:
                results.append(load_result(work_dir, tier))
                continue
            result = bench_tier(tier, work_dir, daily=not args.no_daily)
            save_result(work_dir, result)  # an interrupted run keeps the tiers measured so far
            results.append(result)
        section = report(results, machine(), args.report_only)
    print(section, end="")
    if not args.no_docs:
        docs = args.docs or DEFAULT_DOCS_OF_ENGINE[args.engine]
        write_docs(docs, section)
        progress(f"results written to {docs}")
    return 0


def run_spark(tiers: list[str], work_dir: Path, report_only: bool) -> str:
    from segments import bench_spark

    results = [bench_spark.measured_tier(tier, work_dir, report_only) for tier in tiers]
    info = machine()
    info.update({name: metadata.version(name) for name in ("pyspark", "dbt-spark")})
    return bench_spark.report(results, info, work_dir)
