"""Write every table of the given Spark schemas to OUT/<schema>.<table>.parquet (run as a script).

The tests read Spark's results with pyarrow, outside the JVM: ``python spark_export.py OUT
schema ...`` opens the spark target's warehouse (SEGMENTS_SPARK_DIR) as segments load does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq

from segments.spark_load import session


def main(out: Path, schemas: list[str]) -> None:
    spark = session()
    out.mkdir(parents=True, exist_ok=True)
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        for table in spark.catalog.listTables(schema):
            if table.isTemporary:
                continue
            pq.write_table(spark.table(f"{schema}.{table.name}").toArrow(), out / f"{schema}.{table.name}.parquet")
    spark.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
