"""Time the load, the dbt run of each layer and the dbt tests on a raw folder: prints figures.

python benchmarks/bench_build.py --raw /tmp/generated_1m --database /tmp/bench.duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# the selectors of selectors.yml, one per layer, in build order
LAYERS = ("staging", "identity", "features", "segments", "quality")


def timed(command: list[str], environment: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(command, cwd=PROJECT_ROOT, env=environment, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--database", type=Path, default=Path("/tmp/bench_build.duckdb"))
    args = parser.parse_args()
    target = Path(tempfile.mkdtemp(prefix="bench_build_"))
    environment = dict(
        os.environ,
        SEGMENTS_DUCKDB_PATH=str(args.database),
        DBT_PROFILES_DIR=str(PROJECT_ROOT / "profiles"),
        DBT_TARGET_PATH=str(target / "target"),
        DBT_LOG_PATH=str(target / "logs"),
    )
    args.database.unlink(missing_ok=True)
    print(f"load: {timed([str(BIN / 'segments'), 'load', '--from', str(args.raw)], environment):.1f} s")
    print(f"seed: {timed([str(BIN / 'dbt'), 'seed', '-q'], environment):.1f} s")
    for layer in LAYERS:
        seconds = timed([str(BIN / "dbt"), "run", "-q", "--selector", layer], environment)
        print(f"dbt run {layer}: {seconds:.1f} s")
        results = json.loads((target / "target" / "run_results.json").read_text())["results"]
        for result in sorted(results, key=lambda result: -result["execution_time"])[:3]:
            print(f"    {result['unique_id'].rsplit('.', 1)[-1]}: {result['execution_time']:.1f} s")
    started = time.monotonic()
    tests = subprocess.run(
        [str(BIN / "dbt"), "test", "-q"], cwd=PROJECT_ROOT, env=environment, check=False, stdout=subprocess.DEVNULL
    )
    results = json.loads((target / "target" / "run_results.json").read_text())["results"]
    failed = [result["unique_id"] for result in results if result["status"] in ("fail", "error")]
    print(
        f"dbt test: {time.monotonic() - started:.1f} s, {len(results)} tests, "
        f"{len(failed)} failed{': ' + ', '.join(failed) if failed else ''} (exit {tests.returncode})"
    )
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(f"peak memory of children (max RSS): {peak_kib / 1024**2:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
