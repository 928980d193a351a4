"""Time the generator and measure its peak memory: prints figures, asserts nothing.

    python benchmarks/bench_generate.py --customers 1000000 --out /tmp/generated_1m
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/generated_benchmark"))
    args = parser.parse_args()
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "segments.cli", "generate", "--customers", str(args.customers),
         "--seed", str(args.seed), "--out", str(args.out)],
        check=True,
    )
    elapsed = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"customers: {args.customers:,}")
    print(f"wall time: {elapsed:.1f} s")
    print(f"peak memory (child max RSS): {peak_kib / 1024 / 1024:.2f} GiB")
    total = 0
    for path in sorted(args.out.glob("*.parquet")):
        row = duckdb.execute(f"select count(*) from '{path}'").fetchone()
        rows = int(row[0]) if row is not None else 0
        total += rows
        print(f"  {path.stem}: {rows:,} rows")
    print(f"  total: {total:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
