"""What a change does to the segments: two warehouses built on the same raw data and as-of
date (the base and the working tree's), compared mart by mart.

Both files are attached read-only to one in-memory DuckDB, so every comparison is one SQL
query over both: segment sizes per family, who moved from which segment to which, the RFM
cut-offs, a sample of the customers who moved with their feature values, and the drift
gate's verdict on the change (the project's PSI thresholds applied to the base's shares as
the expected and the new shares as the actual). Customers are matched on ``customer_key``:
the base warehouse is a copy of the new one (segments.diff), so both hold the same key secret.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

# families whose customers are in exactly one segment: a from-to matrix; every other family
# (behavioural, and the predictive families) is reported as customers in and out of each segment
MATRIX_FAMILIES = ("rfm", "lifecycle")
NONE = "(none)"
# the features shown for a customer who moved (customer_segments' scores, customer_rfm's values)
SCORE_COLUMNS = ("r_score", "f_score", "m_score", "fm_score")
DEFAULT_SAMPLE = 10


@dataclass
class SizeChange:
    segment_family: str
    segment_name: str
    base_customers: int
    new_customers: int
    base_share: float
    new_share: float


@dataclass
class Move:
    segment_family: str
    from_segment: str
    to_segment: str
    customers: int


@dataclass
class InOut:
    segment_family: str
    segment_name: str
    entered: int
    left: int
    stayed: int


@dataclass
class CutoffChange:
    measure: str
    score: int
    base_min: float | None
    base_max: float | None
    new_min: float | None
    new_max: float | None


@dataclass
class Mover:
    customer_key: str
    moves: list[str]
    features: dict[str, tuple[Any, Any]]  # name -> (base, new)


@dataclass
class DriftVerdict:
    segment_family: str
    segment_name: str | None  # None: the family's PSI over its segments
    psi: float
    status: str


@dataclass
class Comparison:
    as_of_date: dt.date
    customers: int
    moved_customers: int
    sizes: list[SizeChange] = field(default_factory=list)
    matrix: list[Move] = field(default_factory=list)
    in_out: list[InOut] = field(default_factory=list)
    cutoffs: list[CutoffChange] = field(default_factory=list)
    movers: list[Mover] = field(default_factory=list)
    drift: list[DriftVerdict] = field(default_factory=list)
    drift_status: str = "ok"

    @property
    def moved_share(self) -> float:
        return self.moved_customers / self.customers if self.customers else 0.0

    def changed_sizes(self) -> list[SizeChange]:
        """The segments whose customer count differs between the two versions."""
        return [size for size in self.sizes if size.base_customers != size.new_customers]

    def moves(self, family: str) -> list[Move]:
        """The off-diagonal cells of a matrix family: customers who changed segment."""
        return [m for m in self.matrix if m.segment_family == family and m.from_segment != m.to_segment]

    def entered_or_left(self) -> list[InOut]:
        """The segments of the other families that someone entered or left."""
        return [row for row in self.in_out if row.entered or row.left]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of_date"] = self.as_of_date.isoformat()
        data["moved_share"] = self.moved_share
        return data


def compare(
    base: Path, new: Path, as_of: dt.date, thresholds: Mapping[str, Any], sample: int = DEFAULT_SAMPLE
) -> Comparison:
    """Compare the segment marts of the two warehouses as of the date."""
    with duckdb.connect() as connection:
        connection.execute(f"attach '{base}' as base (read_only)")
        connection.execute(f"attach '{new}' as new (read_only)")
        connection.execute(MEMBERSHIPS, [as_of, as_of])
        connection.execute(MOVED)
        customers, moved = connection.execute(
            "select count(distinct customer_key), count(distinct customer_key) filter (where is_moved) from moved"
        ).fetchall()[0]
        comparison = Comparison(as_of, int(customers), int(moved or 0))
        comparison.sizes = [SizeChange(*row) for row in connection.execute(SIZES, [as_of, as_of]).fetchall()]
        comparison.matrix = [Move(*row) for row in connection.execute(MATRIX, [list(MATRIX_FAMILIES)]).fetchall()]
        comparison.in_out = [InOut(*row) for row in connection.execute(IN_OUT, [list(MATRIX_FAMILIES)]).fetchall()]
        comparison.cutoffs = [CutoffChange(*row) for row in connection.execute(CUTOFFS, [as_of, as_of]).fetchall()]
        comparison.movers = movers(connection, as_of, sample)
    comparison.drift = drift_verdicts(comparison.sizes, thresholds)
    comparison.drift_status = worst(verdict.status for verdict in comparison.drift)
    return comparison


# one row per customer, family and segment on either side, and whether the customer's
# segments of any family differ between the two
MEMBERSHIPS = """
create temp table memberships as
with
base_rows as (
    select customer_key, segment_family, segment_name
    from base.marts.segment_memberships
    where as_of_date = ?
),
new_rows as (
    select customer_key, segment_family, segment_name
    from new.marts.segment_memberships
    where as_of_date = ?
)
select
    coalesce(base_rows.customer_key, new_rows.customer_key) as customer_key,
    coalesce(base_rows.segment_family, new_rows.segment_family) as segment_family,
    coalesce(base_rows.segment_name, new_rows.segment_name) as segment_name,
    base_rows.customer_key is not null as in_base,
    new_rows.customer_key is not null as in_new,
from base_rows
full outer join new_rows
    on base_rows.customer_key = new_rows.customer_key
    and base_rows.segment_family = new_rows.segment_family
    and base_rows.segment_name is not distinct from new_rows.segment_name
"""

MOVED = """
create temp table moved as
select customer_key, bool_or(in_base <> in_new) as is_moved
from memberships
group by customer_key
"""

SIZES = """
with
base_sizes as (select * from base.marts.segment_sizes where as_of_date = ?),
new_sizes as (select * from new.marts.segment_sizes where as_of_date = ?)
select
    coalesce(base_sizes.segment_family, new_sizes.segment_family) as segment_family,
    coalesce(base_sizes.segment_name, new_sizes.segment_name) as segment_name,
    coalesce(base_sizes.customers, 0) as base_customers,
    coalesce(new_sizes.customers, 0) as new_customers,
    coalesce(base_sizes.share, 0) as base_share,
    coalesce(new_sizes.share, 0) as new_share,
from base_sizes
full outer join new_sizes
    on base_sizes.segment_family = new_sizes.segment_family
    and base_sizes.segment_name is not distinct from new_sizes.segment_name
order by segment_family, segment_name
"""

# each customer's one segment per matrix family on each side ((none) when absent there)
MATRIX = """
with
sides as (
    select
        customer_key,
        segment_family,
        coalesce(max(segment_name) filter (where in_base), '(none)') as from_segment,
        coalesce(max(segment_name) filter (where in_new), '(none)') as to_segment,
    from memberships
    where list_contains(?, segment_family)
    group by customer_key, segment_family
)
select segment_family, from_segment, to_segment, count(*) as customers
from sides
group by all
order by segment_family, from_segment, to_segment
"""

IN_OUT = """
select
    segment_family,
    segment_name,
    count(*) filter (where in_new and not in_base) as entered,
    count(*) filter (where in_base and not in_new) as left,
    count(*) filter (where in_base and in_new) as stayed,
from memberships
where not list_contains(?, segment_family)
group by all
order by segment_family, segment_name
"""

CUTOFFS = """
with
base_cutoffs as (select * from base.marts.rfm_cutoffs where as_of_date = ?),
new_cutoffs as (select * from new.marts.rfm_cutoffs where as_of_date = ?)
select
    coalesce(base_cutoffs.measure, new_cutoffs.measure) as measure,
    coalesce(base_cutoffs.score, new_cutoffs.score) as score,
    base_cutoffs.min_value,
    base_cutoffs.max_value,
    new_cutoffs.min_value,
    new_cutoffs.max_value,
from base_cutoffs
full outer join new_cutoffs
    on base_cutoffs.measure = new_cutoffs.measure
    and base_cutoffs.score = new_cutoffs.score
where base_cutoffs.min_value is distinct from new_cutoffs.min_value
    or base_cutoffs.max_value is distinct from new_cutoffs.max_value
order by measure, score
"""


def movers(connection: duckdb.DuckDBPyConnection, as_of: dt.date, sample: int) -> list[Mover]:
    """The first customers who moved (by key, which is a salted hash: a fair sample), each with
    what moved and the feature values of both sides (scores and customer_rfm's measures)."""
    keys = [
        str(row[0])
        for row in connection.execute(
            "select customer_key from moved where is_moved order by customer_key limit ?", [sample]
        ).fetchall()
    ]
    if not keys:
        return []
    moves: dict[str, list[str]] = {key: [] for key in keys}
    for key, family, name, in_base in connection.execute(
        "select customer_key, segment_family, segment_name, in_base from memberships "
        "where in_base <> in_new and list_contains(?, customer_key) order by all",
        [keys],
    ).fetchall():
        moves[str(key)].append(f"{'left' if in_base else 'entered'} {family} {name}")
    features = {key: {} for key in keys}  # type: dict[str, dict[str, tuple[Any, Any]]]
    for mart, columns in (("customer_segments", SCORE_COLUMNS), ("customer_rfm", rfm_columns(connection))):
        names = ", ".join(f'"{column}"' for column in columns)
        sides = [
            connection.execute(
                f"select customer_key, {names} from {side}.marts.{mart} "
                "where as_of_date = ? and list_contains(?, customer_key)",
                [as_of, keys],
            ).fetchall()
            for side in ("base", "new")
        ]
        base_rows = {str(row[0]): row[1:] for row in sides[0]}
        new_rows = {str(row[0]): row[1:] for row in sides[1]}
        for key in keys:
            before, after = base_rows.get(key), new_rows.get(key)
            for index, column in enumerate(columns):
                features[key][column] = (
                    None if before is None else before[index],
                    None if after is None else after[index],
                )
    return [Mover(key, moves[key], features[key]) for key in keys]


def rfm_columns(connection: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """customer_rfm's numeric measures present on both sides (not its keys or timestamps)."""
    rows = connection.execute("""
        select column_name
        from duckdb_columns()
        where schema_name = 'marts' and table_name = 'customer_rfm'
            and (data_type in ('BIGINT', 'INTEGER', 'DOUBLE', 'HUGEINT') or data_type like 'DECIMAL%')
        group by column_name
        having count(distinct database_name) filter (where database_name in ('base', 'new')) = 2
    """).fetchall()
    return tuple(sorted(str(row[0]) for row in rows))


def psi(actual: list[float], expected: list[float], floor: float) -> float:
    """The population stability index, as segment_drift computes it: shares floored first."""
    return sum(
        (max(a, floor) - max(e, floor)) * math.log(max(a, floor) / max(e, floor))
        for a, e in zip(actual, expected, strict=True)
    )


def status_of(value: float, family: str, thresholds: Mapping[str, Any]) -> str:
    """ok, warn or fail as segment_drift decides: above the fail threshold fails, except in the
    warn-only families (segments re-discovered on every fit), which warn."""
    if value > float(thresholds["drift_psi_fail"]):
        return "warn" if family in thresholds["drift_warn_only_families"] else "fail"
    return "warn" if value > float(thresholds["drift_psi_warn"]) else "ok"


def drift_verdicts(sizes: list[SizeChange], thresholds: Mapping[str, Any]) -> list[DriftVerdict]:
    """PSI of the new shares against the base's, as segment_drift measures a family: over its
    segments for a partition family (var drift_partition_families), two-bin (in, not in) for
    each segment of the others."""
    floor = float(thresholds["drift_share_floor"])
    partitions = set(thresholds["drift_partition_families"])
    verdicts: list[DriftVerdict] = []
    for family in sorted({size.segment_family for size in sizes}):
        rows = [size for size in sizes if size.segment_family == family]
        if family in partitions:
            value = psi([row.new_share for row in rows], [row.base_share for row in rows], floor)
            verdicts.append(DriftVerdict(family, None, value, status_of(value, family, thresholds)))
            continue
        for row in rows:
            value = psi([row.new_share, 1 - row.new_share], [row.base_share, 1 - row.base_share], floor)
            verdicts.append(DriftVerdict(family, row.segment_name, value, status_of(value, family, thresholds)))
    return verdicts


def worst(statuses: Any) -> str:
    order = ("ok", "warn", "fail")
    return max(statuses, key=order.index, default="ok")
