"""Time the load and the dbt build of each layer on a generated raw folder: prints figures.

    python benchmarks/bench_build.py --raw /tmp/generated_1m --database /tmp/bench.duckdb
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LAYERS = {
    "staging": "path:models/staging",
    "identity": "path:models/intermediate/identity path:models/marts/identity",
    "features": "path:models/intermediate/features path:models/marts/features",
    "segments": "path:models/intermediate/segments path:models/marts/segments",
}


def timed(command: list[str], environment: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(command, cwd=PROJECT_ROOT, env=environment, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--database", type=Path, default=Path("/tmp/bench_build.duckdb"))
    args = parser.parse_args()
    environment = dict(os.environ, SEGMENTS_DUCKDB_PATH=str(args.database),
                       DBT_PROFILES_DIR=str(PROJECT_ROOT / "profiles"))
    args.database.unlink(missing_ok=True)
    print(f"load: {timed([str(BIN / 'segments'), 'load', '--from', str(args.raw)], environment):.1f} s")
    print(f"seed: {timed([str(BIN / 'dbt'), 'seed', '-q'], environment):.1f} s")
    for layer, selector in LAYERS.items():
        seconds = timed([str(BIN / "dbt"), "run", "-q", "--select", *selector.split()], environment)
        print(f"dbt run {layer}: {seconds:.1f} s")
    print(f"peak memory of children (max RSS): "
          f"{__import__('resource').getrusage(__import__('resource').RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
