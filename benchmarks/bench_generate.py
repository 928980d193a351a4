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
    parser.add_argument("--chunk-customers", type=int, default=None, help="passed on (default: the generator's)")
    args = parser.parse_args()
    chunking = [] if args.chunk_customers is None else ["--chunk-customers", str(args.chunk_customers)]
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "segments.cli",
            "generate",
            "--customers",
            str(args.customers),
            "--seed",
            str(args.seed),
            "--out",
            str(args.out),
            *chunking,
        ],
        check=True,
    )
    elapsed = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kib = usage.ru_maxrss
    print(f"customers: {args.customers:,}")
    print(f"wall time: {elapsed:.1f} s (user {usage.ru_utime:.1f} s, system {usage.ru_stime:.1f} s)")
    print(f"peak memory (child max RSS): {peak_kib / 1024 / 1024:.2f} GiB")
    total = 0
    for path in sorted(args.out.glob("*.parquet")):
        rows = duckdb.execute(f"select count(*) from '{path}'").fetchall()[0][0]
        total += rows
        print(f"  {path.stem}: {rows:,} rows")
    print(f"  total: {total:,} rows")
    size = sum(path.stat().st_size for path in args.out.rglob("*") if path.is_file())
    print(f"on disk: {size / 1024**3:.2f} GiB")
    # order volume over the window (the generator's default, to 2026-06-30): orders of each
    # calendar month (distinct ids, future timestamps left out), first and last month, ratio
    months = duckdb.execute(
        f"select date_trunc('month', ordered_at) as month, count(distinct order_id) from '{args.out}/orders.parquet' "
        "where ordered_at < timestamp '2026-07-01' group by 1 order by 1"
    ).fetchall()
    if months:
        (first_month, first), (last_month, last) = months[0], months[-1]
        print(f"orders in {first_month:%Y-%m}: {first:,}, in {last_month:%Y-%m}: {last:,} (ratio {last / first:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
