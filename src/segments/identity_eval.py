"""``segments identity-eval``: score identity resolution against the generator's ground truth.

Pairwise scores over identifiers: a pair of identifiers is predicted together when it has
one customer_key, and truly together when it has one person. Precision = true pairs found /
pairs predicted, recall = true pairs found / true pairs. Pairs are counted from cluster
sizes (n * (n - 1) / 2 per cell), never enumerated.

Left out: identifiers the truth marks as shared (they belong to several people, so no
answer is right), every identifier of a person who asked for erasure (named in
raw.erasure_requests: the warehouse must forget them), and identifiers that no raw record
links to any other identifier (a cookie that never logged in: no rule can place it). The
linkable set is read from the raw tables, not from the models, so an edge type the models
drop shows up as lost recall. An evaluated identifier the warehouse gave no customer counts
as a customer of its own.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import duckdb

from segments.errors import CommandError
from segments.sources import file_literal
from segments.warehouse import add_database_argument, resolve_database


@dataclass(frozen=True)
class IdentityScores:
    identifiers: int
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int
    over_merged_customers: int
    under_merged_people: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_argument(parser)
    parser.add_argument("--truth", type=Path, required=True, help="the generator's _truth/identifiers.parquet")
    parser.add_argument("--min-precision", type=float, default=None)
    parser.add_argument("--min-recall", type=float, default=None)


def score_assignments(connection: duckdb.DuckDBPyConnection) -> IdentityScores:
    """Score table `assignments(identifier_key, customer_key, person_id)`."""
    row = connection.execute(
        """
        with cells as (
            select customer_key, person_id, count(*) as size from assignments group by all
        ),
        customers as (
            select customer_key, count(*) as size, count(distinct person_id) as people
            from assignments group by customer_key
        ),
        people as (
            select person_id, count(*) as size, count(distinct customer_key) as customers
            from assignments group by person_id
        )
        select
            (select count(*) from assignments),
            (select coalesce(sum(size * (size - 1) // 2), 0) from customers),
            (select coalesce(sum(size * (size - 1) // 2), 0) from people),
            (select coalesce(sum(size * (size - 1) // 2), 0) from cells),
            (select count(*) from customers where people > 1),
            (select count(*) from people where customers > 1)
        """
    ).fetchall()[0]
    return IdentityScores(*(int(value) for value in row))


def evaluate(database: Path, truth: Path) -> IdentityScores:
    if not database.exists():
        raise CommandError(f"warehouse {database} does not exist: run make build first")
    if not truth.exists():
        raise CommandError(f"ground truth {truth} does not exist")
    connection = duckdb.connect(str(database), read_only=True)
    truth_path = str(truth).replace("'", "''")
    try:
        connection.execute(
            f"""
            create temp table assignments as
            with raw_links as (
                -- every raw record carrying two identifiers, normalised here, independently
                -- of the models: CRM rows, orders, logged-in web and app events
                select trim(customer_id) as customer_id, 'email' as linked_type,
                    lower(trim(email)) as linked_value
                from raw.customers
                union all
                select trim(customer_id), 'phone', nullif(regexp_replace(phone, '[^0-9]', '', 'g'), '')
                from raw.customers
                union all
                select trim(customer_id), 'email', lower(trim(email)) from raw.orders
                union all
                select trim(user_id), 'anonymous_id', trim(anonymous_id) from raw.web_events
                union all
                select trim(user_id), 'device_id', trim(device_id) from raw.app_events
            ),
            linked as (
                select 'customer_id' as identifier_type, customer_id as identifier_value
                from raw_links
                where nullif(customer_id, '') is not null and nullif(linked_value, '') is not null
                union
                select linked_type, linked_value
                from raw_links
                where nullif(customer_id, '') is not null and nullif(linked_value, '') is not null
            ),
            requested as (
                select 'customer_id' as identifier_type, trim(customer_id) as identifier_value
                from raw.erasure_requests
                union
                select 'email', lower(trim(email)) from raw.erasure_requests
            ),
            erased_people as (
                select distinct truth_rows.person_id
                from read_parquet({file_literal(truth_path)}) as truth_rows
                inner join requested using (identifier_type, identifier_value)
            ),
            truth as (
                select * from read_parquet({file_literal(truth_path)})
                where not is_shared and person_id not in (select person_id from erased_people)
            )
            select
                truth.identifier_type || ':' || truth.identifier_value as identifier_key,
                coalesce(
                    predicted.customer_key,
                    'unassigned:' || truth.identifier_type || ':' || truth.identifier_value
                ) as customer_key,
                truth.person_id
            from truth
            inner join linked using (identifier_type, identifier_value)
            left join restricted.customer_identifiers as predicted using (identifier_type, identifier_value)
            """
        )
    except duckdb.CatalogException as error:
        raise CommandError(f"{database} has no identity models yet: {error}") from error
    scores = score_assignments(connection)
    connection.close()
    return scores


def run(args: argparse.Namespace) -> int:
    scores = evaluate(resolve_database(args.database), args.truth)
    print(f"evaluated identifiers: {scores.identifiers:,}")
    print(
        f"pairs predicted: {scores.predicted_pairs:,}, true: {scores.true_pairs:,}, correct: {scores.correct_pairs:,}"
    )
    print(f"precision: {scores.precision:.4f}")
    print(f"recall:    {scores.recall:.4f}")
    print(f"f1:        {scores.f1:.4f}")
    print(f"over-merged customers (more than one person): {scores.over_merged_customers:,}")
    print(f"under-merged people (split over customers):   {scores.under_merged_people:,}")
    failed = (args.min_precision is not None and scores.precision < args.min_precision) or (
        args.min_recall is not None and scores.recall < args.min_recall
    )
    return 1 if failed else 0
